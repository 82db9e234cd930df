/**
 * The SAML routes (DESIGN.md §4), one function:
 *   GET  /v1/saml/{provider}/metadata   SP metadata XML
 *   GET  /v1/saml/{provider}/login      302 to the IdP with an AuthnRequest (?target=console|credentials)
 *   POST /v1/saml/{provider}/acs        validate ▸ decide ▸ vend ▸ audit ▸ console / chooser / credentials
 *   POST /v1/saml/{provider}/select     the role chooser's answer
 * Only `authenticate` is SAML-specific; decide, vend and audit are the OIDC path's
 * (issueForIdentity). Every failure is a generic HTML page; the reason is in the audit record.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type ClaimValue, type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer } from '#shared/auth/principal.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import type { Mapping, Provider, SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import {
  auditRefusal,
  type IdpNamedSession,
  type IssueDeps,
  type IssueFlow,
  type IssueOutcome,
  issueForIdentity,
} from '#shared/credentials/issue.ts';
import {
  AppError,
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  UpstreamError,
  ValidationError,
} from '#shared/errors.ts';
import type { HttpEvent, HttpResult, HttpRoute } from '#shared/http/middleware.ts';
import { requestIdOf } from '#shared/http/problem-json.ts';
import { vendCredentials, vendWithSaml } from '#shared/sts/vend.ts';
import { consoleDestination, consoleSignInUrl, FederationError } from './console.ts';
import { chooserPage, credentialsPage, errorPage } from './pages.ts';
import {
  type AssertedRole,
  AWS_SAML_ENDPOINT,
  assertedRoles,
  nativeSession,
  pinnedCertificates,
  type SpUrls,
  samlIdentity,
  spUrls,
} from './provider.ts';
import { MAX_SAML_RESPONSE_BYTES, samlRefusal, validateSamlResponse } from './response.ts';
import { authnRequestUrl, type SpSigningKey, spMetadataXml } from './sp.ts';
import { type LoginTarget, type SamlStateStore, sha256Hex } from './state.ts';

/** A posted form with a SAMLResponse at its size cap, plus RelayState and url-encoding overhead. */
export const MAX_FORM_BYTES = Math.ceil(MAX_SAML_RESPONSE_BYTES * 1.5) + 4 * 1024;
/** AuthnRequest ids wait this long for the IdP's answer (the user is typing a password). */
export const LOGIN_TTL_SECONDS = 600;
/** The role chooser's selection token lives this long. */
export const SELECTION_TTL_SECONDS = 300;
/** Our opaque RelayState: 32 random bytes, base64url. Nothing else is ever accepted from our logins. */
const RELAY_STATE = /^[A-Za-z0-9_-]{43}$/;
const SELECTION_COOKIE = 'tvm_select';
const LOGIN_COOKIE = 'tvm_login';
const TARGETS: ReadonlySet<string> = new Set(['console', 'credentials']);

export interface SamlDeps extends IssueDeps {
  state: SamlStateStore;
  /** The deployment's public base URL; derived from the request's API Gateway domain when unset. */
  baseUrl?: string;
  federation: { url: string; timeoutMs: number; fetch?: typeof fetch };
  /** The SP request-signing key, for providers that set `signAuthnRequests`. */
  signingKey?: () => Promise<SpSigningKey | undefined>;
  /** Cookies get `Secure` unless the local stage serves plain http. */
  secureCookies: boolean;
  random?: (bytes: number) => string;
}

type Action = 'metadata' | 'login' | 'acs' | 'select';
const PATH = /\/v1\/saml\/([^/]+)\/(metadata|login|acs|select)$/;

function refusal(reason: string, status: 400 | 401 | 403 = 401): AppError {
  if (status === 403) return new ForbiddenError(reason);
  if (status === 400) return Object.assign(new ValidationError(reason), { reason });
  return new AuthenticationError(reason);
}

function randomToken(deps: SamlDeps, bytes: number): string {
  return deps.random?.(bytes) ?? randomBytes(bytes).toString('base64url');
}

function baseUrlOf(deps: SamlDeps, event: HttpEvent): string {
  if (deps.baseUrl !== undefined && deps.baseUrl !== '') return deps.baseUrl;
  return `https://${event.requestContext.domainName}`;
}

/** The SAML provider of the path, or a 404 (an OIDC provider has no SAML endpoints). */
function samlProviderOf(config: TvmConfig, id: string): SamlProvider {
  const provider = config.providers.find((candidate) => candidate.id === id);
  if (provider?.type !== 'saml')
    throw Object.assign(new NotFoundError(), { reason: 'unknown_provider' });
  return provider;
}

/** The url-encoded form, capped before anything is decoded. */
function readForm(event: HttpEvent, maxBytes: number): URLSearchParams {
  const raw = event.body ?? '';
  const size = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw);
  if (size > maxBytes) {
    throw new PayloadTooLargeError(
      `the form is limited to ${maxBytes} bytes`,
      'saml_response_too_large',
    );
  }
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const type = event.headers?.['content-type'] ?? '';
  if (text !== '' && !/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw refusal('unsupported_content_type', 400);
  }
  return new URLSearchParams(text);
}

function cookie(event: HttpEvent, name: string): string | undefined {
  const headers = [...(event.cookies ?? []), ...(event.headers?.cookie ?? '').split(';')];
  for (const header of headers) {
    const [key, ...rest] = header.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function noStoreRedirect(location: string, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode: 302,
    headers: {
      location,
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'referrer-policy': 'no-referrer',
      ...headers,
    },
    body: '',
  };
}

/** Claims as stored with a pending selection, back into a frozen null-prototype record. */
function restoredClaims(value: unknown): Identity['claims'] {
  return toClaims(
    typeof value === 'object' && value !== null ? (value as Record<string, ClaimValue>) : {},
  );
}

interface LoginState {
  provider?: SamlProvider;
  target: LoginTarget;
  roles: AssertedRole[];
  samlResponse?: string;
  assertionId?: string;
  /** Native mode: what the assertion names the session (the audit record stores these). */
  named?: IdpNamedSession;
}

/** The parts of the flow both the ACS and the chooser's answer share. */
function sharedFlow(deps: SamlDeps, state: LoginState): Omit<IssueFlow, 'authenticate'> {
  const native = () => state.provider?.mode === 'native';
  return {
    allowMapping: (mapping: Mapping) =>
      !native() || state.roles.some((role) => role.roleArn === mapping.roleArn),
    offerChoice: (matched: readonly Mapping[], provider: Provider) =>
      provider.type === 'saml' && provider.ambiguity === 'choose' && matched.length > 1,
    // A role-chained session signs in to the console only without DurationSeconds.
    omitDuration: () => state.target === 'console' && !native(),
    // Native: the IdP names the session; the decision's would-be names never reach STS.
    idpNamedSession: () => (native() ? (state.named ?? {}) : undefined),
    vend: async (decision, options) => {
      if (!native()) return vendCredentials(deps.sts, decision, options);
      const role = state.roles.find((candidate) => candidate.roleArn === decision.roleArn);
      if (role === undefined || state.samlResponse === undefined) {
        throw new ForbiddenError('role_not_asserted');
      }
      return vendWithSaml(
        deps.sts,
        decision,
        { principalArn: role.principalArn, samlResponse: state.samlResponse },
        options,
      );
    },
  };
}

export function samlRoute(deps: SamlDeps): HttpRoute {
  /** The chooser's CSP must let its answer redirect here (the console target). */
  const federationOrigin = new URL(deps.federation.url).origin;
  async function metadata(providerId: string, urlsOf: (p: SamlProvider) => SpUrls) {
    const { config } = await deps.config.require();
    const provider = samlProviderOf(config, providerId);
    const signingKey = provider.signAuthnRequests ? await deps.signingKey?.() : undefined;
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/samlmetadata+xml', 'cache-control': 'max-age=300' },
      body: spMetadataXml(provider, urlsOf(provider), signingKey),
    };
  }

  async function login(event: HttpEvent, providerId: string, urlsOf: (p: SamlProvider) => SpUrls) {
    const target = event.queryStringParameters?.target ?? 'console';
    if (!TARGETS.has(target)) throw refusal('invalid_target', 400);
    const { config } = await deps.config.require();
    const provider = samlProviderOf(config, providerId);
    const signingKey = provider.signAuthnRequests ? await deps.signingKey?.() : undefined;
    if (provider.signAuthnRequests && signingKey === undefined) {
      // Fail closed: the IdP expects signed requests and would refuse an unsigned one anyway.
      throw new UpstreamError(
        new Error('signAuthnRequests is set but no SP signing key is configured'),
      );
    }
    const requestId = `_${randomBytes(20).toString('hex')}`;
    const relayState = randomToken(deps, 32);
    // One value per browser, kept while it is fresh, so that logins in two tabs both work.
    const existing = cookie(event, LOGIN_COOKIE);
    const browser =
      existing !== undefined && RELAY_STATE.test(existing) ? existing : randomToken(deps, 32);
    await deps.state.saveLogin(requestId, {
      provider: provider.id,
      target: target as LoginTarget,
      relayStateHash: sha256Hex(relayState),
      browserHash: sha256Hex(browser),
      expiresAt: Math.floor(deps.now().getTime() / 1000) + LOGIN_TTL_SECONDS,
    });
    const urls = urlsOf(provider);
    const url = authnRequestUrl(provider, urls, {
      id: requestId,
      relayState,
      issueInstant: deps.now(),
      ...(signingKey === undefined ? {} : { signingKey }),
    });
    // The IdP's POST to the ACS is cross-site, so only SameSite=None (which needs Secure) is sent
    // with it; over plain http (the local stage, IdP on the same host) Lax is sent as well.
    const sameSite = deps.secureCookies ? 'SameSite=None; Secure' : 'SameSite=Lax';
    return noStoreRedirect(url, {
      'set-cookie': `${LOGIN_COOKIE}=${browser}; Path=${new URL(urls.acs).pathname}; Max-Age=${LOGIN_TTL_SECONDS}; HttpOnly; ${sameSite}`,
    });
  }

  async function deliver(
    outcome: IssueOutcome,
    state: LoginState,
    urls: SpUrls,
    requestId: string,
  ): Promise<HttpResult> {
    const provider = state.provider as SamlProvider;
    if (outcome.kind === 'choose') {
      const token = randomToken(deps, 32);
      const browser = randomToken(deps, 32);
      await deps.state.saveSelection(sha256Hex(token), {
        provider: provider.id,
        issuer: outcome.identity.issuer,
        subject: outcome.identity.subject,
        ...(outcome.identity.nameIdFormat === undefined
          ? {}
          : { nameIdFormat: outcome.identity.nameIdFormat }),
        claims: { ...outcome.identity.claims },
        target: state.target,
        mappingIds: outcome.mappings.map((mapping) => mapping.id),
        browserHash: sha256Hex(browser),
        assertionId: state.assertionId ?? '',
        ...(state.samlResponse === undefined || provider.mode !== 'native'
          ? {}
          : {
              samlResponseHash: sha256Hex(state.samlResponse),
              assertedRoles: state.roles,
              idpNamedSession: state.named ?? {},
            }),
        expiresAt: Math.floor(deps.now().getTime() / 1000) + SELECTION_TTL_SECONDS,
      });
      const selectPath = new URL(urls.select).pathname;
      const secure = deps.secureCookies ? '; Secure' : '';
      return chooserPage({
        selectUrl: urls.select,
        token,
        subject: outcome.identity.subject,
        roles: outcome.mappings.map((mapping) => ({
          mappingId: mapping.id,
          roleArn: mapping.roleArn,
          description: mapping.description,
        })),
        ...(provider.mode === 'native' && state.samlResponse !== undefined
          ? { samlResponse: state.samlResponse }
          : {}),
        redirectOrigin: federationOrigin,
        headers: {
          // Binds the choice to this browser: a token posted from anywhere else is refused.
          'set-cookie': `${SELECTION_COOKIE}=${browser}; Path=${selectPath}; Max-Age=${SELECTION_TTL_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
        },
      });
    }
    const { credentials, decision } = outcome;
    if (state.target === 'credentials') {
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
        ...(provider.mode === 'native' ? { sessionDurationSeconds: decision.durationSeconds } : {}),
        ...(deps.federation.fetch === undefined ? {} : { fetch: deps.federation.fetch }),
      });
      return noStoreRedirect(location);
    } catch (error) {
      // Audited as allowed (the session exists); the user gets a retryable page. Never the URL.
      deps.logger.error('console sign-in token could not be obtained', {
        requestId,
        reason: error instanceof FederationError ? error.reason : 'internal_error',
        accessKeyId: credentials.accessKeyId,
      });
      return errorPage(503, requestId, { 'retry-after': '5' });
    }
  }

  /** The form's own refusals, audited here; everything later is audited by issueForIdentity. */
  async function acsForm(event: HttpEvent, audit: AuditContext) {
    try {
      const form = readForm(event, MAX_FORM_BYTES);
      const relayState = form.get('RelayState') ?? '';
      // Only our own opaque reference, or (IdP-initiated) a bare target name: never a URL.
      if (relayState !== '' && !RELAY_STATE.test(relayState) && !TARGETS.has(relayState)) {
        throw refusal('relay_state_invalid', 400);
      }
      const samlResponse = (form.get('SAMLResponse') ?? '').replaceAll(/[\r\n\t ]/g, '');
      if (samlResponse === '') throw refusal('missing_saml_response', 400);
      return { relayState, samlResponse };
    } catch (error) {
      await auditRefusal(deps, audit, error);
      throw error;
    }
  }

  async function acs(event: HttpEvent, providerId: string, audit: AuditContext) {
    const { relayState, samlResponse } = await acsForm(event, audit);
    const browser = cookie(event, LOGIN_COOKIE);
    const state: LoginState = { target: 'console', roles: [], samlResponse };
    let urls: SpUrls | undefined;
    const outcome = await issueForIdentity(deps, audit, {
      ...sharedFlow(deps, state),
      authenticate: async (config) => {
        const provider = samlProviderOf(config, providerId);
        state.provider = provider;
        urls = spUrls(audit.baseUrl, provider);
        const verified = await validateSamlResponse(samlResponse, provider, {
          // Native mode: the IdP addresses the assertion to AWS, which checks it again.
          acsUrls: provider.mode === 'native' ? [urls.acs, AWS_SAML_ENDPOINT] : [urls.acs],
          audiences: [provider.spEntityId],
          certificates: pinnedCertificates(provider),
          now: deps.now(),
        });
        state.assertionId = verified.id;
        // Single use, even for two posts racing: a conditional put of the assertion id.
        const expiresAt =
          Math.ceil(verified.notOnOrAfter.getTime() / 1000) + provider.clockSkewSeconds;
        if (!(await deps.state.claimAssertion(principalIssuer(provider), verified.id, expiresAt))) {
          throw samlRefusal('replayed');
        }
        if (verified.inResponseTo !== undefined) {
          const pending = await deps.state.consumeLogin(
            verified.inResponseTo,
            provider.id,
            deps.now(),
          );
          if (pending === undefined) throw refusal('in_response_to_unknown');
          if (sha256Hex(relayState) !== pending.relayStateHash)
            throw refusal('relay_state_invalid');
          // Login CSRF: only the browser that started this login may finish it.
          if (browser === undefined || sha256Hex(browser) !== pending.browserHash) {
            throw refusal('login_not_bound');
          }
          state.target = pending.target;
        } else {
          // IdP-initiated (validateSamlResponse refused it unless allowIdpInitiated).
          if (RELAY_STATE.test(relayState)) throw refusal('relay_state_invalid');
          state.target = relayState === 'credentials' ? 'credentials' : 'console';
        }
        if (provider.mode === 'native') {
          state.roles = assertedRoles(verified);
          state.named = nativeSession(verified);
        }
        return samlIdentity(provider, verified);
      },
    });
    return deliver(outcome, state, urls as SpUrls, audit.requestId);
  }

  async function selectForm(event: HttpEvent, audit: AuditContext) {
    try {
      const form = readForm(event, MAX_FORM_BYTES);
      const token = form.get('token') ?? '';
      const mappingId = form.get('mapping') ?? '';
      if (!RELAY_STATE.test(token)) throw refusal('selection_invalid');
      if (!ID_PATTERN.test(mappingId)) throw refusal('invalid_mapping', 400);
      return { form, token, mappingId };
    } catch (error) {
      await auditRefusal(deps, audit, error);
      throw error;
    }
  }

  async function select(event: HttpEvent, providerId: string, audit: AuditContext) {
    const { form, token, mappingId } = await selectForm(event, audit);
    const browser = cookie(event, SELECTION_COOKIE);
    const state: LoginState = { target: 'console', roles: [] };
    let urls: SpUrls | undefined;
    const outcome = await issueForIdentity(
      deps,
      { ...audit, mappingId },
      {
        ...sharedFlow(deps, state),
        offerChoice: () => false,
        authenticate: async (config) => {
          const provider = samlProviderOf(config, providerId);
          state.provider = provider;
          urls = spUrls(audit.baseUrl, provider);
          const selection = await deps.state.consumeSelection(sha256Hex(token), deps.now());
          // Also the issuer: a choice offered for another IdP's principal is not this one's.
          if (
            selection === undefined ||
            selection.provider !== provider.id ||
            selection.issuer !== principalIssuer(provider)
          ) {
            throw refusal('selection_invalid');
          }
          // Login CSRF: a token lifted from one browser and posted from another is refused.
          if (browser === undefined || sha256Hex(browser) !== selection.browserHash) {
            throw refusal('selection_not_bound');
          }
          if (!selection.mappingIds.includes(mappingId)) throw refusal('mapping_not_allowed', 403);
          if (provider.mode === 'native') {
            const samlResponse = (form.get('SAMLResponse') ?? '').replaceAll(/[\r\n\t ]/g, '');
            if (sha256Hex(samlResponse) !== selection.samlResponseHash) {
              throw refusal('selection_invalid');
            }
            state.samlResponse = samlResponse;
            state.roles = selection.assertedRoles ?? [];
            state.named = selection.idpNamedSession ?? {};
          }
          state.target = selection.target;
          state.assertionId = selection.assertionId;
          return {
            provider: provider.id,
            issuer: selection.issuer,
            subject: selection.subject,
            ...(selection.nameIdFormat === undefined
              ? {}
              : { nameIdFormat: selection.nameIdFormat }),
            claims: restoredClaims(selection.claims),
          };
        },
      },
    );
    return deliver(outcome, state, urls as SpUrls, audit.requestId);
  }

  return async function samlHandler(event: HttpEvent, context: Context): Promise<HttpResult> {
    const requestId = requestIdOf(event, context);
    const method = event.requestContext.http.method;
    const match = PATH.exec(event.rawPath ?? '');
    const providerId = match?.[1] ?? '';
    const action = (match?.[2] ?? '') as Action;
    const audit: AuditContext = {
      requestId,
      route: `${method} /v1/saml/{provider}/${action}`,
      sourceIp: event.requestContext.http.sourceIp,
      baseUrl: baseUrlOf(deps, event),
      // Leave 1.5 s of the Lambda's time for the audit write and the answer.
      deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
    };
    const urlsOf = (provider: SamlProvider) => spUrls(audit.baseUrl, provider);
    try {
      if (match === null || !ID_PATTERN.test(providerId)) throw new NotFoundError();
      if (action === 'metadata' && method === 'GET') return await metadata(providerId, urlsOf);
      if (action === 'login' && method === 'GET') return await login(event, providerId, urlsOf);
      const posted = action === 'acs' || action === 'select';
      if (posted && method !== 'POST') {
        // e.g. a deflated response on the query string (HTTP-Redirect): only HTTP-POST is accepted.
        const error = Object.assign(
          new AppError('ERR_METHOD_NOT_ALLOWED', 405, 'Method Not Allowed'),
          {
            reason: 'binding_not_allowed',
          },
        );
        await auditRefusal(deps, audit, error);
        return errorPage(405, requestId, { allow: 'POST' });
      }
      if (action === 'acs') return await acs(event, providerId, audit);
      if (action === 'select') return await select(event, providerId, audit);
      throw new NotFoundError();
    } catch (error) {
      return failurePage(deps, error, requestId);
    }
  };
}

interface AuditContext {
  requestId: string;
  route: string;
  sourceIp: string;
  baseUrl: string;
  deadline: number;
}

function failurePage(deps: SamlDeps, error: unknown, requestId: string): HttpResult {
  const status = error instanceof AppError ? error.statusCode : 500;
  const retryAfter = error instanceof AppError ? error.retryAfterSeconds : undefined;
  if (status >= 500) {
    deps.logger.error('SAML request failed', { requestId, error: error as Error });
  }
  return errorPage(
    status,
    requestId,
    retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
  );
}
