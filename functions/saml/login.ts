/** GET /v1/saml/{provider}/login: a 302 to the IdP with an AuthnRequest (HTTP-Redirect binding). */
import { randomBytes } from 'node:crypto';
import type { HttpEvent, HttpResult } from '#functions/http/middleware.ts';
import { problemResponse } from '#functions/http/problem-json.ts';
import { auditRefusal } from '#shared/credentials/issue.ts';
import { UpstreamError, ValidationError } from '#shared/errors.ts';
import { consumeDeviceRef, type DeviceLogin } from '#shared/login/device.ts';
import { type CliStart, parseCliStart } from '#shared/login/loopback.ts';
import { OPAQUE_TOKEN, samlProviderOf } from '#shared/saml/login.ts';
import { authnRequestUrl } from '#shared/saml/sp.ts';
import { type LoginTarget, sha256Hex } from '#shared/saml/state.ts';
import {
  auditedParse,
  cookie,
  LOGIN_COOKIE,
  LOGIN_TTL_SECONDS,
  noStoreRedirect,
  randomToken,
  type SamlDeps,
  type SamlRequest,
} from './http.ts';

function targetOf(event: HttpEvent): LoginTarget {
  const target = event.queryStringParameters?.target ?? 'console';
  if (target === 'console' || target === 'credentials' || target === 'cli') return target;
  if (target === 'portal') return target;
  if (target === 'device') return target;
  throw new ValidationError('invalid_target', { reason: 'invalid_target' });
}

export async function login(
  deps: SamlDeps,
  request: SamlRequest,
  event: HttpEvent,
): Promise<HttpResult> {
  const target = targetOf(event);
  const { config } = await deps.core.config.require();
  const provider = samlProviderOf(config, request.providerId);
  let cli: CliStart | undefined;
  if (target === 'portal' && (provider.mode !== 'chained' || deps.login === undefined)) {
    // A portal session vends with AssumeRole: native mode (AssumeRoleWithSAML) has no portal.
    const error = new ValidationError('this provider has no portal', { reason: 'invalid_target' });
    await auditRefusal(deps.core, request, error);
    throw error;
  }
  let device: DeviceLogin | undefined;
  if (target === 'device') {
    // The browser's page (not JSON): the ref came from our own /v1/device redirect.
    const devices = deps.device;
    device = await (async () => {
      try {
        if (provider.mode !== 'chained' || deps.login === undefined || devices === undefined) {
          throw new ValidationError('this provider has no device login', {
            reason: 'invalid_target',
          });
        }
        const ref = await consumeDeviceRef(
          devices,
          event.queryStringParameters?.device ?? '',
          provider.id,
          deps.core.now(),
        );
        return { deviceHash: ref.deviceHash, userCode: ref.userCode };
      } catch (error) {
        await auditRefusal(deps.core, request, error);
        throw error;
      }
    })();
  }
  if (target === 'cli') {
    try {
      cli = await auditedParse(deps, request, () => {
        // A login session vends with AssumeRole: native mode (AssumeRoleWithSAML) has no CLI login.
        if (provider.mode !== 'chained' || deps.login === undefined) {
          throw new ValidationError('this provider has no terminal login', {
            reason: 'invalid_target',
          });
        }
        return parseCliStart(event.queryStringParameters ?? {});
      });
    } catch (error) {
      // The CLI's own mistakes answer as JSON (never a redirect to what it named).
      return problemResponse(error, request.requestId, deps.core.logger);
    }
  }
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
    existing !== undefined && OPAQUE_TOKEN.test(existing) ? existing : randomToken(deps, 32);
  await deps.state.saveLogin(requestId, {
    provider: provider.id,
    target,
    relayStateHash: sha256Hex(relayState),
    browserHash: sha256Hex(browser),
    ...(cli === undefined ? {} : { cli }),
    ...(device === undefined ? {} : { device }),
    expiresAt: Math.floor(deps.core.now().getTime() / 1000) + LOGIN_TTL_SECONDS,
  });
  const urls = request.urls(provider);
  const url = authnRequestUrl(provider, urls, {
    id: requestId,
    relayState,
    issueInstant: deps.core.now(),
    ...(signingKey === undefined ? {} : { signingKey }),
  });
  // The IdP's POST to the ACS is cross-site, so only SameSite=None (which needs Secure) is sent
  // with it; over plain http (the local stage, IdP on the same host) Lax is sent as well.
  const sameSite = deps.secureCookies ? 'SameSite=None; Secure' : 'SameSite=Lax';
  return noStoreRedirect(url, {
    'set-cookie': `${LOGIN_COOKIE}=${browser}; Path=${new URL(urls.acs).pathname}; Max-Age=${LOGIN_TTL_SECONDS}; HttpOnly; ${sameSite}`,
  });
}
