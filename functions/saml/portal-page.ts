/**
 * The access portal's HTML: server-rendered and usable with no script (the filter is a GET form,
 * each action a POST form), every value escaped, never cached or framed. One small script only
 * filters as you type; it runs under a per-response CSP nonce, so no injected script could.
 */
import { randomBytes } from 'node:crypto';
import type { HttpResult } from '#functions/http/middleware.ts';
import type { PortalView } from '#shared/portal/portal.ts';
import { escapeHtml } from './pages.ts';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#16191f}
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}.muted{color:#5f6b7a;font-size:.9rem}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
.filter{margin:1.2rem 0;display:flex;gap:.5rem}.filter input{flex:1;padding:.45rem;font-size:1rem}
table{width:100%;border-collapse:collapse}td{padding:.5rem .4rem;border-top:1px solid #e9ebed;vertical-align:middle}
td.actions{text-align:right;white-space:nowrap}form.row{display:inline}button{padding:.35rem .8rem;font-size:.95rem;cursor:pointer}
code{font-size:.85rem;color:#414d5c}.account{border:1px solid #d5dbdb;border-radius:6px;padding:.2rem 1rem .6rem;margin:1rem 0}`;

/** Shows and hides rows as the user types; the server-side filter works without it. */
const FILTER_SCRIPT = `(()=>{const q=document.getElementById('q');if(!q)return;q.addEventListener('input',()=>{const n=q.value.trim().toLowerCase();for(const s of document.querySelectorAll('section.account')){let v=0;for(const r of s.querySelectorAll('tr[data-search]')){const m=n===''||r.dataset.search.includes(n);r.hidden=!m;if(m)v++}s.hidden=v===0}})})();`;

function contentSecurityPolicy(nonce: string, formAction: readonly string[]): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'unsafe-inline'",
    // The Console action answers with a redirect to the federation endpoint.
    `form-action ${["'self'", ...formAction].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function headers(nonce: string, formAction: readonly string[]): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-security-policy': contentSecurityPolicy(nonce, formAction),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

function shell(title: string, body: string, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>
${body}
</main><script nonce="${nonce}">${FILTER_SCRIPT}</script></body></html>
`;
}

export interface PortalUrls {
  portal: string;
  actions: string;
  signOut: string;
}

/** The portal page: accounts, each role with Console and Access keys, the filter, Sign out. */
export function portalPage(options: {
  view: PortalView;
  urls: PortalUrls;
  /** The federation endpoint's origin: the Console form's answer redirects there. */
  redirectOrigin: string;
  headers?: Record<string, string>;
}): HttpResult {
  const { view, urls } = options;
  const nonce = randomBytes(16).toString('base64');
  const page = `<input type="hidden" name="page" value="${escapeHtml(view.page)}">`;
  const accounts = view.accounts
    .map((account) => {
      const title =
        account.alias === undefined
          ? `<h2>Account <code>${escapeHtml(account.accountId)}</code></h2>`
          : `<h2>${escapeHtml(account.alias)} <span class="muted"><code>${escapeHtml(account.accountId)}</code></span></h2>`;
      const rows = account.roles
        .map((role) => {
          const search = [role.mapping, role.roleArn, role.description, account.alias]
            .filter((value) => value !== undefined)
            .join(' ')
            .toLowerCase();
          const description =
            role.description === undefined
              ? ''
              : `<br><span class="muted">${escapeHtml(role.description)}</span>`;
          return `<tr data-search="${escapeHtml(search)}" data-mapping="${escapeHtml(role.mapping)}">
<td><strong>${escapeHtml(role.roleName)}</strong> <span class="muted">(${escapeHtml(role.mapping)})</span>${description}</td>
<td class="actions"><form class="row" method="post" action="${escapeHtml(urls.actions)}">${page}<input type="hidden" name="token" value="${escapeHtml(role.token)}"><input type="hidden" name="mapping" value="${escapeHtml(role.mapping)}">
<button type="submit" name="action" value="console">Console</button> <button type="submit" name="action" value="keys">Access keys</button></form></td></tr>`;
        })
        .join('\n');
      return `<section class="account" aria-label="${escapeHtml(account.alias ?? account.accountId)}">${title}<table>${rows}</table></section>`;
    })
    .join('\n');
  const empty =
    view.accounts.length > 0
      ? ''
      : view.total > 0
        ? `<p>No role matches <strong>${escapeHtml(view.filter)}</strong>. <a href="${escapeHtml(urls.portal)}">Show all</a></p>`
        : '<p>No AWS role is available to you right now. If you expected one, ask your administrator.</p>';
  const expires = view.expiresAt.toISOString();
  const body = `<header><div><h1>AWS access</h1>
<p class="muted">Signed in as <strong>${escapeHtml(view.subject)}</strong> (${escapeHtml(view.provider)}). This session ends at <time datetime="${escapeHtml(expires)}">${escapeHtml(expires)}</time>.</p></div>
<form method="post" action="${escapeHtml(urls.signOut)}">${page}<input type="hidden" name="token" value="${escapeHtml(view.signOutToken)}"><button type="submit">Sign out</button></form></header>
<form class="filter" method="get" action="${escapeHtml(urls.portal)}" role="search"><input id="q" name="q" type="search" placeholder="Filter by account, alias or role" value="${escapeHtml(view.filter)}" maxlength="128" aria-label="Filter roles"><button type="submit">Filter</button></form>
${empty}${accounts}
<p class="muted">Each button works once: use your browser's Back and reload for another.</p>`;
  return {
    statusCode: 200,
    headers: { ...headers(nonce, [options.redirectOrigin]), ...options.headers },
    body: shell('AWS access', body, nonce),
  };
}

/** After Sign out: no session, no script. */
export function signedOutPage(loginHint: string | undefined, extra: Record<string, string>) {
  const again =
    loginHint === undefined ? '' : `<p><a href="${escapeHtml(loginHint)}">Sign in again</a></p>`;
  return {
    statusCode: 200,
    headers: { ...headers(randomBytes(16).toString('base64'), []), ...extra },
    body: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title><style>${STYLE}</style></head>
<body><main><h1>You are signed out</h1><p>Your portal session has ended.</p>${again}</main></body></html>
`,
  } satisfies HttpResult;
}
