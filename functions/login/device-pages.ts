/**
 * The device flow's pages: the verification page (type the code), the confirm page after the
 * SAML sign-in, and the result. Server-rendered, no script, every value escaped, never cached or
 * framed (functions/saml/pages.ts). Nothing a client chose is shown: a phisher names no text here.
 */
import type { HttpResult } from '#functions/http/middleware.ts';
import { escapeHtml, page } from '#functions/saml/pages.ts';

/** Binds the confirm form to the browser that signed in; sent only to the confirm route. */
export const DEVICE_COOKIE = 'tvm_device';
export const CONFIRM_PATH = '/v1/device/confirm';

/** The form where the person types the code the device shows. */
export function userCodePage(options: {
  status: number;
  action: string;
  /** Prefilled from verification_uri_complete; never submitted without a click. */
  userCode?: string;
  error?: string;
  /**
   * The IdPs' origins: CSP form-action also governs where the form's answer redirects, and a
   * right code goes on (via the SAML login) to the provider's IdP.
   */
  idpOrigins?: readonly string[];
  headers?: Record<string, string>;
}): HttpResult {
  const csp = `default-src 'none'; style-src 'unsafe-inline'; form-action ${["'self'", ...(options.idpOrigins ?? [])].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;
  const error =
    options.error === undefined
      ? ''
      : `<p role="alert"><strong>${escapeHtml(options.error)}</strong></p>\n`;
  return page(
    options.status,
    'Sign in a device',
    `<h1>Sign in a device</h1>
<p>Type the code your terminal shows (for example <code>BCDF-GHJK</code>).</p>
${error}<form method="post" action="${escapeHtml(options.action)}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="16" value="${escapeHtml(options.userCode ?? '')}">
<button type="submit">Continue</button>
</form>
<p class="muted">Only continue with a code you got from a command you started yourself. Never type a code someone sent you.</p>`,
    { 'content-security-policy': csp, ...options.headers },
  );
}

/**
 * The confirm page: who the device will act as, the code, where and when it was started, and
 * the one thing to check. Approve and Deny post the single-use token.
 */
export function confirmPage(options: {
  action: string;
  token: string;
  subject: string;
  userCode: string;
  requestedFrom?: string | undefined;
  requestedAt: string;
  sessionHours: number;
  headers?: Record<string, string>;
}): HttpResult {
  const from =
    options.requestedFrom === undefined
      ? ''
      : ` from the network address <code id="requested-from">${escapeHtml(options.requestedFrom)}</code>`;
  const hours = options.sessionHours === 1 ? '1 hour' : `${options.sessionHours} hours`;
  return page(
    200,
    'Approve a device?',
    `<h1>A device asked for AWS access as you</h1>
<p>A device asked for AWS access as <strong id="subject">${escapeHtml(options.subject)}</strong>.
It shows the code <strong id="user-code">${escapeHtml(options.userCode)}</strong>; it started
at <time datetime="${escapeHtml(options.requestedAt)}">${escapeHtml(options.requestedAt)}</time>${from}.</p>
<p><strong>Continue only if you started this on your own device, just now.</strong> If someone sent
you this code or a link to this page (by mail, chat or phone), choose <em>Deny</em>: approving
gives whoever started it your AWS access for up to ${hours}.</p>
<form method="post" action="${escapeHtml(options.action)}">
<input type="hidden" name="token" value="${escapeHtml(options.token)}">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="approve">Approve</button>
</form>
<p class="muted">This page can be answered once and expires in a few minutes.</p>`,
    options.headers,
  );
}

export function decidedPage(decision: 'approved' | 'denied'): HttpResult {
  return decision === 'approved'
    ? page(
        200,
        'Device approved',
        `<h1>Device approved</h1>
<p>You can close this page and go back to your terminal.</p>`,
      )
    : page(
        200,
        'Device denied',
        `<h1>Device denied</h1>
<p>The device gets no access. If you did not start this, tell your administrator.</p>`,
      );
}
