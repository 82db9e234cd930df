/**
 * The HTML the SAML routes answer with: server-rendered, no scripts, every interpolated value
 * escaped, never cached, never framed. Error pages are generic: the reason is in the audit record.
 */
import type { HttpResult } from '#functions/http/middleware.ts';
import type { VendedCredentials } from '#shared/sts/vend.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replaceAll(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

/** No script may run, forms may only post back to us, and no other site may frame the page. */
/** No script, no framing; forms may post (and their answers redirect) only to these sources. */
function contentSecurityPolicy(formAction: readonly string[] = []): string {
  return `default-src 'none'; style-src 'unsafe-inline'; form-action ${["'self'", ...formAction].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;
}

const SECURITY_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'content-security-policy': contentSecurityPolicy(),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const STYLE = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#16191f}
h1{font-size:1.4rem}pre{background:#f2f3f3;padding:.8rem;overflow-x:auto;font-size:.85rem}
fieldset{border:1px solid #d5dbdb;padding:1rem}label{display:block;margin:.4rem 0}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.muted{color:#5f6b7a;font-size:.9rem}`;

export function page(
  statusCode: number,
  title: string,
  body: string,
  headers: Record<string, string> = {},
): HttpResult {
  return {
    statusCode,
    headers: { ...SECURITY_HEADERS, ...headers },
    body: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>
`,
  };
}

const MESSAGES: Record<number, string> = {
  400: 'The sign-in request was not valid.',
  401: 'We could not sign you in.',
  403: 'You are signed in, but no AWS role is available to you here.',
  404: 'This sign-in page does not exist.',
  405: 'This sign-in page does not accept that request.',
  413: 'The sign-in request was too large.',
  429: 'Too many sign-in attempts. Please wait and try again.',
  503: 'Sign-in is temporarily unavailable. Please try again shortly.',
};

/** One generic page per status, with the request id to quote to an administrator. */
export function errorPage(
  statusCode: number,
  requestId: string,
  headers: Record<string, string> = {},
): HttpResult {
  const message = MESSAGES[statusCode] ?? 'Something went wrong while signing you in.';
  return page(
    statusCode,
    'Sign-in failed',
    `<h1>Sign-in failed</h1>
<p>${escapeHtml(message)}</p>
<p class="muted">If this keeps happening, contact your administrator and quote request id <code>${escapeHtml(requestId)}</code>.</p>`,
    headers,
  );
}

export interface ChooserRole {
  mappingId: string;
  roleArn: string;
  description?: string | undefined;
}

/** The role chooser: one radio per matched mapping, posting the single-use selection token. */
export function chooserPage(options: {
  selectUrl: string;
  token: string;
  roles: readonly ChooserRole[];
  subject: string;
  /** Native mode only: the response travels back with the choice instead of being stored. */
  samlResponse?: string;
  /**
   * The federation endpoint's origin: CSP form-action also governs where the form's answer may
   * redirect, and the console target answers the choice with a 302 there.
   */
  redirectOrigin?: string;
  headers?: Record<string, string>;
}): HttpResult {
  const radios = options.roles
    .map((role, index) => {
      const id = `role-${index}`;
      const description =
        role.description === undefined
          ? ''
          : ` <span class="muted">${escapeHtml(role.description)}</span>`;
      return `<label for="${id}"><input type="radio" id="${id}" name="mapping" value="${escapeHtml(role.mappingId)}"${index === 0 ? ' checked' : ''}> <strong>${escapeHtml(role.mappingId)}</strong> <code>${escapeHtml(role.roleArn)}</code>${description}</label>`;
    })
    .join('\n');
  const samlField =
    options.samlResponse === undefined
      ? ''
      : `<input type="hidden" name="SAMLResponse" value="${escapeHtml(options.samlResponse)}">`;
  return page(
    200,
    'Choose an AWS role',
    `<h1>Choose an AWS role</h1>
<p>Signed in as <strong>${escapeHtml(options.subject)}</strong>. Several roles are available to you.</p>
<form method="post" action="${escapeHtml(options.selectUrl)}">
<input type="hidden" name="token" value="${escapeHtml(options.token)}">
${samlField}<fieldset><legend>Role</legend>
${radios}
</fieldset>
<button type="submit">Continue</button>
</form>
<p class="muted">This choice expires in a few minutes and can be used once.</p>`,
    {
      ...(options.redirectOrigin === undefined
        ? {}
        : { 'content-security-policy': contentSecurityPolicy([options.redirectOrigin]) }),
      ...options.headers,
    },
  );
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** The credentials, shown once, as shell exports and as a profile block, with the expiry. */
export function credentialsPage(options: {
  credentials: VendedCredentials;
  roleArn: string;
  mappingId: string;
  profile: string;
  region?: string | undefined;
}): HttpResult {
  const { credentials } = options;
  const expiration = credentials.expiration.toISOString();
  const exports = [
    `export AWS_ACCESS_KEY_ID=${shellQuote(credentials.accessKeyId)}`,
    `export AWS_SECRET_ACCESS_KEY=${shellQuote(credentials.secretAccessKey)}`,
    `export AWS_SESSION_TOKEN=${shellQuote(credentials.sessionToken)}`,
    ...(options.region === undefined ? [] : [`export AWS_REGION=${shellQuote(options.region)}`]),
  ].join('\n');
  const profile = [
    `[${options.profile}]`,
    `aws_access_key_id = ${credentials.accessKeyId}`,
    `aws_secret_access_key = ${credentials.secretAccessKey}`,
    `aws_session_token = ${credentials.sessionToken}`,
    ...(options.region === undefined ? [] : [`region = ${options.region}`]),
  ].join('\n');
  return page(
    200,
    'Your AWS credentials',
    `<h1>Your AWS credentials</h1>
<p>Role <code>${escapeHtml(options.roleArn)}</code> (mapping <strong>${escapeHtml(options.mappingId)}</strong>).
They expire at <strong><time datetime="${escapeHtml(expiration)}" id="expiration">${escapeHtml(expiration)}</time></strong>.
This page is shown once and is not stored: copy what you need now.</p>
<h2>Shell</h2>
<pre id="exports">${escapeHtml(exports)}</pre>
<h2><code>~/.aws/credentials</code></h2>
<pre id="profile">${escapeHtml(profile)}</pre>`,
  );
}
