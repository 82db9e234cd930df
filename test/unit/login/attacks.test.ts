/**
 * Attacks on the terminal login, one per row: each is refused with its status and generic body,
 * zero STS calls, and exactly one audit record with its reason.
 */
import { describe, expect, it } from 'vitest';
import { AUDIT_REASONS } from '#shared/errors.ts';
import { sha256Hex } from '#shared/login/store.ts';
import {
  type CliPkce,
  cliPkce,
  expectRefused,
  type LoginHarness,
  mark,
  SAML_TEST,
  startLoginHarness,
} from '../../support/login-harness.ts';
import { fixtureText } from '../../support/saml-config.ts';

const INVALID_GRANT = { error: 'invalid_grant' };
const INVALID_REQUEST = { error: 'invalid_request' };

function startQuery(pkce: CliPkce, overrides: Record<string, string | undefined> = {}) {
  const query: Record<string, string | undefined> = {
    target: 'cli',
    redirect_uri: pkce.redirectUri,
    state: pkce.state,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function grant(pkce: CliPkce, code: string, overrides: Record<string, string> = {}) {
  return {
    grant_type: 'authorization_code',
    code,
    code_verifier: pkce.verifier,
    redirect_uri: pkce.redirectUri,
    ...overrides,
  };
}

/** The start refused as problem+json: nothing stored, no redirect anywhere. */
async function expectStartRefused(
  h: LoginHarness,
  query: Record<string, string>,
  reason: string,
): Promise<void> {
  const before = mark(h);
  const answer = await h.start(query);
  expectRefused(h, answer, before, { status: 400, reason });
  expect(answer.headers['content-type']).toBe('application/problem+json');
  expect(answer.json).toMatchObject({ type: 'urn:tvm:problem:bad-request', status: 400 });
  expect(answer.headers['set-cookie']).toBeUndefined();
  expect(h.state.logins.size).toBe(0);
}

describe('terminal login start: only a loopback redirect_uri, only PKCE S256', () => {
  const refusedUris = [
    ['another site', 'https://evil.example/callback'],
    ['plain http elsewhere', 'http://evil.example:8080/callback'],
    ['a name, not the loopback IP', 'http://localhost:49152/callback'],
    ['a name that starts like localhost', 'http://localhost.evil.com:49152/callback'],
    ['a name that starts like the loopback IP', 'http://127.0.0.1.nip.io:49152/callback'],
    ['userinfo before the host', 'http://user@127.0.0.1:49152/callback'],
    ['the loopback as userinfo', 'http://127.0.0.1:49152@evil.example/callback'],
    ['a backslash trick', 'http://127.0.0.1:49152\\@evil.example/callback'],
    ['a fragment', 'http://127.0.0.1:49152/callback#x'],
    ['a query', 'http://127.0.0.1:49152/callback?next=https://evil.example'],
    ['https on loopback', 'https://127.0.0.1:49152/callback'],
    ['another scheme', 'ftp://127.0.0.1:49152/callback'],
    ['javascript', 'javascript:alert(1)//127.0.0.1:49152/'],
    ['no port', 'http://127.0.0.1/callback'],
    ['a privileged port', 'http://127.0.0.1:80/callback'],
    ['a port out of range', 'http://127.0.0.1:65536/callback'],
    ['a leading-zero port', 'http://127.0.0.1:049152/callback'],
    ['another loopback address', 'http://127.0.0.2:49152/callback'],
    ['the loopback in hex', 'http://0x7f.0.0.1:49152/callback'],
    ['the loopback as one number', 'http://2130706433:49152/callback'],
    ['an IPv4-mapped IPv6 address', 'http://[::ffff:127.0.0.1]:49152/callback'],
    ['two URIs joined by a comma', 'http://127.0.0.1:49152/callback,https://evil.example/'],
    ['percent-encoding', 'http://127.0.0.1:49152/%2F%2Fevil.example'],
    ['over 256 characters', `http://127.0.0.1:49152/${'a'.repeat(240)}`],
    ['empty', ''],
  ] as const;

  it.each(refusedUris)('refuses %s: 400, invalid_redirect_uri', async (_label, redirectUri) => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    await expectStartRefused(
      h,
      startQuery(pkce, { redirect_uri: redirectUri }),
      'invalid_redirect_uri',
    );
  });

  it('refuses a missing redirect_uri', async () => {
    const h = startLoginHarness();
    await expectStartRefused(
      h,
      startQuery(cliPkce(), { redirect_uri: undefined }),
      'invalid_redirect_uri',
    );
  });

  it.each([
    ['IPv4 with a path', 'http://127.0.0.1:49152/callback'],
    ['IPv6 with a path', 'http://[::1]:1024/cb'],
    ['no path', 'http://127.0.0.1:65535'],
  ])('accepts %s', async (_label, redirectUri) => {
    const h = startLoginHarness();
    const pkce = cliPkce(redirectUri);
    const code = await h.code(pkce);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['no code_challenge_method', { code_challenge_method: undefined }],
    ['the plain method', { code_challenge_method: 'plain' }],
    ['no code_challenge', { code_challenge: undefined }],
    ['neither', { code_challenge: undefined, code_challenge_method: undefined }],
  ])('refuses %s: 400, pkce_required', async (_label, overrides) => {
    const h = startLoginHarness();
    await expectStartRefused(h, startQuery(cliPkce(), overrides), 'pkce_required');
  });

  it.each([
    ['a short code_challenge', { code_challenge: 'abc' }],
    ['a code_challenge with padding', { code_challenge: `${'a'.repeat(42)}=` }],
    ['no state', { state: undefined }],
    ['a short state', { state: 'short' }],
    ['a state with markup', { state: `<script>${'a'.repeat(20)}` }],
  ])('refuses %s: 400, invalid_parameter', async (_label, overrides) => {
    const h = startLoginHarness();
    await expectStartRefused(h, startQuery(cliPkce(), overrides), 'invalid_parameter');
  });

  it('refuses a native-mode provider: a login session vends with AssumeRole only', async () => {
    const h = startLoginHarness({
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
    await expectStartRefused(h, startQuery(cliPkce()), 'invalid_target');
  });
});

describe('terminal login at the ACS: the browser that started it, a principal not denied', () => {
  it('refuses an answer posted without the login cookie (another browser): no code anywhere', async () => {
    const h = startLoginHarness();
    const started = await h.startCli(cliPkce());
    const before = mark(h);
    const answer = await h.postAcs(started, { cookie: '' });
    expectRefused(h, answer, before, { status: 401, reason: 'login_not_bound' });
    expect(answer.body).toContain('<h1>Sign-in failed</h1>');
    expect(h.store.codes.size).toBe(0);
  });

  it("refuses an answer posted with another browser's login cookie", async () => {
    const h = startLoginHarness();
    const started = await h.startCli(cliPkce());
    const before = mark(h);
    const answer = await h.postAcs(started, { cookie: `tvm_login=${'x'.repeat(43)}` });
    expectRefused(h, answer, before, { status: 401, reason: 'login_not_bound' });
    expect(h.store.codes.size).toBe(0);
  });

  it('refuses a deny-listed principal with the error page, never a redirect to the loopback', async () => {
    const h = startLoginHarness();
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider: SAML_TEST.provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: h.clock.now.toISOString(),
    });
    const started = await h.startCli(cliPkce());
    const before = mark(h);
    const answer = await h.postAcs(started);
    expectRefused(h, answer, before, { status: 403, reason: 'denied_principal' });
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(h.store.codes.size).toBe(0);
  });

  it('never makes an IdP-initiated response a terminal login', async () => {
    const h = startLoginHarness({ provider: { allowIdpInitiated: true } });
    const before = mark(h);
    const answer = await h.postAcs({ authnRequestId: '', relayState: 'cli', cookie: '' });
    expectRefused(h, answer, before, { status: 400, reason: 'relay_state_invalid' });
    expect(h.store.codes.size).toBe(0);
  });

  it('stores only the code hash, with a 60 s life, the principal and the browser hash', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const stored = h.store.codes.get(sha256Hex(code));
    expect(stored).toMatchObject({
      provider: 'corp',
      issuer: SAML_TEST.idpEntityId,
      subject: 'alice@corp.example',
      redirectUri: pkce.redirectUri,
      codeChallenge: pkce.challenge,
      browserHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      expiresAt: Math.floor(h.clock.now.getTime() / 1000) + 60,
    });
    expect(JSON.stringify([...h.store.codes])).not.toContain(code);
  });
});

describe('terminal login code exchange: single use, PKCE, the same redirect_uri, 60 s', () => {
  it('refuses a wrong verifier, and the code is gone after that one try', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    let before = mark(h);
    const wrong = await h.token(grant(pkce, code, { code_verifier: cliPkce().verifier }));
    expectRefused(h, wrong, before, { status: 400, reason: 'pkce_mismatch', body: INVALID_GRANT });
    before = mark(h);
    const right = await h.token(grant(pkce, code));
    expectRefused(h, right, before, { status: 400, reason: 'code_invalid', body: INVALID_GRANT });
    expect(h.store.sessions.size).toBe(0);
  });

  it.each([
    ['a missing verifier', { code_verifier: '' }],
    ['a short verifier', { code_verifier: 'a'.repeat(42) }],
    ['a verifier with a space', { code_verifier: `${'a'.repeat(42)} b` }],
  ])('refuses %s as invalid_request, before the code is spent', async (_label, overrides) => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const before = mark(h);
    const answer = await h.token(grant(pkce, code, overrides));
    expectRefused(h, answer, before, {
      status: 400,
      reason: 'invalid_parameter',
      body: INVALID_REQUEST,
    });
  });

  it('refuses a replayed code', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    expect((await h.token(grant(pkce, code))).status).toBe(200);
    const before = mark(h);
    const replay = await h.token(grant(pkce, code));
    expectRefused(h, replay, before, { status: 400, reason: 'code_invalid', body: INVALID_GRANT });
    expect(h.store.sessions.size).toBe(1);
  });

  it('lets exactly one of two racing exchanges win', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const before = mark(h);
    const answers = await Promise.all([h.token(grant(pkce, code)), h.token(grant(pkce, code))]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400]);
    expect(h.store.sessions.size).toBe(1);
    expect(
      h.audits
        .slice(before.audits)
        .map((record) => record.reason)
        .sort(),
    ).toEqual(['code_invalid', 'session_created']);
  });

  it('refuses a code used after 60 s, and accepts one used at 59 s', async () => {
    const h = startLoginHarness();
    const late = cliPkce();
    const lateCode = await h.code(late);
    const inTime = cliPkce();
    const inTimeCode = await h.code(inTime);
    h.advance(59);
    expect((await h.token(grant(inTime, inTimeCode))).status).toBe(200);
    h.advance(1);
    const before = mark(h);
    const answer = await h.token(grant(late, lateCode));
    expectRefused(h, answer, before, { status: 400, reason: 'code_expired', body: INVALID_GRANT });
  });

  it('refuses another redirect_uri than the one the code went to', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const before = mark(h);
    const answer = await h.token(
      grant(pkce, code, { redirect_uri: 'http://127.0.0.1:49153/callback' }),
    );
    expectRefused(h, answer, before, {
      status: 400,
      reason: 'redirect_uri_mismatch',
      body: INVALID_GRANT,
    });
  });

  it('refuses an unknown code and a code of the wrong shape alike', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    for (const code of ['a'.repeat(43), 'not-a-code', `tvms_${'a'.repeat(43)}`]) {
      const before = mark(h);
      const answer = await h.token(grant(pkce, code));
      expectRefused(h, answer, before, {
        status: 400,
        reason: 'code_invalid',
        body: INVALID_GRANT,
      });
    }
  });

  it('refuses a principal denied between the ACS and the exchange', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider: SAML_TEST.provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: h.clock.now.toISOString(),
    });
    const before = mark(h);
    const answer = await h.token(grant(pkce, code));
    expectRefused(h, answer, before, {
      status: 400,
      reason: 'denied_principal',
      body: INVALID_GRANT,
    });
    expect(h.store.sessions.size).toBe(0);
  });

  it.each([
    ['another grant type', { grant_type: 'refresh_token' }, 'unsupported_grant_type'],
    ['no grant type', { grant_type: '' }, 'invalid_parameter'],
    ['no redirect_uri', { redirect_uri: '' }, 'invalid_parameter'],
  ] as const)('answers %s with its RFC 6749 error', async (_label, overrides, reason) => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const before = mark(h);
    const answer = await h.token(grant(pkce, code, overrides));
    expectRefused(h, answer, before, {
      status: 400,
      reason,
      body: { error: reason === 'unsupported_grant_type' ? reason : 'invalid_request' },
    });
  });

  it('refuses a parameter given twice, and a JSON body', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    let before = mark(h);
    const twice = await h.call({
      method: 'POST',
      path: '/v1/login/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams(grant(pkce, code)).toString()}&code=${'b'.repeat(43)}`,
    });
    expectRefused(h, twice, before, {
      status: 400,
      reason: 'invalid_parameter',
      body: INVALID_REQUEST,
    });
    before = mark(h);
    const asJson = await h.call({
      method: 'POST',
      path: '/v1/login/token',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(grant(pkce, code)),
    });
    expectRefused(h, asJson, before, {
      status: 400,
      reason: 'unsupported_content_type',
      body: INVALID_REQUEST,
    });
    // Neither spent the code.
    expect((await h.token(grant(pkce, code))).status).toBe(200);
  });
});

describe('terminal login session: bearer handle, guard and decide at every request', () => {
  const GENERIC_401 = {
    type: 'urn:tvm:problem:authentication',
    title: 'Unauthorized',
    status: 401,
    requestId: expect.any(String),
  };
  const GENERIC_403 = {
    type: 'urn:tvm:problem:forbidden',
    title: 'Forbidden',
    status: 403,
    requestId: expect.any(String),
  };

  it('refuses a deny-listed principal at roles and at credentials (403, as /v1/credentials)', async () => {
    const h = startLoginHarness();
    const handle = await h.session();
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider: SAML_TEST.provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: h.clock.now.toISOString(),
    });
    let before = mark(h);
    const credentials = await h.credentials(handle, { mapping: 'corp-reader' });
    expectRefused(h, credentials, before, {
      status: 403,
      reason: 'denied_principal',
      body: GENERIC_403,
    });
    before = mark(h);
    const roles = await h.roles(handle);
    expectRefused(h, roles, before, { status: 403, reason: 'denied_principal', body: GENERIC_403 });
  });

  it('refuses an expired session with invalid_token', async () => {
    const h = startLoginHarness({ provider: { loginSessionMaxSeconds: 900 } });
    const handle = await h.session();
    h.advance(899);
    expect((await h.roles(handle)).status).toBe(200);
    h.advance(1);
    const before = mark(h);
    const answer = await h.credentials(handle, { mapping: 'corp-reader' });
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid', body: GENERIC_401 });
    expect(answer.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('refuses a handle after the session was ended, and ending it twice', async () => {
    const h = startLoginHarness();
    const handle = await h.session();
    expect((await h.logout(handle)).status).toBe(204);
    let before = mark(h);
    const answer = await h.credentials(handle, { mapping: 'corp-reader' });
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid', body: GENERIC_401 });
    before = mark(h);
    const again = await h.logout(handle);
    expectRefused(h, again, before, { status: 401, reason: 'session_invalid', body: GENERIC_401 });
  });

  it.each([
    ['an unknown handle', `tvms_${'a'.repeat(43)}`],
    ['a one-time code as the bearer', 'a'.repeat(43)],
    ['a JWT', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.'],
  ])('refuses %s with invalid_token', async (_label, bearer) => {
    const h = startLoginHarness();
    await h.session();
    const before = mark(h);
    const answer = await h.credentials(bearer, { mapping: 'corp-reader' });
    expectRefused(h, answer, before, { status: 401, reason: 'session_invalid', body: GENERIC_401 });
    expect(answer.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('refuses a request without a bearer, or with another scheme', async () => {
    const h = startLoginHarness();
    let before = mark(h);
    const none = await h.call({ method: 'GET', path: '/v1/login/roles' });
    expectRefused(h, none, before, { status: 401, reason: 'missing_token', body: GENERIC_401 });
    expect(none.headers['www-authenticate']).toBe('Bearer');
    before = mark(h);
    const basic = await h.call({
      method: 'GET',
      path: '/v1/login/roles',
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    });
    expectRefused(h, basic, before, { status: 401, reason: 'malformed_token', body: GENERIC_401 });
  });

  it("refuses a session whose provider left, switched IdP or went native (a handle of another provider's IdP)", async () => {
    for (const change of [
      { provider: { id: 'corp-new' } },
      { provider: { entityId: 'https://other-idp.example/saml' } },
      { provider: { mode: 'native' } },
    ]) {
      const h = startLoginHarness();
      const handle = await h.session();
      h.reconfigure({ ...change, mappings: [] });
      const before = mark(h);
      const answer = await h.roles(handle);
      expectRefused(h, answer, before, {
        status: 401,
        reason: 'session_invalid',
        body: GENERIC_401,
      });
    }
  });

  it("refuses a mapping of another provider entry, even one sharing the session's IdP", async () => {
    const h = startLoginHarness({
      providers: [
        {
          id: 'corp-b',
          type: 'saml',
          entityId: SAML_TEST.idpEntityId,
          ssoUrl: 'https://idp.corp.example/sso',
          certificates: [fixtureText('keys/idp.crt')],
          spEntityId: 'https://tvm.test.example/v1/saml/corp-b/metadata',
          attributeMap: { groups: 'groups' },
          claims: { groups: { type: 'list' } },
        },
      ],
      mappings: [
        {
          id: 'corp-reader',
          provider: 'corp',
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
          roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
        },
        {
          id: 'b-admin',
          provider: 'corp-b',
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
          roleArn: 'arn:aws:iam::123456789012:role/tvm/b-admin',
        },
      ],
    });
    const handle = await h.session();
    const roles = await h.roles(handle);
    expect((roles.json.roles as { mapping: string }[]).map((role) => role.mapping)).toEqual([
      'corp-reader',
    ]);
    const before = mark(h);
    const answer = await h.credentials(handle, { mapping: 'b-admin' });
    expectRefused(h, answer, before, {
      status: 403,
      reason: 'mapping_not_allowed',
      body: GENERIC_403,
    });
  });

  it('re-decides at every request: a mapping removed since the login is refused', async () => {
    const h = startLoginHarness();
    const handle = await h.session();
    h.reconfigure({
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
    const answer = await h.credentials(handle, { mapping: 'corp-admin' });
    expectRefused(h, answer, before, {
      status: 403,
      reason: 'mapping_not_allowed',
      body: GENERIC_403,
    });
  });

  it.each([
    [
      'a role ARN instead of a mapping',
      { roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin' },
    ],
    ['no mapping', {}],
    ['a duration over an hour', { mapping: 'corp-reader', durationSeconds: 43_200 }],
  ])('refuses %s with 400', async (_label, body) => {
    const h = startLoginHarness();
    const handle = await h.session();
    const before = mark(h);
    const answer = await h.credentials(handle, body);
    expectRefused(h, answer, before, { status: 400, reason: 'bad_request' });
    expect(answer.json).toMatchObject({ type: 'urn:tvm:problem:bad-request' });
  });

  it('stores only the hash of the handle', async () => {
    const h = startLoginHarness();
    const handle = await h.session();
    expect([...h.store.sessions.keys()]).toEqual([sha256Hex(handle)]);
    expect(JSON.stringify([...h.store.sessions, ...h.store.index])).not.toContain(handle);
    expect(JSON.stringify([...h.store.sessions])).not.toContain(handle.slice(5));
  });

  it('names every reason it writes in the one vocabulary', () => {
    for (const reason of [
      'invalid_redirect_uri',
      'pkce_required',
      'unsupported_grant_type',
      'code_invalid',
      'code_expired',
      'pkce_mismatch',
      'redirect_uri_mismatch',
      'session_invalid',
      'cli_code_issued',
      'session_created',
      'roles_listed',
      'session_ended',
    ]) {
      expect(AUDIT_REASONS).toContain(reason);
    }
  });
});

describe('terminal login routes: only their own method', () => {
  const refused = [
    ['token', 'POST'],
    ['roles', 'GET'],
    ['credentials', 'POST'],
    ['session', 'DELETE'],
  ].flatMap(([action, allowed]) =>
    ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']
      .filter((method) => method !== allowed)
      .map((method) => [method, `/v1/login/${action}`, allowed ?? ''] as const),
  );

  it.each(refused)('%s %s is a 405 with Allow: %s, audited', async (method, path, allowed) => {
    const h = startLoginHarness();
    const before = mark(h);
    const answer = await h.call({ method, path });
    expectRefused(h, answer, before, { status: 405, reason: 'method_not_allowed' });
    expect(answer.headers.allow).toBe(allowed);
    expect(answer.headers['content-type']).toBe('application/problem+json');
  });
});
