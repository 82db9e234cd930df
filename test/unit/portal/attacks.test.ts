/**
 * Attacks on the access portal, thought through before it was built. The assets: the login
 * session handle (a bearer secret for up to loginSessionMaxSeconds), the action tokens (each a
 * one-click credential), and the credentials and console sign-in URLs the actions produce.
 *
 *  1. Replay: a Console/Access keys form posted twice (Back + resubmit, a proxy log, a second
 *     tab) → refused: a row's token is removed from its page as it is used.
 *  2. Another browser: a token lifted from the page (shoulder surfing, a screenshot, a shared
 *     HAR file) posted without the session cookie, or with the attacker's own session cookie →
 *     refused: the token is bound to the hash of the session it was shown to.
 *  3. CSRF: another site posts the form → the cookie is SameSite=Lax (not sent on a cross-site
 *     POST) and the site cannot know a token; both halves are tested (no cookie; no token).
 *  4. Forged action: the user edits a row's hidden mapping to one they do not match (or one
 *     they matched when the page was shown but no longer do) → refused: the token names its
 *     mapping, and the core re-runs guard ▸ decide for the mapping at every action.
 *  5. Expiry: a session past the provider's loginSessionMaxSeconds → the page and every action
 *     refuse (401), and the stale cookie is cleared.
 *  6. Deny: `tvm deny add` ends the principal's sessions (401), and a deny-list entry alone
 *     already refuses at the guard (403) before anything is shown or vended.
 *  7. A session cookie from another provider: the session's provider left the config, or its
 *     entry now names another IdP (the principal is another one) → 401; a made-up handle → 401.
 *  8. Sign out: the session ends; the cookie replayed afterwards and the page's remaining tokens
 *     are refused.
 *  9. Login CSRF into the portal: an IdP response posted from a browser that did not start the
 *     login, or an IdP-initiated response naming `portal` → refused (no session, no cookie).
 * 10. Leaks: the handle never in a URL (the ACS redirects to the bare /v1/portal), never in an
 *     audit record or log line; the console sign-in URL never logged.
 * 11. Markup: the filter box echoes ?q=; it is escaped and no script runs without the nonce.
 * 12. Native-mode providers have no AssumeRole path: target=portal is refused at /login.
 * Each refusal: status, generic body, zero STS calls, exactly one audit record with its reason.
 */
import { describe, expect, it } from 'vitest';
import type { Log } from '#shared/log.ts';
import { expectRefused, mark, SAML_TEST } from '../../support/login-harness.ts';
import {
  type PortalHarness,
  type PortalRow,
  startPortalHarness,
} from '../../support/portal-harness.ts';

const THIRD_MAPPING = {
  id: 'corp-ops',
  provider: SAML_TEST.provider,
  priority: 5,
  match: { claim: 'groups', op: 'contains', value: 'aws-ops' },
  roleArn: 'arn:aws:iam::210987654321:role/tvm/corp-ops',
};

function withOps(h: PortalHarness['config']) {
  return [...(h.mappings as unknown as Record<string, unknown>[]), THIRD_MAPPING];
}

async function signedIn(
  options: Parameters<typeof startPortalHarness>[0] = {},
): Promise<{ h: PortalHarness; cookie: string; rows: PortalRow[] }> {
  const h = startPortalHarness(options);
  const cookie = await h.signIn();
  const page = await h.portal(cookie);
  expect(page.status, page.body).toBe(200);
  return { h, cookie, rows: h.rows(page) };
}

function row(rows: PortalRow[], mapping: string): PortalRow {
  const found = rows.find((candidate) => candidate.mapping === mapping);
  if (found === undefined) throw new Error(`no row for ${mapping}`);
  return found;
}

const fields = (r: PortalRow, action = 'keys', mapping = r.mapping) => ({
  page: r.page,
  token: r.token,
  mapping,
  action,
});

describe('portal actions: single use, bound to the session and browser', () => {
  it('1. refuses an action replayed: 401, portal_action_invalid, no second credentials', async () => {
    const { h, cookie, rows } = await signedIn();
    const first = await h.act(cookie, fields(row(rows, 'corp-reader')));
    expect(first.status, first.body).toBe(200);
    const before = mark(h);
    const replayed = await h.act(cookie, fields(row(rows, 'corp-reader')));
    expectRefused(h, replayed, before, { status: 401, reason: 'portal_action_invalid' });
    expect(replayed.body).toContain('<h1>Sign-in failed</h1>');
    expect(replayed.body).not.toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('1. refuses the other button of a used row (the Console after Access keys)', async () => {
    const { h, cookie, rows } = await signedIn();
    expect((await h.act(cookie, fields(row(rows, 'corp-admin'), 'keys'))).status).toBe(200);
    const before = mark(h);
    const again = await h.act(cookie, fields(row(rows, 'corp-admin'), 'console'));
    expectRefused(h, again, before, { status: 401, reason: 'portal_action_invalid' });
    expect(h.federationCalls).toHaveLength(0);
  });

  it('2. refuses a token posted from another browser (no session cookie)', async () => {
    const { h, rows } = await signedIn();
    const before = mark(h);
    const answer = await h.act(undefined, fields(row(rows, 'corp-reader')));
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_not_bound' });
  });

  it("2. refuses a victim's token posted with the attacker's own session cookie", async () => {
    const { h, rows } = await signedIn();
    // The attacker: another principal, signed in to the same portal in their own browser.
    const attacker = await h.signIn({ nameId: 'mallory@corp.example' });
    const before = mark(h);
    const answer = await h.act(attacker, fields(row(rows, 'corp-admin')));
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_not_bound' });
  });

  it('2. the refused token is spent: the victim cannot be raced into reusing it either', async () => {
    const { h, cookie, rows } = await signedIn();
    await h.act(undefined, fields(row(rows, 'corp-reader')));
    const before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader')));
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_invalid' });
  });

  it('3. refuses a cross-site post that cannot know a token (session cookie, no token)', async () => {
    const { h, cookie, rows } = await signedIn();
    const before = mark(h);
    const answer = await h.act(cookie, { ...fields(row(rows, 'corp-admin')), token: '' });
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_invalid' });
  });

  it('3. refuses a made-up token of the right shape', async () => {
    const { h, cookie, rows } = await signedIn();
    const before = mark(h);
    const answer = await h.act(cookie, {
      ...fields(row(rows, 'corp-admin')),
      token: 'A'.repeat(43),
    });
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_invalid' });
  });

  it('3. the session cookie is HttpOnly, Secure, SameSite=Lax, __Host- (never sent cross-site on POST)', async () => {
    const h = startPortalHarness();
    const started = await h.startPortal();
    const answered = await h.postAcs(started);
    const setCookie = answered.headers['set-cookie'] ?? '';
    expect(setCookie).toMatch(/^__Host-tvm_portal=tvms_[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toContain('; Path=/;');
    expect(setCookie).toContain('; Secure');
    expect(setCookie).toContain('; HttpOnly');
    expect(setCookie).toContain('; SameSite=Lax');
    expect(setCookie).not.toMatch(/Domain=/i);
  });
});

describe('portal actions: a forged mapping, decided again at every action', () => {
  it('4. refuses a row token posted with a mapping the user does not match: 403, mapping_not_allowed', async () => {
    const { h, cookie, rows } = await signedIn({
      mappings: withOps(startPortalHarness().config),
    });
    expect(rows.map((r) => r.mapping)).not.toContain('corp-ops');
    const before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader'), 'keys', 'corp-ops'));
    expectRefused(h, answer, before, { status: 403, reason: 'mapping_not_allowed' });
  });

  it('4. refuses a row token posted with another mapping the user does match', async () => {
    const { h, cookie, rows } = await signedIn();
    const before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader'), 'console', 'corp-admin'));
    expectRefused(h, answer, before, { status: 403, reason: 'mapping_not_allowed' });
    expect(h.federationCalls).toHaveLength(0);
  });

  it('4. a mapping the user stopped matching after the page was shown: 403, decided again', async () => {
    const { h, cookie, rows } = await signedIn();
    const base = h.config.mappings as unknown as Record<string, unknown>[];
    h.reconfigure({
      mappings: base.map((m) =>
        m.id === 'corp-admin'
          ? { ...m, match: { claim: 'groups', op: 'contains', value: 'aws-root' } }
          : m,
      ),
    });
    const before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-admin')));
    expectRefused(h, answer, before, { status: 403, reason: 'mapping_not_allowed' });
  });
});

describe('portal sessions: expiry, deny, another provider, sign out', () => {
  it('5. an expired session: the page and the actions refuse with 401, and the cookie is cleared', async () => {
    const { h, cookie, rows } = await signedIn({ provider: { loginSessionMaxSeconds: 900 } });
    h.advance(901);
    let before = mark(h);
    const page = await h.portal(cookie);
    expectRefused(h, page, before, { status: 401, reason: 'session_invalid' });
    expect(page.headers['set-cookie']).toMatch(/^__Host-tvm_portal=; Path=\/; Secure; Max-Age=0;/);
    before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader')));
    // The page's tokens expire with the session.
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_invalid' });
  });

  it('5. a session is live up to its last second and its page tokens with it', async () => {
    const { h, cookie, rows } = await signedIn({ provider: { loginSessionMaxSeconds: 900 } });
    h.advance(899);
    expect((await h.act(cookie, fields(row(rows, 'corp-reader')))).status).toBe(200);
  });

  it('6. `tvm deny add` ends the session: 401 on the page and on every action', async () => {
    const { h, cookie, rows } = await signedIn();
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider: SAML_TEST.provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: h.clock.now.toISOString(),
    });
    expect(
      await h.store.endPrincipalSessions(SAML_TEST.idpEntityId, 'alice@corp.example', h.clock.now),
    ).toBe(1);
    let before = mark(h);
    expectRefused(h, await h.portal(cookie), before, { status: 401, reason: 'session_invalid' });
    before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-admin')));
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid' });
  });

  it('6. a deny-list entry alone refuses at the guard: 403 denied_principal, page and action', async () => {
    const { h, cookie, rows } = await signedIn();
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider: SAML_TEST.provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: h.clock.now.toISOString(),
    });
    let before = mark(h);
    expectRefused(h, await h.portal(cookie), before, { status: 403, reason: 'denied_principal' });
    before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-admin'), 'console'));
    expectRefused(h, answer, before, { status: 403, reason: 'denied_principal' });
    expect(h.federationCalls).toHaveLength(0);
  });

  it('7. a session whose provider entry now names another IdP: 401 session_invalid', async () => {
    const { h, cookie, rows } = await signedIn();
    h.reconfigure({ provider: { entityId: 'https://other-idp.example/saml' } });
    let before = mark(h);
    expectRefused(h, await h.portal(cookie), before, { status: 401, reason: 'session_invalid' });
    before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader')));
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid' });
  });

  it('7. a session of a provider that left the config: 401 session_invalid', async () => {
    const { h, cookie } = await signedIn();
    // The corp entry renamed: its sessions belong to an entry that no longer exists.
    const base = h.config.mappings as unknown as Record<string, unknown>[];
    h.reconfigure({
      provider: { id: 'corp-renamed' },
      mappings: base.map((m) => ({ ...m, provider: 'corp-renamed' })),
    });
    const before = mark(h);
    expectRefused(h, await h.portal(cookie), before, { status: 401, reason: 'session_invalid' });
  });

  it('7. a made-up or malformed session cookie: 401 session_invalid, no page', async () => {
    const h = startPortalHarness();
    for (const value of [`tvms_${'A'.repeat(43)}`, 'x', `tvms_${'A'.repeat(500)}`]) {
      const before = mark(h);
      const page = await h.portal(`__Host-tvm_portal=${value}`);
      expectRefused(h, page, before, { status: 401, reason: 'session_invalid' });
    }
    const before = mark(h);
    expectRefused(h, await h.portal(undefined), before, { status: 401, reason: 'session_invalid' });
  });

  it('8. sign out ends the session; the cookie and the remaining tokens are refused after', async () => {
    const h = startPortalHarness();
    const cookie = await h.signIn();
    const page = await h.portal(cookie);
    const rows = h.rows(page);
    const signOut = await h.act(cookie, h.signOutFields(page), { path: '/v1/portal/signout' });
    expect(signOut.status, signOut.body).toBe(200);
    expect(signOut.headers['set-cookie']).toMatch(/Max-Age=0/);
    expect(h.audits.at(-1)).toMatchObject({ reason: 'session_ended', outcome: 'allowed' });
    let before = mark(h);
    expectRefused(h, await h.portal(cookie), before, { status: 401, reason: 'session_invalid' });
    before = mark(h);
    const answer = await h.act(cookie, fields(row(rows, 'corp-reader')));
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid' });
  });

  it('8. sign out needs its token (a cross-site post cannot end a session)', async () => {
    const h = startPortalHarness();
    const cookie = await h.signIn();
    const before = mark(h);
    const answer = await h.act(
      cookie,
      { page: 'A'.repeat(43), token: 'B'.repeat(43) },
      {
        path: '/v1/portal/signout',
      },
    );
    expectRefused(h, answer, before, { status: 401, reason: 'portal_action_invalid' });
    expect((await h.portal(cookie)).status).toBe(200);
  });

  it("8. a row's token is not a sign-out token", async () => {
    const { h, cookie, rows } = await signedIn();
    const r = row(rows, 'corp-reader');
    const before = mark(h);
    const answer = await h.act(
      cookie,
      { page: r.page, token: r.token },
      {
        path: '/v1/portal/signout',
      },
    );
    expectRefused(h, answer, before, { status: 403, reason: 'mapping_not_allowed' });
    expect((await h.portal(cookie)).status).toBe(200);
  });
});

describe('portal logins: login CSRF, leaks, markup, native mode', () => {
  it('9. refuses an IdP response posted from another browser: no session, no cookie', async () => {
    const h = startPortalHarness();
    const started = await h.startPortal();
    const before = mark(h);
    const answer = await h.postAcs(started, { cookie: '' });
    expectRefused(h, answer, before, { status: 401, reason: 'login_not_bound' });
    expect(answer.headers['set-cookie']).toBeUndefined();
    expect(h.store.sessions.size).toBe(0);
  });

  it('9. never makes an IdP-initiated response a portal login', async () => {
    const h = startPortalHarness({ provider: { allowIdpInitiated: true } });
    const before = mark(h);
    const answer = await h.postAcs({ authnRequestId: '', relayState: 'portal', cookie: '' });
    expectRefused(h, answer, before, { status: 400, reason: 'relay_state_invalid' });
    expect(h.store.sessions.size).toBe(0);
  });

  it('10. the handle is in no URL, audit record or log line; the console URL in no log line', async () => {
    const lines: string[] = [];
    const logger: Log = {
      info: (message, data) => lines.push(JSON.stringify([message, data])),
      warn: (message, data) => lines.push(JSON.stringify([message, data])),
      error: (message, data) => lines.push(JSON.stringify([message, data])),
    };
    const { h, cookie, rows } = await signedIn({ logger });
    const handle = cookie.split('=')[1] ?? '';
    const consoleAnswer = await h.act(cookie, fields(row(rows, 'corp-admin'), 'console'));
    expect(consoleAnswer.status, consoleAnswer.body).toBe(302);
    const location = consoleAnswer.headers.location ?? '';
    expect(location).toContain('SigninToken=');
    const everything = JSON.stringify(h.audits) + lines.join('\n');
    expect(everything).not.toContain(handle);
    expect(everything).not.toContain(handle.slice(5));
    expect(everything).not.toContain('SigninToken');
    expect(everything).not.toContain(rows[0]?.token ?? '-');
  });

  it('11. the filter is escaped, and the only script carries the response nonce', async () => {
    const { h, cookie } = await signedIn();
    const page = await h.portal(cookie, { q: '"><script>alert(1)</script>' });
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('<script>alert(1)');
    expect(page.body).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    const csp = page.headers['content-security-policy'] ?? '';
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    const scripts = [...page.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    expect(scripts).toEqual([` nonce="${nonce}"`]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline'; script");
  });

  it('12. refuses target=portal for a native-mode provider: 400 invalid_target', async () => {
    const h = startPortalHarness({
      provider: { mode: 'native' },
      mappings: [
        {
          id: 'corp-reader',
          provider: 'corp',
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
          roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
        },
      ],
    });
    const before = mark(h);
    const answer = await h.start({ target: 'portal' });
    expectRefused(h, answer, before, { status: 400, reason: 'invalid_target' });
    expect(h.state.logins.size).toBe(0);
  });
});
