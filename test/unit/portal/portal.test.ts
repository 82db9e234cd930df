/**
 * The access portal's ordinary path, in-process: target=portal ▸ ACS ▸ a login session in a
 * cookie ▸ the page (accounts, aliases, the filter) ▸ Console and Access keys through issue().
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '#shared/login/store.ts';
import { SAML_TEST } from '../../support/login-harness.ts';
import { startPortalHarness } from '../../support/portal-harness.ts';
import { stsMock } from '../../support/vend-harness.ts';

const MAPPINGS = [
  {
    id: 'corp-admin',
    provider: SAML_TEST.provider,
    description: 'Administrators',
    priority: 20,
    match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
    roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
  },
  {
    id: 'corp-reader',
    provider: SAML_TEST.provider,
    description: 'Read-only <everyone>',
    priority: 10,
    match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
    roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
  },
  {
    id: 'sandbox-dev',
    provider: SAML_TEST.provider,
    priority: 5,
    match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
    roleArn: 'arn:aws:iam::210987654321:role/tvm/team/sandbox-dev',
  },
];
const ACCOUNTS = { '123456789012': { alias: 'prod' } };

describe('access portal', () => {
  it('a portal login sets the session cookie and redirects to the bare /v1/portal', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS, accounts: ACCOUNTS });
    const started = await h.startPortal();
    const answer = await h.postAcs(started);
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe('https://tvm.test.example/v1/portal');
    expect(answer.headers['cache-control']).toBe('no-store');
    const handle = /^__Host-tvm_portal=([^;]+);/.exec(answer.headers['set-cookie'] ?? '')?.[1];
    // Only the hash is stored; the session ends at the provider's maximum (default 8 h).
    const session = h.store.sessions.get(sha256Hex(handle ?? ''));
    expect(session).toMatchObject({ provider: 'corp', subject: 'alice@corp.example' });
    expect((session?.expiresAt ?? 0) - h.clock.now.getTime() / 1000).toBe(28_800);
    expect(answer.headers['set-cookie']).toContain('Max-Age=28800;');
    expect(h.audits.at(-1)).toMatchObject({
      route: 'POST /v1/saml/{provider}/acs',
      outcome: 'pending',
      reason: 'portal_session_created',
    });
    expect(h.stsCalls()).toBe(0);
  });

  it('lists every matched role grouped by account, with the alias, sorted by alias then id', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS, accounts: ACCOUNTS });
    const cookie = await h.signIn();
    const page = await h.portal(cookie);
    expect(page.status, page.body).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const accounts = [...page.body.matchAll(/<section class="account" aria-label="([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(accounts).toEqual(['prod', '210987654321']);
    expect(page.body).toContain(
      '<h2>prod <span class="muted"><code>123456789012</code></span></h2>',
    );
    expect(page.body).toContain('<strong>tvm/team/sandbox-dev</strong>');
    expect(page.body).toContain('Read-only &lt;everyone&gt;');
    expect(h.rows(page).map((r) => r.mapping)).toEqual([
      'corp-admin',
      'corp-reader',
      'sandbox-dev',
    ]);
    expect(page.body).toContain('name="action" value="console">Console</button>');
    expect(page.body).toContain('name="action" value="keys">Access keys</button>');
    expect(page.body).toContain('>Sign out</button>');
    expect(h.audits.at(-1)).toMatchObject({ route: 'GET /v1/portal', reason: 'portal_viewed' });
    expect(h.stsCalls()).toBe(0);
  });

  it('filters server-side with ?q= (mapping, ARN, description, account id or alias)', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS, accounts: ACCOUNTS });
    const cookie = await h.signIn();
    const byAlias = await h.portal(cookie, { q: 'PROD' });
    expect(h.rows(byAlias).map((r) => r.mapping)).toEqual(['corp-admin', 'corp-reader']);
    expect(byAlias.body).toContain('value="PROD"');
    const byAccount = await h.portal(cookie, { q: '2109876' });
    expect(h.rows(byAccount).map((r) => r.mapping)).toEqual(['sandbox-dev']);
    const none = await h.portal(cookie, { q: 'nothing-like-this' });
    expect(h.rows(none)).toEqual([]);
    expect(none.body).toContain('No role matches <strong>nothing-like-this</strong>');
  });

  it('Access keys: the credentials page for the row, vended through the core', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS, accounts: ACCOUNTS });
    const cookie = await h.signIn();
    const row = h.rows(await h.portal(cookie)).find((r) => r.mapping === 'corp-reader');
    const answer = await h.act(cookie, { ...row, action: 'keys' } as Record<string, string>);
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toContain('export AWS_SECRET_ACCESS_KEY=');
    expect(answer.body).toContain('[corp-reader]');
    const call = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(call?.RoleArn).toBe('arn:aws:iam::123456789012:role/tvm/corp-reader');
    expect(h.audits.at(-1)).toMatchObject({
      route: 'POST /v1/portal/actions',
      outcome: 'allowed',
      reason: 'ok',
      mappingId: 'corp-reader',
    });
  });

  it('Console: a 302 to the federation sign-in, the session vended without DurationSeconds', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS, accounts: ACCOUNTS });
    const cookie = await h.signIn();
    const page = await h.portal(cookie);
    // The Console form's answer redirects to the federation endpoint: CSP form-action allows it.
    expect(page.headers['content-security-policy']).toContain(
      "form-action 'self' https://signin.aws.amazon.com",
    );
    const row = h.rows(page).find((r) => r.mapping === 'corp-admin');
    const answer = await h.act(cookie, { ...row, action: 'console' } as Record<string, string>);
    expect(answer.status, answer.body).toBe(302);
    const location = new URL(answer.headers.location ?? '');
    expect(location.origin + location.pathname).toBe('https://signin.aws.amazon.com/federation');
    expect(location.searchParams.get('Action')).toBe('login');
    expect(location.searchParams.get('Issuer')).toBe('https://tvm.test.example/v1/portal');
    expect(location.searchParams.get('Destination')).toBe(
      'https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1',
    );
    const call = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(call?.RoleArn).toBe('arn:aws:iam::123456789012:role/tvm/corp-admin');
    // Role-chained: the federation endpoint refuses a session that set DurationSeconds.
    expect(call?.DurationSeconds).toBeUndefined();
    expect(h.federationCalls).toHaveLength(1);
  });

  it('a user with no role sees the page saying so (no buttons), not an error', async () => {
    const h = startPortalHarness({ mappings: MAPPINGS });
    const cookie = await h.signIn({ groups: ['staff'] });
    const page = await h.portal(cookie);
    expect(page.status).toBe(200);
    expect(h.rows(page)).toEqual([]);
    expect(page.body).toContain('No AWS role is available to you right now');
  });

  it('another method on a portal path: 405 with Allow, audited', async () => {
    const h = startPortalHarness();
    const answer = await h.call({ method: 'GET', path: '/v1/portal/actions' });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
    expect(h.audits.at(-1)).toMatchObject({ reason: 'method_not_allowed' });
  });
});
