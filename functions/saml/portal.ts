/**
 * The access portal (docs/portal.md), served by the SAML function:
 *   GET  /v1/portal           the page (login session cookie; ?q= filters server-side)
 *   POST /v1/portal/actions   one row's Console or Access keys, through the one core issue()
 *   POST /v1/portal/signout   ends the login session
 * A `target=portal` SAML login ends at the ACS with openPortal(): a login session whose handle
 * is only ever in an HttpOnly cookie (never a URL, a log line or an audit record).
 */
import type { Context } from 'aws-lambda';
import type { HttpEvent, HttpResult, HttpRoute } from '#functions/http/middleware.ts';
import { requestIdOf } from '#functions/http/problem-json.ts';
import type { Identity } from '#shared/auth/identity.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import type { SamlProvider } from '#shared/config/schema.ts';
import { type AuditContext, auditRefusal, issue } from '#shared/credentials/issue.ts';
import { MethodNotAllowedError, NotFoundError, reasonOf, ValidationError } from '#shared/errors.ts';
import {
  authenticatePortalAction,
  openLoginSession,
  type PortalAction,
  type PortalDeps,
  portalView,
  signOut,
} from '#shared/portal/portal.ts';
import { consoleDestination, consoleSignInUrl, FederationError } from '#shared/saml/console.ts';
import type { SpUrls } from '#shared/saml/provider.ts';
import {
  baseUrlOf,
  cookie,
  failurePage,
  noStoreRedirect,
  readForm,
  type SamlDeps,
} from './http.ts';
import { credentialsPage, errorPage } from './pages.ts';
import { type PortalUrls, portalPage, signedOutPage } from './portal-page.ts';

export const PORTAL_PATH = /^\/v1\/portal(?:\/(actions|signout))?$/;
/** Three hidden fields and a button: anything larger is not our form. */
const MAX_PORTAL_FORM_BYTES = 2 * 1024;

/**
 * `__Host-` (Secure, Path=/, no Domain) so no sibling host can plant or read it; plain http
 * (the local stage only) cannot use the prefix, so there it is scoped to the portal's path.
 * SameSite=Lax: sent on the top-level GET that follows the IdP's cross-site POST, never with a
 * cross-site POST (CSRF) or a subresource.
 */
export function portalCookieName(secure: boolean): string {
  return secure ? '__Host-tvm_portal' : 'tvm_portal';
}

function portalCookie(deps: SamlDeps, value: string, maxAgeSeconds: number): string {
  const name = portalCookieName(deps.secureCookies);
  const scope = deps.secureCookies ? 'Path=/; Secure' : 'Path=/v1/portal';
  return `${name}=${value}; ${scope}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax`;
}

function clearedCookie(deps: SamlDeps): Record<string, string> {
  return { 'set-cookie': portalCookie(deps, '', 0) };
}

export function portalUrls(baseUrl: string): PortalUrls {
  const portal = `${baseUrl.replace(/\/+$/, '')}/v1/portal`;
  return { portal, actions: `${portal}/actions`, signOut: `${portal}/signout` };
}

/** The portal under the same base URL as a provider's SP endpoints. */
function portalUrlsOf(urls: SpUrls): PortalUrls {
  return portalUrls(urls.login.slice(0, urls.login.lastIndexOf('/v1/saml/')));
}

/** The ACS end of a `target=portal` login (the core admitted it): the session, its cookie, a 302. */
export async function openPortal(
  deps: SamlDeps,
  identity: Identity,
  provider: SamlProvider,
  urls: SpUrls,
): Promise<HttpResult> {
  if (deps.login === undefined || deps.portal === undefined) {
    throw new Error('a portal login without a login store');
  }
  const { handle, session } = await openLoginSession(
    { store: deps.login, now: deps.core.now, ...(deps.random ? { random: deps.random } : {}) },
    identity,
    provider,
  );
  const maxAge = session.expiresAt - Math.floor(deps.core.now().getTime() / 1000);
  return noStoreRedirect(portalUrlsOf(urls).portal, {
    'set-cookie': portalCookie(deps, handle, maxAge),
  });
}

function portalDeps(deps: SamlDeps): PortalDeps {
  if (deps.login === undefined || deps.portal === undefined) {
    // Fail closed: no store, no portal.
    throw new NotFoundError();
  }
  return {
    core: deps.core,
    store: deps.login,
    pages: deps.portal,
    ...(deps.random === undefined ? {} : { random: deps.random }),
  };
}

interface ActionForm {
  page: string;
  token: string;
  mapping: string;
  action: PortalAction;
}

function parseActionForm(event: HttpEvent, withMapping: boolean): ActionForm {
  const form = readForm(event, MAX_PORTAL_FORM_BYTES);
  const page = form.get('page') ?? '';
  const token = form.get('token') ?? '';
  if (!withMapping) return { page, token, mapping: '', action: 'keys' };
  const mapping = form.get('mapping') ?? '';
  const action = form.get('action') ?? '';
  if (!ID_PATTERN.test(mapping)) {
    throw new ValidationError('invalid_mapping', { reason: 'invalid_mapping' });
  }
  if (action !== 'console' && action !== 'keys') {
    throw new ValidationError('invalid_parameter', { reason: 'invalid_parameter' });
  }
  return { page, token, mapping, action };
}

async function parsed<T>(deps: SamlDeps, audit: AuditContext, parse: () => T): Promise<T> {
  try {
    return parse();
  } catch (error) {
    await auditRefusal(deps.core, audit, error);
    throw error;
  }
}

async function action(
  deps: SamlDeps,
  audit: AuditContext,
  event: HttpEvent,
  context: Context,
): Promise<HttpResult> {
  const portal = portalDeps(deps);
  const form = await parsed(deps, audit, () => parseActionForm(event, true));
  const handle = cookie(event, portalCookieName(deps.secureCookies));
  const outcome = await issue(
    deps.core,
    {
      ...audit,
      mappingId: form.mapping,
      // Leave 1.5 s of the Lambda's time for the audit write and the answer.
      deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
    },
    (config) =>
      authenticatePortalAction(
        { store: portal.store, pages: portal.pages, now: deps.core.now },
        { handle, page: form.page, token: form.token, target: form.mapping },
        form.action,
        config,
      ),
  );
  if (outcome.kind !== 'issued') throw new Error('a portal action never offers a choice');
  const { credentials, decision } = outcome;
  const { provider } = outcome.login.context;
  if (form.action === 'keys') {
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
      // Where the console sends the user when the session ends: back to the portal.
      issuer: portalUrls(baseUrlOf(deps, event)).portal,
      destination: consoleDestination(provider.consoleRegion),
      timeoutMs: deps.federation.timeoutMs,
      ...(deps.federation.fetch === undefined ? {} : { fetch: deps.federation.fetch }),
    });
    return noStoreRedirect(location);
  } catch (error) {
    // Audited as allowed (the session exists); the user gets a retryable page. Never the URL.
    deps.core.logger.error('console sign-in token could not be obtained', {
      requestId: audit.requestId,
      reason: error instanceof FederationError ? error.reason : 'internal_error',
      accessKeyId: credentials.accessKeyId,
    });
    return errorPage(503, audit.requestId, { 'retry-after': '5' });
  }
}

const ROUTES: Record<string, string> = {
  '': 'GET',
  actions: 'POST',
  signout: 'POST',
};

export function portalRoute(deps: SamlDeps): HttpRoute {
  const federationOrigin = new URL(deps.federation.url).origin;
  return async function portalHandler(event: HttpEvent, context: Context): Promise<HttpResult> {
    const requestId = requestIdOf(event, context);
    const method = event.requestContext.http.method;
    const match = portalPathOf(event.rawPath);
    const route = `${method} /v1/portal${match === '' || match === undefined ? '' : `/${match}`}`;
    const audit: AuditContext = {
      requestId,
      route,
      sourceIp: event.requestContext.http.sourceIp,
    };
    const baseUrl = baseUrlOf(deps, event);
    const urls = portalUrls(baseUrl);
    const handle = cookie(event, portalCookieName(deps.secureCookies));
    try {
      if (match === undefined) throw new NotFoundError();
      const allowed = ROUTES[match] ?? 'GET';
      if (method !== allowed) {
        const error = new MethodNotAllowedError([allowed]);
        await auditRefusal(deps.core, audit, error);
        const page = failurePage(deps, error, requestId);
        return { ...page, headers: { ...page.headers, allow: allowed } };
      }
      if (match === 'actions') {
        return await action(deps, audit, event, context);
      }
      if (match === 'signout') {
        const portal = portalDeps(deps);
        const form = await parsed(deps, audit, () => parseActionForm(event, false));
        await signOut(portal, audit, { handle, page: form.page, token: form.token });
        return signedOutPage(undefined, clearedCookie(deps));
      }
      const view = await portalView(
        portalDeps(deps),
        audit,
        handle ?? '',
        event.queryStringParameters?.q ?? '',
      );
      return portalPage({ view, urls, redirectOrigin: federationOrigin });
    } catch (error) {
      const page = failurePage(deps, error, requestId);
      // An ended session: the stale cookie goes too.
      if (reasonOf(error) === 'session_invalid' && handle !== undefined) {
        return { ...page, headers: { ...page.headers, ...clearedCookie(deps) } };
      }
      return page;
    }
  };
}

/** '' for the page, 'actions' or 'signout', undefined for any other path. */
function portalPathOf(path: string | undefined): string | undefined {
  const match = PORTAL_PATH.exec(path ?? '');
  if (match === null) return undefined;
  return match[1] ?? '';
}
