/**
 * The SAML routes (DESIGN.md §4), one function:
 *   GET  /v1/saml/{provider}/metadata   SP metadata XML
 *   GET  /v1/saml/{provider}/login      302 to the IdP with an AuthnRequest (?target=console|credentials)
 *   POST /v1/saml/{provider}/acs        the assertion ▸ issue() ▸ console / chooser / credentials
 *   POST /v1/saml/{provider}/select     the role chooser's answer
 *   GET  /v1/portal, POST /v1/portal/actions|signout   the access portal (./portal.ts)
 * Every failure is a generic HTML page; the reason is in the audit record.
 */
import type { Context } from 'aws-lambda';
import type { HttpEvent, HttpResult, HttpRoute } from '#functions/http/middleware.ts';
import { requestIdOf } from '#functions/http/problem-json.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import { auditRefusal } from '#shared/credentials/issue.ts';
import { MethodNotAllowedError, NotFoundError } from '#shared/errors.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { acs } from './acs.ts';
import { baseUrlOf, failurePage, type SamlDeps, type SamlRequest } from './http.ts';
import { login } from './login.ts';
import { metadata } from './metadata.ts';
import { PORTAL_PATH, portalRoute } from './portal.ts';
import { select } from './select.ts';

const PATH = /\/v1\/saml\/([^/]+)\/(metadata|login|acs|select)$/;

export type { SamlDeps };

export function samlRoute(deps: SamlDeps): HttpRoute {
  const federationOrigin = new URL(deps.federation.url).origin;
  // The access portal is served here too: its session starts at this function's ACS.
  const portal = portalRoute(deps);
  return async function samlHandler(event: HttpEvent, context: Context): Promise<HttpResult> {
    if (PORTAL_PATH.test(event.rawPath ?? '')) return portal(event, context);
    const requestId = requestIdOf(event, context);
    const method = event.requestContext.http.method;
    const match = PATH.exec(event.rawPath ?? '');
    const providerId = match?.[1] ?? '';
    const action = match?.[2] ?? '';
    const baseUrl = baseUrlOf(deps, event);
    const request: SamlRequest = {
      requestId,
      route: `${method} /v1/saml/{provider}/${action}`,
      sourceIp: event.requestContext.http.sourceIp,
      baseUrl,
      // Leave 1.5 s of the Lambda's time for the audit write and the answer.
      deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
      providerId,
      urls: (provider) => spUrls(baseUrl, provider),
      federationOrigin,
    };
    try {
      if (match === null || !ID_PATTERN.test(providerId)) throw new NotFoundError();
      if (action === 'metadata' && method === 'GET') return await metadata(deps, request);
      if (action === 'login' && method === 'GET') return await login(deps, request, event);
      const posted = action === 'acs' || action === 'select';
      if (posted && method !== 'POST') {
        // e.g. a deflated response on the query string (HTTP-Redirect): only HTTP-POST is accepted.
        const error = new MethodNotAllowedError(['POST'], 'binding_not_allowed');
        await auditRefusal(deps.core, request, error);
        throw error;
      }
      if (action === 'acs') return await acs(deps, request, event);
      if (action === 'select') return await select(deps, request, event);
      throw new NotFoundError();
    } catch (error) {
      // Only a well-formed provider id goes into the log line: the path is the client's.
      const where = ID_PATTERN.test(providerId) ? { providerId, route: request.route } : {};
      return failurePage(deps, error, requestId, where);
    }
  };
}
