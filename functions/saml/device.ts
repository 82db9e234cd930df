/**
 * The ACS's answer to a device login (`target=device`, RFC 8628): the guard passed, nothing is
 * vended; the confirm page asks the person to approve the device, with a single-use form token
 * bound to this browser by a cookie that only the confirm route receives.
 */

import type { HttpResult } from '#functions/http/middleware.ts';
import { CONFIRM_PATH, confirmPage, DEVICE_COOKIE } from '#functions/login/device-pages.ts';
import type { Identity } from '#shared/auth/identity.ts';
import { CONFIRM_TTL_SECONDS, type DeviceLogin, offerConfirm } from '#shared/login/device.ts';
import type { SamlLoginContext } from '#shared/saml/login.ts';
import { randomToken, type SamlDeps } from './http.ts';
import { errorPage } from './pages.ts';

/** Where the confirm form posts: the deployment's base (the ACS URL without its SAML path). */
function confirmUrl(acs: string): string {
  return acs.replace(/\/v1\/saml\/[^/]+\/acs$/, CONFIRM_PATH);
}

export async function deviceConfirmPage(
  deps: SamlDeps,
  identity: Identity,
  context: SamlLoginContext & { device: DeviceLogin },
  requestId: string,
): Promise<HttpResult> {
  if (deps.device === undefined) throw new Error('a device login without the device store');
  const token = randomToken(deps, 32);
  const browser = randomToken(deps, 32);
  const grant = await offerConfirm(deps.device, identity, context.device, browser, {
    now: deps.core.now(),
    token,
  });
  if (grant === undefined) {
    // Expired, or answered in another tab while this person signed in.
    deps.core.logger.warn('device login no longer pending at the ACS', { requestId });
    return errorPage(400, requestId);
  }
  const secure = deps.secureCookies ? '; Secure' : '';
  return confirmPage({
    action: confirmUrl(context.urls.acs),
    token,
    subject: identity.subject,
    userCode: context.device.userCode,
    requestedFrom: grant.requestedFrom,
    requestedAt: grant.createdAt,
    sessionHours: Math.round((context.provider.loginSessionMaxSeconds / 3600) * 10) / 10,
    headers: {
      'set-cookie': `${DEVICE_COOKIE}=${browser}; Path=${CONFIRM_PATH}; Max-Age=${CONFIRM_TTL_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
    },
  });
}
