import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assembleToken,
  encryptedToken,
  flattenedJsonToken,
  hmacToken,
  publicKeyPem,
  signCompact,
  startRecordingServer,
  TEST_AUDIENCE,
  validClaims,
} from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  harnessConfig,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

/**
 * Every bad input of the credentials route, through the real route: each ends with its status, the generic
 * body, no STS call, nothing vended, and one audit record with the reason.
 */
describe('credentials route rejections', () => {
  let harness: Harness;
  const now = () => Date.now();
  const claims = (overrides: Record<string, unknown> = {}) =>
    validClaims(harness.issuer.issuer, now(), { token_use: 'id', tenant: 'acme', ...overrides });
  const kid = () => harness.issuer.keys[0]?.kid ?? '';

  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(async () => {
    await harness.stop();
  });

  describe('forged or unsafe tokens (401)', () => {
    it('alg none, without fetching any key', async () => {
      const token = assembleToken({ alg: 'none', typ: 'JWT' }, claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'algorithm_not_allowed',
      });
      expect(harness.issuer.jwksRequests()).toBe(0);
    });

    it('HS256 signed with the RSA public key as the HMAC secret (PEM)', async () => {
      const key = harness.issuer.keys[0];
      if (key === undefined) throw new Error('no key');
      const token = hmacToken(await publicKeyPem(key), { kid: kid(), typ: 'JWT' }, claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'algorithm_not_allowed',
      });
    });

    it('HS256 signed with the RSA public key as the HMAC secret (JWK JSON)', async () => {
      const key = harness.issuer.keys[0];
      const token = hmacToken(JSON.stringify(key?.publicJwk), { kid: kid(), typ: 'JWT' }, claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'algorithm_not_allowed',
      });
    });

    it('an algorithm outside the allowlist (RS512 when only RS256 is allowed)', async () => {
      // The issuer really publishes an RS512 key; the provider allows only RS256.
      const rs512 = await harness.issuer.addKey('RS512');
      const token = await harness.issuer.sign({ kid: rs512.kid }, claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'algorithm_not_allowed',
      });
    });

    it.each(['jwk', 'jku', 'x5u'])(
      'an embedded %s header, and no fetch of it happens',
      async (name) => {
        const attacker = await startRecordingServer({ keys: [harness.issuer.keys[0]?.publicJwk] });
        try {
          const value = name === 'jwk' ? harness.issuer.keys[0]?.publicJwk : `${attacker.url}/keys`;
          const token = await harness.issuer.sign({ kid: kid(), [name]: value }, claims());
          expectRejection(harness, await harness.call({ token }), {
            status: 401,
            reason: 'embedded_key_header',
          });
          expect(attacker.requests()).toBe(0);
        } finally {
          await attacker.stop();
        }
      },
    );

    it('a random kid, and a burst of them refetches the JWKS at most once per cooldown', async () => {
      // Prepare: a valid call warms the key cache.
      expect((await harness.call({ token: await harness.mint() })).status).toBe(200);
      const fetchesBefore = harness.issuer.jwksRequests();
      harness.audits.length = 0;
      stsMock.resetHistory();

      // Act
      const key = harness.issuer.keys[0];
      if (key === undefined) throw new Error('no key');
      const forged = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          signCompact(key.privateKey, { alg: 'RS256', kid: `random-${i}` }, claims()),
        ),
      );
      const results = await Promise.all(forged.map((token) => harness.call({ token })));

      // Assess
      expect(results.every((r) => r.status === 401)).toBe(true);
      expect(harness.issuer.jwksRequests() - fetchesBefore).toBeLessThanOrEqual(1);
      expect(harness.audits).toHaveLength(20);
      expect(harness.audits.every((a) => a.reason === 'unknown_kid')).toBe(true);
      expect(stsMock.calls()).toHaveLength(0);
    });

    it.each([
      ['a number', 7],
      ['an object', { x: 1 }],
    ])('a kid that is %s', async (_label, value) => {
      const token = await harness.issuer.sign({ kid: value as never }, claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'invalid_kid',
      });
    });

    it('an unknown crit header', async () => {
      const token = await harness.issuer.sign(
        { kid: kid(), crit: ['exp-v2'], 'exp-v2': 1 },
        claims(),
      );
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'unsupported_crit_header',
      });
    });

    it('a JWE', async () => {
      const token = await encryptedToken(claims());
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'unsupported_token_type',
      });
    });

    it('a JWS in JSON serialization', async () => {
      const key = harness.issuer.keys[0];
      if (key === undefined) throw new Error('no key');
      const json = await flattenedJsonToken(key.privateKey, { alg: 'RS256', kid: kid() }, claims());
      const result = await harness.call({ authorization: `Bearer ${json.replaceAll(' ', '')}` });
      expectRejection(harness, result, { status: 401, reason: 'malformed_token' });
    });

    it('no Authorization header at all', async () => {
      expectRejection(harness, await harness.call({}), { status: 401, reason: 'missing_token' });
    });

    it('an Authorization header that is not a bearer token', async () => {
      expectRejection(harness, await harness.call({ authorization: 'Basic dXNlcjpwYXNz' }), {
        status: 401,
        reason: 'malformed_token',
      });
    });
  });

  describe('tokens for someone else, or at the wrong time (401)', () => {
    it.each([
      ['another issuer', (issuer: string) => `${issuer.replace('127.0.0.1', 'localhost')}`],
      ['a trailing-slash variant of the issuer', (issuer: string) => `${issuer}/`],
    ])('%s', async (_label, iss) => {
      const token = await harness.issuer.sign(
        { kid: kid() },
        claims({ iss: iss(harness.issuer.issuer) }),
      );
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'unknown_issuer',
      });
    });

    it('a wrong audience', async () => {
      const token = await harness.mint({ aud: 'someone-elses-app' });
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'audience_mismatch',
      });
    });

    it('a multi-audience token without azp', async () => {
      const token = await harness.mint({ aud: [TEST_AUDIENCE, 'second-client'] });
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'azp_mismatch',
      });
    });

    it('a multi-audience token whose azp is not an authorized party', async () => {
      const token = await harness.mint({
        aud: [TEST_AUDIENCE, 'second-client'],
        azp: 'second-client',
      });
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'azp_mismatch',
      });
    });

    it('an expired token', async () => {
      const token = await harness.issuer.sign(
        { kid: kid() },
        claims({ exp: Math.floor(now() / 1000) - 120 }),
      );
      expectRejection(harness, await harness.call({ token }), { status: 401, reason: 'expired' });
    });

    it('a token not yet valid', async () => {
      const token = await harness.issuer.sign(
        { kid: kid() },
        claims({ nbf: Math.floor(now() / 1000) + 600 }),
      );
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'not_yet_valid',
      });
    });

    it('an iat in the future', async () => {
      const token = await harness.issuer.sign(
        { kid: kid() },
        claims({ iat: Math.floor(now() / 1000) + 600 }),
      );
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'issued_in_future',
      });
    });

    it.each([
      ['a string exp', { exp: '9999999999' }],
      ['a NaN-like exp', { exp: 'NaN' }],
      ['a string iat', { iat: 'yesterday' }],
    ])('%s', async (_label, overrides) => {
      const token = await harness.issuer.sign({ kid: kid() }, claims(overrides));
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'invalid_claims',
      });
    });

    it('a Cognito access token presented as an ID token', async () => {
      const token = await harness.mint({ token_use: 'access' });
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'access_token',
      });
    });
  });

  describe('access tokens presented as ID tokens (401)', () => {
    // Keycloak 26: header typ JWT (not at+jwt), payload typ Bearer; an Audience mapper has put
    // our client id in `aud`. Without the cognito preset, only the markers tell it apart.
    const keycloakAccessToken = (overrides: Record<string, unknown> = {}) =>
      harness.issuer.sign(
        { kid: kid(), typ: 'JWT' },
        validClaims(harness.issuer.issuer, now(), {
          typ: 'Bearer',
          azp: TEST_AUDIENCE,
          tenant: 'acme',
          scope: 'openid profile email',
          sid: '7d4c1f0e-5b7a-4a57-9d43-2f4d8c1e6a10',
          realm_access: { roles: ['default-roles-tvm', 'offline_access'] },
          ...overrides,
        }),
      );

    beforeEach(async () => {
      await harness.stop();
      harness = await startHarness({
        config: (issuer) => harnessConfig(issuer, { preset: undefined }),
      });
    });

    it.each([
      ['as Keycloak issues it', {}],
      ['without its scope claim', { scope: undefined }],
    ])('a Keycloak access token addressed to our client id, %s', async (_label, overrides) => {
      const token = await keycloakAccessToken(overrides);
      expectRejection(harness, await harness.call({ token }), {
        status: 401,
        reason: 'access_token',
      });
    });

    it('the same token as GET (container credentials)', async () => {
      const token = await keycloakAccessToken();
      expectRejection(harness, await harness.call({ method: 'GET', token }), {
        status: 401,
        reason: 'access_token',
      });
    });

    it('vends for the Keycloak ID token of the same user (typ ID)', async () => {
      const token = await keycloakAccessToken({ typ: 'ID', scope: undefined });
      const result = await harness.call({ token });
      expect(result.status).toBe(200);
      expect(harness.audits[0]?.reason).toBe('ok');
    });
  });

  describe('oversized input (413)', () => {
    it('an Authorization header over 16 KB', async () => {
      const result = await harness.call({ authorization: `Bearer ${'a'.repeat(16 * 1024)}` });
      expectRejection(harness, result, { status: 413, reason: 'token_too_large' });
    });

    it('a body over the limit', async () => {
      const token = await harness.mint();
      const body = JSON.stringify({ mapping: 'reader', padding: 'x'.repeat(5_000) });
      expectRejection(harness, await harness.call({ token, body }), {
        status: 413,
        reason: 'body_too_large',
      });
    });
  });

  describe('claims that try to steer the decision (403)', () => {
    it('__proto__ and constructor claims cannot satisfy a match', async () => {
      const token = await harness.mint({
        tenant: undefined,
        __proto__: { groups: ['admins'], tenant: 'acme' },
        constructor: { prototype: { groups: ['admins'] } },
      });
      expectRejection(harness, await harness.call({ token }), {
        status: 403,
        reason: 'no_matching_mapping',
      });
    });

    it.each([
      ['a wildcard', 'acme*'],
      ['a question mark', 'ac?e'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, on purpose
      ['a policy variable', '${aws:username}'],
      ['a path traversal', '../other-tenant'],
      ['a quote', 'acme"'],
      ['a JSON break-out', 'x"}],"Effect":"Allow","Resource":["*'],
      ['a newline', 'acme\nx'],
    ])('%s in a claim that reaches the session policy and a tag', async (_label, tenant) => {
      const token = await harness.mint({ tenant });
      expectRejection(harness, await harness.call({ token }), {
        status: 403,
        reason: 'claim_value_rejected',
      });
    });

    it('a request for a mapping the caller does not match', async () => {
      const token = await harness.mint();
      const result = await harness.call({ token, body: JSON.stringify({ mapping: 'admin' }) });
      expectRejection(harness, result, { status: 403, reason: 'mapping_not_allowed' });
    });
  });

  describe('malformed requests (400)', () => {
    it.each([
      ['a role ARN', { roleArn: 'arn:aws:iam::999999999999:role/tvm/admin' }],
      ['an account id', { accountId: '999999999999' }],
      ['a policy', { policy: '{"Statement":[]}' }],
    ])('a body naming %s is refused, never honoured', async (_label, body) => {
      const token = await harness.mint();
      const result = await harness.call({ token, body: JSON.stringify(body) });
      expectRejection(harness, result, { status: 400, reason: 'bad_request' });
      expect(String(result.body.detail)).toMatch(/unknown field/);
    });

    it.each([
      ['43200', 43_200],
      ['0', 0],
      ['-1', -1],
      ['"3600x"', '3600x'],
      ['3600.5', 3600.5],
    ])('durationSeconds %s in the body', async (_label, durationSeconds) => {
      const token = await harness.mint();
      const result = await harness.call({ token, body: JSON.stringify({ durationSeconds }) });
      expectRejection(harness, result, { status: 400, reason: 'bad_request' });
      expect(result.body.detail).toBe('durationSeconds must be an integer from 900 to 3600');
    });

    it.each(['43200', '0', '-1', '3600x'])(
      'durationSeconds=%s in the query of GET',
      async (value) => {
        const token = await harness.mint();
        const result = await harness.call({
          method: 'GET',
          token,
          query: { durationSeconds: value },
        });
        expectRejection(harness, result, { status: 400, reason: 'bad_request' });
      },
    );

    it('a body that is not JSON', async () => {
      const token = await harness.mint();
      expectRejection(harness, await harness.call({ token, body: '{"mapping":' }), {
        status: 400,
        reason: 'bad_request',
      });
    });
  });
});
