/**
 * The device flow (RFC 8628) in-process, attacker first. What an attacker tries, and what stops it:
 *
 *  1. Phishing ("enter this code"): start a device login on the attacker's machine and get a
 *     victim to type the code and approve. Nothing technical tells the two people apart; the
 *     confirm page says plainly that a device asked for AWS access as the victim, shows the code,
 *     when and from which address it started, and tells them to continue only if they started it.
 *     It shows nothing the client chose (no client name), so a phisher cannot write on it.
 *  2. Guessing user codes on the verification page (to approve someone else's device with
 *     one's own login, or to learn whose device is waiting): 20^8 codes, a per-address limit
 *     (an IPv6 /64 counts as one address) counted before the lookup; past it, even the right
 *     code is refused (429, rate_limited_user_code).
 *  3. A device code used twice (a stolen one, or a second poller): the session is handed out
 *     once (invalid_grant, device_code_used).
 *  4. Polling faster than the interval: slow_down, and the interval grows by 5 s each time.
 *  5. An expired device code: expired_token; its user code no longer leads anywhere.
 *  6. Deny: access_denied; no session ever.
 *  7. The confirm form replayed (the same token twice), or posted from another browser (a token
 *     lifted from a page, a cross-site form): refused, the device's state unchanged.
 *  8. A forged or replayed device reference at the SAML login, or one for another provider.
 *  9. A principal denied at any step (ACS, Approve, the poll): no session, zero STS calls.
 * 10. Two tabs answering one device (Approve here, Deny there): only the first answer counts.
 * 11. Flooding the start route: a per-address limit (429, rate_limited_device_authorize).
 * 12. Malformed polls: unknown code, wrong grant type, a parameter twice.
 * Every refusal: its status and generic body, zero STS calls, one audit record with its reason,
 * and no device code, user code, handle or form token in any record.
 */
import { describe, expect, it } from 'vitest';
import { DEVICE_GRANT_TYPE } from '#shared/login/device.ts';
import { sha256Hex } from '#shared/login/store.ts';
import { type DeviceHarness, startDeviceHarness } from '../../support/device-harness.ts';
import { expectRefused, mark, SAML_TEST } from '../../support/login-harness.ts';

const INVALID_GRANT = { error: 'invalid_grant' };

function secretsOf(values: string[]) {
  return values.filter((value) => value !== '');
}

function expectNoSecretInAudits(h: DeviceHarness, secrets: string[]) {
  const text = JSON.stringify(h.audits);
  for (const secret of secretsOf(secrets)) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.replace('-', ''));
  }
}

describe('the device flow, end to end in-process', () => {
  it('start ▸ type the code ▸ SAML ▸ confirm ▸ approve ▸ the poller gets a session, once', async () => {
    const h = startDeviceHarness();
    const started = await h.authorize();
    expect(started.status, started.body).toBe(200);
    expect(started.headers['cache-control']).toBe('no-store');
    const body = started.json;
    expect(body.device_code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(body.verification_uri).toBe(`${SAML_TEST.baseUrl}/v1/device`);
    expect(body.verification_uri_complete).toBe(
      `${SAML_TEST.baseUrl}/v1/device?user_code=${body.user_code}`,
    );
    expect(body).toMatchObject({ expires_in: 600, interval: 5 });
    const deviceCode = String(body.device_code);
    const userCode = String(body.user_code);
    // Stored hashed only.
    expect(h.devices.devices.has(sha256Hex(deviceCode))).toBe(true);
    expect(JSON.stringify([...h.devices.devices, ...h.devices.userCodes])).not.toContain(
      userCode.replace('-', ''),
    );

    expect((await h.poll(deviceCode)).json).toEqual({ error: 'authorization_pending' });

    // The complete URI prefills the form; nothing is submitted without the person.
    const prefilled = await h.callDevice({
      method: 'GET',
      path: '/v1/device',
      query: { user_code: userCode },
    });
    expect(prefilled.status).toBe(200);
    expect(prefilled.body).toContain(`value="${userCode}"`);
    expect(prefilled.headers['content-security-policy']).toContain("default-src 'none'");
    // The form's answer redirects (through the SAML login) to the IdP: CSP form-action allows it.
    expect(prefilled.headers['content-security-policy']).toContain(
      "form-action 'self' https://idp.corp.example;",
    );

    // Typed loosely: lower case, spaces, no dash.
    const entered = await h.enter(` ${userCode.replace('-', ' ').toLowerCase()} `);
    expect(entered.status, entered.body).toBe(302);
    const location = new URL(entered.headers.location ?? '');
    expect(location.pathname).toBe(`/v1/saml/${SAML_TEST.provider}/login`);
    expect(location.searchParams.get('target')).toBe('device');
    expect(location.searchParams.get('device')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(entered.headers.location).not.toContain(userCode.replace('-', ''));

    const login = await h.startDevice(entered.headers.location ?? '');
    const stsBefore = h.stsCalls();
    const page = await h.postAcs(login);
    expect(page.status, page.body).toBe(200);
    expect(h.stsCalls()).toBe(stsBefore);
    expect(page.body).toContain('A device asked for AWS access as');
    expect(page.body).toContain('alice@corp.example');
    expect(page.body).toContain(userCode);
    expect(page.body).toContain('Continue only if you started this on your own device');
    expect(page.body).toContain('192.0.2.10');
    expect(page.body).not.toContain('<script');
    const { token, cookie, action } = h.confirmForm(page);
    expect(action).toBe(`${SAML_TEST.baseUrl}/v1/device/confirm`);
    expect(page.headers['set-cookie']).toMatch(
      /^tvm_device=[A-Za-z0-9_-]{43}; Path=\/v1\/device\/confirm; Max-Age=300; HttpOnly; SameSite=Strict; Secure$/,
    );

    const approved = await h.confirm({ token, decision: 'approve' }, cookie);
    expect(approved.status, approved.body).toBe(200);
    expect(approved.body).toContain('Device approved');
    // Nothing handed out at Approve: no session exists yet, so no handle is stored anywhere.
    expect(h.store.sessions.size).toBe(0);

    h.advance(5);
    const issued = await h.poll(deviceCode);
    expect(issued.status, issued.body).toBe(200);
    expect(issued.headers['cache-control']).toBe('no-store');
    expect(issued.json).toMatchObject({ token_type: 'tvm-session', provider: SAML_TEST.provider });
    const handle = String(issued.json.session);
    expect(handle).toMatch(/^tvms_[A-Za-z0-9_-]{43}$/);
    expect(h.store.sessions.has(sha256Hex(handle))).toBe(true);

    // The same login session as the loopback flow: roles and credentials through the one core.
    expect((await h.roles(handle)).status).toBe(200);
    const credentials = await h.credentials(handle, { mapping: 'corp-admin' });
    expect(credentials.status, credentials.body).toBe(200);
    expect(h.stsCalls()).toBe(stsBefore + 1);

    const reasons = h.audits.map((record) => `${record.route} ${record.outcome} ${record.reason}`);
    expect(reasons).toEqual([
      'POST /v1/device/authorize pending device_code_issued',
      'POST /v1/device/token pending device_authorization_pending',
      'POST /v1/device pending device_code_entered',
      'POST /v1/saml/{provider}/acs pending device_confirm_offered',
      'POST /v1/device/confirm allowed device_approved',
      'POST /v1/device/token allowed session_created',
      'GET /v1/login/roles allowed roles_listed',
      'POST /v1/login/credentials allowed ok',
    ]);
    expectNoSecretInAudits(h, [deviceCode, userCode, token, handle, cookie.split('=')[1] ?? '']);
  });

  it('Deny: the poller gets access_denied, never a session', async () => {
    const h = startDeviceHarness();
    const flow = await h.toConfirm();
    const denied = await h.confirm({ token: flow.token, decision: 'deny' }, flow.cookie);
    expect(denied.body).toContain('Device denied');
    expect(h.audits.at(-1)).toMatchObject({ outcome: 'allowed', reason: 'device_denied' });
    const before = mark(h);
    const polled = await h.poll(flow.deviceCode);
    expectRefused(h, polled, before, {
      status: 400,
      reason: 'device_access_denied',
      body: { error: 'access_denied' },
    });
    expect(h.store.sessions.size).toBe(0);
  });
});

describe('attacks', () => {
  it('user-code guessing past the per-address limit is refused, even with the right code', async () => {
    const h = startDeviceHarness();
    const started = await h.authorize();
    const userCode = String(started.json.user_code);
    for (let guess = 0; guess < 10; guess += 1) {
      const before = mark(h);
      const wrong = await h.enter('BCDF-GHJK', '198.51.100.7');
      expectRefused(h, wrong, before, { status: 400, reason: 'user_code_invalid' });
      expect(wrong.body).toContain('That code is not valid, or it has expired.');
    }
    const before = mark(h);
    const limited = await h.enter(userCode, '198.51.100.7');
    expectRefused(h, limited, before, { status: 429, reason: 'rate_limited_user_code' });
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.body).toContain('Too many attempts');
    // Another address is not affected.
    expect((await h.enter(userCode, '198.51.100.8')).status).toBe(302);
  });

  it('an IPv6 /64 counts as one address', async () => {
    const h = startDeviceHarness();
    for (let guess = 0; guess < 10; guess += 1) {
      expect((await h.enter('BCDF-GHJK', `2001:db8:1:2::${guess + 1}`)).status).toBe(400);
    }
    const before = mark(h);
    const limited = await h.enter('BCDF-GHJK', '2001:db8:1:2:ffff:ffff:ffff:ffff');
    expectRefused(h, limited, before, { status: 429, reason: 'rate_limited_user_code' });
    expect((await h.enter('BCDF-GHJK', '2001:db8:1:3::1')).status).toBe(400);
  });

  it('a device code used twice gets invalid_grant the second time', async () => {
    const h = startDeviceHarness();
    const flow = await h.toConfirm();
    await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie);
    expect((await h.poll(flow.deviceCode)).status).toBe(200);
    const before = mark(h);
    const again = await h.poll(flow.deviceCode);
    expectRefused(h, again, before, {
      status: 400,
      reason: 'device_code_used',
      body: INVALID_GRANT,
    });
    expect(h.store.sessions.size).toBe(1);
  });

  it('two pollers at the same moment: one session', async () => {
    const h = startDeviceHarness();
    const flow = await h.toConfirm();
    await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie);
    const answers = await Promise.all([h.poll(flow.deviceCode), h.poll(flow.deviceCode)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400]);
    expect(h.store.sessions.size).toBe(1);
  });

  it('polling faster than the interval: slow_down, and the interval grows by 5 s', async () => {
    const h = startDeviceHarness();
    const started = await h.authorize();
    const deviceCode = String(started.json.device_code);
    expect((await h.poll(deviceCode)).json).toEqual({ error: 'authorization_pending' });
    h.advance(1);
    const fast = await h.poll(deviceCode);
    expect(fast.status).toBe(400);
    expect(fast.json).toEqual({ error: 'slow_down' });
    expect(h.audits.at(-1)).toMatchObject({ outcome: 'denied', reason: 'device_slow_down' });
    // Now 10 s: 6 s later is still too early.
    h.advance(6);
    expect((await h.poll(deviceCode)).json).toEqual({ error: 'slow_down' });
    h.advance(15);
    expect((await h.poll(deviceCode)).json).toEqual({ error: 'authorization_pending' });
    expect(h.devices.devices.get(sha256Hex(deviceCode))?.interval).toBe(15);
  });

  it('after expires_in: expired_token, the code leads nowhere, Approve is refused', async () => {
    const h = startDeviceHarness();
    const flow = await h.toConfirm();
    h.advance(601);
    let before = mark(h);
    const polled = await h.poll(flow.deviceCode);
    expectRefused(h, polled, before, {
      status: 400,
      reason: 'device_code_expired',
      body: { error: 'expired_token' },
    });
    before = mark(h);
    expectRefused(h, await h.enter(flow.userCode), before, {
      status: 400,
      reason: 'user_code_invalid',
    });
    before = mark(h);
    const late = await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie);
    expectRefused(h, late, before, { status: 401, reason: 'device_confirm_invalid' });
    expect(late.body).not.toContain('Device approved');
  });

  it('the confirm form replayed is refused; the device was approved once', async () => {
    const h = startDeviceHarness();
    const flow = await h.toConfirm();
    expect((await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie)).status).toBe(
      200,
    );
    const before = mark(h);
    const replayed = await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie);
    expectRefused(h, replayed, before, { status: 401, reason: 'device_confirm_invalid' });
    expect(replayed.body).toContain('We could not sign you in.');
  });

  it('the confirm form posted from another browser is refused; the device stays pending', async () => {
    for (const cookie of [undefined, 'tvm_device=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const h = startDeviceHarness();
      const flow = await h.toConfirm();
      const before = mark(h);
      const lifted = await h.confirm({ token: flow.token, decision: 'approve' }, cookie);
      expectRefused(h, lifted, before, { status: 401, reason: 'device_confirm_not_bound' });
      expect(h.devices.devices.get(sha256Hex(flow.deviceCode))?.status).toBe('pending');
      expect((await h.poll(flow.deviceCode)).json).toEqual({ error: 'authorization_pending' });
    }
  });

  it('Approve in one tab, Deny in another: only the first answer counts', async () => {
    const h = startDeviceHarness();
    const first = await h.toConfirm();
    // A second sign-in for the same device (the code typed again in another tab).
    const entered = await h.enter(first.userCode);
    const page = await h.postAcs(await h.startDevice(entered.headers.location ?? ''));
    const second = h.confirmForm(page);
    expect(
      (await h.confirm({ token: first.token, decision: 'approve' }, first.cookie)).status,
    ).toBe(200);
    const before = mark(h);
    const late = await h.confirm({ token: second.token, decision: 'deny' }, second.cookie);
    expectRefused(h, late, before, { status: 401, reason: 'device_code_invalid' });
    expect((await h.poll(first.deviceCode)).status).toBe(200);
  });

  it('a forged, replayed or other-provider device reference at the SAML login is refused', async () => {
    const h = startDeviceHarness({
      providers: [
        {
          id: 'other',
          type: 'saml',
          entityId: 'https://idp.other.example/saml',
          ssoUrl: 'https://idp.other.example/sso',
          certificates: [h0Certificate()],
          spEntityId: 'https://tvm.test.example/v1/saml/other/metadata',
        },
      ],
    });
    const started = await h.authorize();
    const entered = await h.enter(String(started.json.user_code));
    const location = new URL(entered.headers.location ?? '');
    const ref = location.searchParams.get('device') ?? '';
    const loginAt = (provider: string, device: string) =>
      h.call({
        method: 'GET',
        path: `/v1/saml/${provider}/login`,
        query: { target: 'device', device },
      });
    let before = mark(h);
    expectRefused(h, await loginAt('corp', 'A'.repeat(43)), before, {
      status: 400,
      reason: 'device_ref_invalid',
    });
    before = mark(h);
    expectRefused(h, await loginAt('other', ref), before, {
      status: 400,
      reason: 'device_ref_invalid',
    });
    // Consumed by the refused attempt: single use whatever happened to it.
    before = mark(h);
    expectRefused(h, await loginAt('corp', ref), before, {
      status: 400,
      reason: 'device_ref_invalid',
    });
    expect(h.state.logins.size).toBe(0);
  });

  it('a principal denied at the ACS, at Approve, or before the poll gets no session', async () => {
    // At the ACS: the guard refuses before any confirm page.
    let h = startDeviceHarness();
    const started = await h.authorize();
    const entered = await h.enter(String(started.json.user_code));
    const login = await h.startDevice(entered.headers.location ?? '');
    await denyAlice(h);
    let before = mark(h);
    const refused = await h.postAcs(login);
    expectRefused(h, refused, before, { status: 403, reason: 'denied_principal' });
    expect(h.devices.confirms.size).toBe(0);

    // At Approve.
    h = startDeviceHarness();
    let flow = await h.toConfirm();
    await denyAlice(h);
    before = mark(h);
    expectRefused(
      h,
      await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie),
      before,
      {
        status: 403,
        reason: 'denied_principal',
      },
    );
    expect(h.devices.devices.get(sha256Hex(flow.deviceCode))?.status).toBe('pending');

    // Between Approve and the poll.
    h = startDeviceHarness();
    flow = await h.toConfirm();
    await h.confirm({ token: flow.token, decision: 'approve' }, flow.cookie);
    await denyAlice(h);
    before = mark(h);
    expectRefused(h, await h.poll(flow.deviceCode), before, {
      status: 400,
      reason: 'denied_principal',
      body: { error: 'access_denied' },
    });
    expect(h.store.sessions.size).toBe(0);
  });

  it('flooding the start route from one address is refused', async () => {
    const h = startDeviceHarness();
    for (let start = 0; start < 20; start += 1) {
      expect((await h.authorize(undefined, '203.0.113.5')).status).toBe(200);
    }
    const before = mark(h);
    const limited = await h.authorize(undefined, '203.0.113.5');
    expectRefused(h, limited, before, {
      status: 429,
      reason: 'rate_limited_device_authorize',
      body: { error: 'temporarily_unavailable' },
    });
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('the start names only a chained SAML provider; malformed polls are refused', async () => {
    const h = startDeviceHarness();
    const cases: [Record<string, string>, string][] = [
      [{ provider: 'nobody' }, 'unknown_provider'],
      [{ provider: 'NOT AN ID' }, 'invalid_parameter'],
      [{}, 'invalid_parameter'],
    ];
    for (const [form, reason] of cases) {
      const before = mark(h);
      expectRefused(h, await h.authorize(form), before, {
        status: 400,
        reason,
        body: { error: 'invalid_request' },
      });
    }
    const polls: [Record<string, string>, string, unknown][] = [
      [{ device_code: 'A'.repeat(43) }, 'device_code_invalid', INVALID_GRANT],
      [{ device_code: 'short' }, 'device_code_invalid', INVALID_GRANT],
      [
        { grant_type: 'authorization_code', device_code: 'A'.repeat(43) },
        'unsupported_grant_type',
        { error: 'unsupported_grant_type' },
      ],
    ];
    for (const [form, reason, body] of polls) {
      const before = mark(h);
      expectRefused(h, await h.poll(form.device_code ?? '', form), before, {
        status: 400,
        reason,
        body,
      });
    }
    const before = mark(h);
    const twice = await h.callDevice({
      method: 'POST',
      path: '/v1/device/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=${encodeURIComponent(DEVICE_GRANT_TYPE)}&device_code=a&device_code=b`,
    });
    expectRefused(h, twice, before, {
      status: 400,
      reason: 'invalid_parameter',
      body: { error: 'invalid_request' },
    });
  });

  it('the confirm page shows nothing the client chose', async () => {
    const h = startDeviceHarness();
    const started = await h.authorize({
      provider: SAML_TEST.provider,
      client_name: 'IT Security Verification',
      scope: 'Approve to keep your account',
    });
    expect(started.status).toBe(200);
    const entered = await h.enter(String(started.json.user_code));
    const page = await h.postAcs(await h.startDevice(entered.headers.location ?? ''));
    expect(page.body).not.toContain('IT Security');
    expect(page.body).not.toContain('keep your account');
  });

  it('other methods are refused with 405 and Allow', async () => {
    const h = startDeviceHarness();
    for (const [method, path, allow] of [
      ['GET', '/v1/device/token', 'POST'],
      ['GET', '/v1/device/authorize', 'POST'],
      ['GET', '/v1/device/confirm', 'POST'],
      ['DELETE', '/v1/device', 'GET, POST'],
    ] as const) {
      const before = mark(h);
      const answer = await h.callDevice({ method, path });
      expectRefused(h, answer, before, { status: 405, reason: 'method_not_allowed' });
      expect(answer.headers.allow).toBe(allow);
    }
  });
});

async function denyAlice(h: DeviceHarness): Promise<void> {
  await h.denyList.add({
    issuer: SAML_TEST.idpEntityId,
    provider: SAML_TEST.provider,
    subject: 'alice@corp.example',
    by: 'test',
    at: h.clock.now.toISOString(),
  });
}

function h0Certificate(): string {
  return startDeviceHarness().config.providers.flatMap((provider) =>
    provider.type === 'saml' ? provider.certificates : [],
  )[0] as string;
}
