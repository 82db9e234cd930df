/**
 * Renders what the core decided, reading only the login context it handed back: a 302 into the
 * AWS console, the role chooser, or the credentials page.
 */
import type { HttpResult } from '#functions/http/middleware.ts';
import type { IssueOutcome } from '#shared/credentials/issue.ts';
import { CODE_TTL_SECONDS, principalOf } from '#shared/login/store.ts';
import { consoleDestination, consoleSignInUrl, FederationError } from '#shared/saml/console.ts';
import type { SamlLoginContext } from '#shared/saml/login.ts';
import { sha256Hex } from '#shared/saml/state.ts';
import { deviceConfirmPage } from './device.ts';
import {
  noStoreRedirect,
  randomToken,
  type SamlDeps,
  type SamlRequest,
  SELECTION_COOKIE,
  SELECTION_TTL_SECONDS,
} from './http.ts';
import { chooserPage, credentialsPage, errorPage } from './pages.ts';
import { openPortal } from './portal.ts';

export async function renderSamlOutcome(
  deps: SamlDeps,
  outcome: IssueOutcome<SamlLoginContext>,
  request: Pick<SamlRequest, 'requestId' | 'federationOrigin'>,
): Promise<HttpResult> {
  const { requestId } = request;
  const { identity, context } = outcome.login;
  const { provider, urls } = context;
  const native = context.vend.kind === 'assume-role-with-saml' ? context.vend : undefined;
  if (outcome.kind === 'admitted' && context.device !== undefined) {
    return deviceConfirmPage(deps, identity, { ...context, device: context.device }, requestId);
  }
  if (outcome.kind === 'admitted' && context.portal === true) {
    return openPortal(deps, identity, provider, urls);
  }
  if (outcome.kind === 'admitted') {
    const { cli } = context;
    if (cli === undefined || deps.login === undefined)
      throw new Error('admitted without a CLI login');
    const code = randomToken(deps, 32);
    const now = deps.core.now();
    await deps.login.saveCode(sha256Hex(code), {
      ...principalOf(identity),
      redirectUri: cli.redirectUri,
      codeChallenge: cli.codeChallenge,
      browserHash: cli.browserHash,
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + CODE_TTL_SECONDS,
    });
    // Only the loopback URI /login accepted (and stored) for this login; the code is single use.
    const location = new URL(cli.redirectUri);
    location.search = new URLSearchParams({ code, state: cli.state }).toString();
    return noStoreRedirect(location.href);
  }
  if (outcome.kind === 'choose') {
    const token = randomToken(deps, 32);
    const browser = randomToken(deps, 32);
    await deps.state.saveSelection(sha256Hex(token), {
      provider: provider.id,
      issuer: identity.issuer,
      subject: identity.subject,
      ...(identity.nameIdFormat === undefined ? {} : { nameIdFormat: identity.nameIdFormat }),
      claims: { ...identity.claims },
      target: context.target,
      mappingIds: outcome.mappings.map((mapping) => mapping.id),
      browserHash: sha256Hex(browser),
      assertionId: context.assertionId,
      ...(native === undefined
        ? {}
        : {
            samlResponseHash: sha256Hex(native.samlResponse),
            assertedRoles: [...native.roles],
            idpNamedSession: { ...native.session },
          }),
      expiresAt: Math.floor(deps.core.now().getTime() / 1000) + SELECTION_TTL_SECONDS,
    });
    const secure = deps.secureCookies ? '; Secure' : '';
    return chooserPage({
      selectUrl: urls.select,
      token,
      subject: identity.subject,
      roles: outcome.mappings.map((mapping) => ({
        mappingId: mapping.id,
        roleArn: mapping.roleArn,
        description: mapping.description,
      })),
      ...(native === undefined ? {} : { samlResponse: native.samlResponse }),
      // The chooser's CSP must let its answer redirect to the console sign-in.
      redirectOrigin: request.federationOrigin,
      headers: {
        // Binds the choice to this browser: a token posted from anywhere else is refused.
        'set-cookie': `${SELECTION_COOKIE}=${browser}; Path=${new URL(urls.select).pathname}; Max-Age=${SELECTION_TTL_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
      },
    });
  }
  const { credentials, decision } = outcome;
  if (context.target === 'credentials') {
    return credentialsPage({
      credentials,
      roleArn: decision.roleArn,
      mappingId: decision.mapping.id,
      profile: decision.mapping.id,
      region: provider.consoleRegion,
    });
  }
  try {
    const location = await consoleSignInUrl(credentials, {
      federationUrl: deps.federation.url,
      issuer: `${urls.login}?target=console`,
      destination: consoleDestination(provider.consoleRegion),
      timeoutMs: deps.federation.timeoutMs,
      ...(native === undefined ? {} : { sessionDurationSeconds: decision.durationSeconds }),
      ...(deps.federation.fetch === undefined ? {} : { fetch: deps.federation.fetch }),
    });
    return noStoreRedirect(location);
  } catch (error) {
    // Audited as allowed (the session exists); the user gets a retryable page. Never the URL.
    deps.core.logger.error('console sign-in token could not be obtained', {
      requestId,
      reason: error instanceof FederationError ? error.reason : 'internal_error',
      accessKeyId: credentials.accessKeyId,
    });
    return errorPage(503, requestId, { 'retry-after': '5' });
  }
}
