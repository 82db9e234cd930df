import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthFailureReason } from '#shared/auth/identity.ts';
import { createOidcAuthenticator, MAX_TOKEN_CHARS } from '#shared/auth/oidc.ts';
import { type OidcProvider, OidcProviderSchema } from '#shared/config/schema.ts';
import { AuthenticationError } from '#shared/errors.ts';
import {
  assembleToken,
  encryptedToken,
  flattenedJsonToken,
  hmacToken,
  providerFor,
  publicKeyPem,
  type RecordingServer,
  startRecordingServer,
  startTestIssuer,
  TEST_AUDIENCE,
  TEST_SUBJECT,
  type TestIssuer,
  validClaims,
} from '../../support/oidc-issuer.ts';

// 2030-01-01T00:00:00Z: a fixed clock shared by the issuer and the authenticator.
const START_MS = Date.UTC(2030, 0, 1);
let clockMs = START_MS;
const now = () => clockMs;

let idp: TestIssuer;
let attacker: RecordingServer;

beforeAll(async () => {
  idp = await startTestIssuer({ algorithms: ['RS256', 'RS512', 'ES256'], now });
  attacker = await startRecordingServer({ keys: [] });
});

afterAll(async () => {
  await idp?.stop();
  await attacker?.stop();
});

/** A fresh authenticator (cold JWKS cache) and the provider list it is asked to use. */
function setup(overrides: Parameters<typeof providerFor>[1] = {}) {
  clockMs = START_MS;
  const provider = providerFor(idp, overrides);
  const authenticator = createOidcAuthenticator({ now, stage: 'local' });
  return {
    provider,
    authenticate: (token: string, providers: readonly OidcProvider[] = [provider], hint = {}) =>
      authenticator.authenticate(token, providers, hint),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<AuthenticationError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AuthenticationError);
  return error as AuthenticationError;
}

/** Asserts the rejection reason, and that the issuer received no request while it ran. */
async function expectRejectedWithoutFetch(
  attempt: () => Promise<unknown>,
  reason: AuthFailureReason,
): Promise<void> {
  const before = idp.requests();
  const error = await failureOf(attempt());
  expect(error.code).toBe('ERR_AUTHENTICATION');
  expect(error.reason).toBe(reason);
  expect(idp.requests() - before).toBe(0);
}

async function expectRejected(attempt: () => Promise<unknown>, reason: AuthFailureReason) {
  const error = await failureOf(attempt());
  expect(error.code).toBe('ERR_AUTHENTICATION');
  expect(error.reason).toBe(reason);
}

const rs256 = () => idp.keys[0] as TestIssuer['keys'][number];
const keyOf = (alg: string) => idp.keys.find((key) => key.alg === alg) as (typeof idp.keys)[number];

describe('oidc authenticate', () => {
  describe('accepts', () => {
    it('returns the identity of a valid token', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.mint({ email: 'alice@example.com', groups: ['admins', 'dev'] });

      // Act
      const identity = await authenticate(token);

      // Assess
      expect(identity.provider).toBe('test-idp');
      expect(identity.subject).toBe(TEST_SUBJECT);
      expect({ ...identity.claims }).toEqual({
        iss: idp.issuer,
        sub: TEST_SUBJECT,
        aud: TEST_AUDIENCE,
        iat: START_MS / 1000,
        nbf: START_MS / 1000 - 10,
        exp: START_MS / 1000 + 3600,
        email: 'alice@example.com',
        groups: ['admins', 'dev'],
      });
      expect(Object.getPrototypeOf(identity.claims)).toBeNull();
    });

    it('finds the keys by OIDC discovery when no jwksUri is configured', async () => {
      // Prepare
      const { authenticate } = setup({ jwksUri: undefined });
      const discoveryBefore = idp.discoveryRequests();

      // Act
      const identity = await authenticate(await idp.mint());

      // Assess
      expect(identity.subject).toBe(TEST_SUBJECT);
      expect(idp.discoveryRequests() - discoveryBefore).toBe(1);
    });

    it('accepts a token of exactly the size limit', async () => {
      // Prepare
      const { authenticate } = setup();
      const base = (await idp.mint({ filler: '' })).length;
      let filler = Math.floor(((MAX_TOKEN_CHARS - base) * 3) / 4);
      let token = await idp.mint({ filler: 'x'.repeat(filler) });
      while (token.length > MAX_TOKEN_CHARS) {
        filler -= 1;
        token = await idp.mint({ filler: 'x'.repeat(filler) });
      }

      // Act
      const identity = await authenticate(token);

      // Assess
      expect(token.length).toBeGreaterThan(MAX_TOKEN_CHARS - 4);
      expect(identity.subject).toBe(TEST_SUBJECT);
    });

    it('accepts a multi-audience token whose azp is an allowed party', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.mint({ aud: [TEST_AUDIENCE, 'other-api'], azp: TEST_AUDIENCE });

      // Act / Assess
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('accepts an azp listed in authorizedParties', async () => {
      // Prepare
      const { authenticate } = setup({ authorizedParties: ['mobile-app'] });
      const token = await idp.mint({ aud: [TEST_AUDIENCE, 'other-api'], azp: 'mobile-app' });

      // Act / Assess
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('accepts a token that expired within the clock tolerance', async () => {
      // Prepare
      const { authenticate } = setup({ clockToleranceSeconds: 60 });
      const token = await idp.mint({}, { expiresIn: 600 });
      clockMs = START_MS + 630_000;

      // Act / Assess
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('accepts a Cognito ID token (token_use id)', async () => {
      // Prepare
      const { authenticate } = setup({ preset: 'cognito' });
      const token = await idp.mint({ token_use: 'id' });

      // Act / Assess
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('accepts any algorithm of the allowlist', async () => {
      // Prepare
      const { authenticate } = setup({ algorithms: ['RS256', 'ES256'] });
      const token = await idp.mint({}, { kid: keyOf('ES256').kid });

      // Act / Assess
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('accepts the provider the client named when it is the token issuer', async () => {
      // Prepare
      const { authenticate, provider } = setup();
      const other = providerFor(
        { issuer: 'https://other.example.com', jwksUri: 'https://other.example.com/jwks' },
        { id: 'other-idp' },
      );

      // Act
      const identity = await authenticate(await idp.mint(), [other, provider], {
        provider: 'test-idp',
      });

      // Assess
      expect(identity.provider).toBe('test-idp');
    });

    it('picks by aud among providers that share one issuer', async () => {
      // Prepare
      const { authenticate, provider } = setup();
      const web = providerFor(idp, { id: 'web-client', audiences: ['web-client-id'] });

      // Act
      const identity = await authenticate(await idp.mint({ aud: 'web-client-id' }), [
        provider,
        web,
      ]);

      // Assess
      expect(identity.provider).toBe('web-client');
    });
  });

  describe('rejects before any key lookup', () => {
    it('rejects an empty token', async () => {
      const { authenticate } = setup();
      await expectRejectedWithoutFetch(() => authenticate(''), 'missing_token');
    });

    it('rejects a validly signed token over 16 KB before decoding it', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.mint({ filler: 'x'.repeat(MAX_TOKEN_CHARS) });

      // Act / Assess
      expect(token.length).toBeGreaterThan(MAX_TOKEN_CHARS);
      await expectRejectedWithoutFetch(() => authenticate(token), 'token_too_large');
    });

    it('rejects 16 KB + 1 of garbage as too large, not as malformed', async () => {
      const { authenticate } = setup();
      await expectRejectedWithoutFetch(
        () => authenticate('!'.repeat(MAX_TOKEN_CHARS + 1)),
        'token_too_large',
      );
    });

    it.each(['none', 'None', 'NONE', 'nOnE'])('rejects alg %s (unsecured JWT)', async (alg) => {
      // Prepare
      const { authenticate } = setup();
      const token = assembleToken(
        { alg, typ: 'JWT', kid: rs256().kid },
        validClaims(idp.issuer, START_MS),
      );

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'algorithm_not_allowed');
    });

    it('rejects HS256 keyed with the RSA public key as PEM', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = hmacToken(
        await publicKeyPem(rs256()),
        { typ: 'JWT', kid: rs256().kid },
        validClaims(idp.issuer, START_MS),
      );

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'algorithm_not_allowed');
    });

    it('rejects HS256 keyed with the RSA public key as JWK JSON', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = hmacToken(
        JSON.stringify(rs256().publicJwk),
        { typ: 'JWT', kid: rs256().kid },
        validClaims(idp.issuer, START_MS),
      );

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'algorithm_not_allowed');
    });

    it('rejects an algorithm the provider does not allow (RS512 when only RS256 is)', async () => {
      // Prepare
      const { authenticate } = setup({ algorithms: ['RS256'] });
      const token = await idp.mint({}, { kid: keyOf('RS512').kid });

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'algorithm_not_allowed');
    });

    it('rejects a token signed by a key embedded in its jwk header', async () => {
      // Prepare
      const { authenticate } = setup();
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const token = await new SignJWT(validClaims(idp.issuer, START_MS))
        .setProtectedHeader({ alg: 'RS256', kid: 'attacker', jwk: await exportJWK(publicKey) })
        .sign(privateKey);

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'embedded_key_header');
    });

    it('rejects a jku header and never fetches the URL it names', async () => {
      // Prepare
      const { authenticate } = setup();
      const { privateKey } = await generateKeyPair('RS256');
      const token = await new SignJWT(validClaims(idp.issuer, START_MS))
        .setProtectedHeader({ alg: 'RS256', kid: 'attacker', jku: `${attacker.url}/jwks` })
        .sign(privateKey);
      const attackerBefore = attacker.requests();

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'embedded_key_header');
      expect(attacker.requests() - attackerBefore).toBe(0);
    });

    it('rejects an x5u header and never fetches the URL it names', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.sign(
        { typ: 'JWT', kid: rs256().kid, x5u: `${attacker.url}/cert.pem` },
        validClaims(idp.issuer, START_MS),
      );
      const attackerBefore = attacker.requests();

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'embedded_key_header');
      expect(attacker.requests() - attackerBefore).toBe(0);
    });

    it('rejects an x5c header', async () => {
      const { authenticate } = setup();
      const token = await idp.sign(
        { typ: 'JWT', kid: rs256().kid, x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
        validClaims(idp.issuer, START_MS),
      );
      await expectRejectedWithoutFetch(() => authenticate(token), 'embedded_key_header');
    });

    it('rejects a numeric kid', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({}, { header: { kid: 42 } });
      await expectRejectedWithoutFetch(() => authenticate(token), 'invalid_kid');
    });

    it('rejects an object kid', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({}, { header: { kid: { $ne: '' } } });
      await expectRejectedWithoutFetch(() => authenticate(token), 'invalid_kid');
    });

    it('rejects an unknown crit header even though the signature is valid', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.sign(
        {
          typ: 'JWT',
          kid: rs256().kid,
          crit: ['urn:example:must-understand'],
          'urn:example:must-understand': true,
        },
        validClaims(idp.issuer, START_MS),
      );

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'unsupported_crit_header');
    });

    it('rejects a JWE (five parts)', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await encryptedToken(validClaims(idp.issuer, START_MS));

      // Act / Assess
      expect(token.split('.')).toHaveLength(5);
      await expectRejectedWithoutFetch(() => authenticate(token), 'unsupported_token_type');
    });

    it('rejects a validly signed JWS in JSON serialization', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await flattenedJsonToken(
        rs256().privateKey,
        { alg: 'RS256', typ: 'JWT', kid: rs256().kid },
        validClaims(idp.issuer, START_MS),
      );

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'malformed_token');
    });

    it('rejects a JSON-serialized JWS that smuggles jku in its unprotected header', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await flattenedJsonToken(
        rs256().privateKey,
        { alg: 'RS256', typ: 'JWT' },
        validClaims(idp.issuer, START_MS),
        { kid: rs256().kid, jku: `${attacker.url}/jwks` },
      );
      const attackerBefore = attacker.requests();

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'malformed_token');
      expect(attacker.requests() - attackerBefore).toBe(0);
    });

    it.each([
      ['two parts', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0'],
      ['four parts', 'a.b.c.d'],
      ['characters outside base64url', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIi+OiJhIn0.c2ln'],
      ['a header that is not JSON', `${Buffer.from('{alg:RS256').toString('base64url')}.e30.c2ln`],
      [
        'a header that is a JSON array',
        `${Buffer.from('["RS256"]').toString('base64url')}.e30.c2ln`,
      ],
      [
        'a payload that is not JSON',
        `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.bm9wZQ.c2ln`,
      ],
    ])('rejects %s as malformed', async (_label, token) => {
      const { authenticate } = setup();
      await expectRejectedWithoutFetch(() => authenticate(token), 'malformed_token');
    });

    it('rejects a payload with a literal NaN (not JSON) as malformed', async () => {
      // Prepare
      const { authenticate } = setup();
      const raw = JSON.stringify(validClaims(idp.issuer, START_MS)).replace(
        /"exp":\d+/,
        '"exp":NaN',
      );
      const token = await idp.sign({ typ: 'JWT', kid: rs256().kid }, raw);

      // Act / Assess
      await expectRejectedWithoutFetch(() => authenticate(token), 'malformed_token');
    });

    it('rejects a wrong issuer', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ iss: 'https://evil.example.com' });
      await expectRejectedWithoutFetch(() => authenticate(token), 'unknown_issuer');
    });

    it('rejects the trailing-slash variant of the issuer', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ iss: `${idp.issuer}/` });
      await expectRejectedWithoutFetch(() => authenticate(token), 'unknown_issuer');
    });

    it('rejects a token without iss', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ iss: undefined });
      await expectRejectedWithoutFetch(() => authenticate(token), 'unknown_issuer');
    });

    it('rejects when the client names a provider the token was not issued by', async () => {
      // Prepare
      const { authenticate, provider } = setup();
      const other = providerFor(
        { issuer: 'https://other.example.com', jwksUri: 'https://other.example.com/jwks' },
        { id: 'other-idp' },
      );

      // Act / Assess
      await expectRejectedWithoutFetch(
        async () => authenticate(await idp.mint(), [provider, other], { provider: 'other-idp' }),
        'provider_mismatch',
      );
    });

    it('rejects when the client names a provider that does not exist', async () => {
      const { authenticate, provider } = setup();
      await expectRejectedWithoutFetch(
        async () => authenticate(await idp.mint(), [provider], { provider: 'nope' }),
        'provider_mismatch',
      );
    });
  });

  describe('rejects after verification', () => {
    it('rejects a token whose signature does not match its payload', async () => {
      // Prepare
      const { authenticate } = setup();
      const [header, , signature] = (await idp.mint()).split('.');
      const forgedPayload = Buffer.from(
        JSON.stringify(validClaims(idp.issuer, START_MS, { sub: 'admin' })),
      ).toString('base64url');

      // Act / Assess
      await expectRejected(
        () => authenticate(`${header}.${forgedPayload}.${signature}`),
        'signature_invalid',
      );
    });

    it('rejects a kid the JWKS does not have', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({}, { header: { kid: 'not-a-published-key' } });
      await expectRejected(() => authenticate(token), 'unknown_kid');
    });

    it('rejects a wrong audience', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ aud: 'some-other-client' });
      await expectRejected(() => authenticate(token), 'audience_mismatch');
    });

    it('rejects a multi-audience token without azp', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ aud: [TEST_AUDIENCE, 'other-api'] });
      await expectRejected(() => authenticate(token), 'azp_mismatch');
    });

    it('rejects a multi-audience token whose azp is not an allowed party', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ aud: [TEST_AUDIENCE, 'other-api'], azp: 'other-api' });
      await expectRejected(() => authenticate(token), 'azp_mismatch');
    });

    it('rejects a single-audience token with a foreign azp', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ azp: 'someone-else' });
      await expectRejected(() => authenticate(token), 'azp_mismatch');
    });

    it('rejects an expired token', async () => {
      // Prepare
      const { authenticate } = setup({ clockToleranceSeconds: 60 });
      const token = await idp.mint({}, { expiresIn: 600 });
      clockMs = START_MS + 661_000;

      // Act / Assess
      await expectRejected(() => authenticate(token), 'expired');
    });

    it('rejects a token that is not valid yet (nbf in the future)', async () => {
      const { authenticate } = setup({ clockToleranceSeconds: 60 });
      const token = await idp.mint({ nbf: START_MS / 1000 + 120 });
      await expectRejected(() => authenticate(token), 'not_yet_valid');
    });

    it('rejects a token issued in the future', async () => {
      const { authenticate } = setup({ clockToleranceSeconds: 60 });
      const token = await idp.mint({ iat: START_MS / 1000 + 120 });
      await expectRejected(() => authenticate(token), 'issued_in_future');
    });

    it('rejects a token issued in the future when maxTokenAge is set too', async () => {
      const { authenticate } = setup({ clockToleranceSeconds: 60, maxTokenAgeSeconds: 300 });
      const token = await idp.mint({ iat: START_MS / 1000 + 120 });
      await expectRejected(() => authenticate(token), 'issued_in_future');
    });

    it('rejects a token older than maxTokenAge', async () => {
      // Prepare
      const { authenticate } = setup({ clockToleranceSeconds: 60, maxTokenAgeSeconds: 300 });
      const token = await idp.mint();
      clockMs = START_MS + 361_000;

      // Act / Assess
      await expectRejected(() => authenticate(token), 'token_too_old');
    });

    it('rejects exp = null (what JSON makes of NaN)', async () => {
      const { authenticate } = setup();
      const token = await idp.sign(
        { typ: 'JWT', kid: rs256().kid },
        JSON.stringify(validClaims(idp.issuer, START_MS, { exp: Number.NaN })),
      );
      await expectRejected(() => authenticate(token), 'invalid_claims');
    });

    it('rejects a string exp', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ exp: String(START_MS / 1000 + 3600) });
      await expectRejected(() => authenticate(token), 'invalid_claims');
    });

    it('rejects a string nbf', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ nbf: '0' });
      await expectRejected(() => authenticate(token), 'invalid_claims');
    });

    it('rejects an exp of 1e999 (Infinity: a token that never expires)', async () => {
      // Prepare
      const { authenticate } = setup();
      const raw = JSON.stringify(validClaims(idp.issuer, START_MS)).replace(
        /"exp":\d+/,
        '"exp":1e999',
      );
      const token = await idp.sign({ typ: 'JWT', kid: rs256().kid }, raw);

      // Act / Assess
      await expectRejected(() => authenticate(token), 'invalid_claims');
    });

    it('rejects a token without exp', async () => {
      const { authenticate } = setup();
      const token = await idp.mint({ exp: undefined });
      await expectRejected(() => authenticate(token), 'invalid_claims');
    });

    it('rejects a Cognito access token (token_use access) as an access token', async () => {
      const { authenticate } = setup({ preset: 'cognito' });
      const token = await idp.mint({ token_use: 'access', client_id: TEST_AUDIENCE });
      await expectRejected(() => authenticate(token), 'access_token');
    });

    it('rejects a Cognito-shaped access token (client_id, no aud)', async () => {
      // Prepare
      const { authenticate } = setup({ preset: 'cognito' });
      const token = await idp.mint({
        aud: undefined,
        client_id: TEST_AUDIENCE,
        token_use: 'access',
      });

      // Act / Assess
      await expectRejected(() => authenticate(token), 'audience_mismatch');
    });

    it('rejects a Cognito token without token_use', async () => {
      const { authenticate } = setup({ preset: 'cognito' });
      await expectRejected(async () => authenticate(await idp.mint()), 'token_use_mismatch');
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['a number', 12345],
      ['longer than 255 characters', 'a'.repeat(256)],
    ])('rejects a sub that is %s', async (_label, sub) => {
      const { authenticate } = setup();
      const token = await idp.mint({ sub });
      await expectRejected(() => authenticate(token), 'missing_subject');
    });

    it('rejects a missing typ when the provider requires one', async () => {
      // Prepare
      const { authenticate } = setup({ requiredTyp: 'JWT' });
      const token = await idp.sign({ kid: rs256().kid }, validClaims(idp.issuer, START_MS));

      // Act / Assess
      await expectRejected(() => authenticate(token), 'typ_mismatch');
    });

    it('rejects another typ when the provider requires JWT', async () => {
      const { authenticate } = setup({ requiredTyp: 'JWT' });
      const token = await idp.mint({}, { header: { typ: 'dpop+jwt' } });
      await expectRejected(() => authenticate(token), 'typ_mismatch');
    });

    it('accepts the required typ', async () => {
      const { authenticate } = setup({ requiredTyp: 'JWT' });
      await expect(authenticate(await idp.mint())).resolves.toMatchObject({
        subject: TEST_SUBJECT,
      });
    });
  });

  describe('access tokens stay out', () => {
    /** The refusal every marker gives: its own reason, and the marker in the cause. */
    async function expectAccessToken(attempt: Promise<unknown>, marker: string): Promise<void> {
      const error = await failureOf(attempt);
      expect(error.code).toBe('ERR_AUTHENTICATION');
      expect(error.reason).toBe('access_token');
      expect(error.cause).toEqual({ marker });
    }

    const ALL_SWITCHES: Parameters<typeof providerFor>[1] = {
      allowAccessTokenMarkers: ['payload_typ', 'token_use', 'scope'],
    };

    describe('header typ at+jwt (RFC 9068)', () => {
      it.each(['at+jwt', 'application/at+jwt', 'AT+JWT'])('refuses header typ %s', async (typ) => {
        const { authenticate } = setup();
        const token = await idp.mint({}, { header: { typ } });
        await expectAccessToken(authenticate(token), 'header_typ');
      });

      it('refuses at+jwt when the provider requires another typ', async () => {
        const { authenticate } = setup({ requiredTyp: 'JWT' });
        const token = await idp.mint({}, { header: { typ: 'at+jwt' } });
        await expectAccessToken(authenticate(token), 'header_typ');
      });

      it('refuses at+jwt whatever markers the provider allows', async () => {
        const { authenticate } = setup(ALL_SWITCHES);
        const token = await idp.mint({}, { header: { typ: 'at+jwt' } });
        await expectAccessToken(authenticate(token), 'header_typ');
      });

      it('reads the marker from verified bytes only: a forged at+jwt token is a bad signature', async () => {
        // Prepare
        const { authenticate } = setup();
        const [header, , signature] = (await idp.mint({}, { header: { typ: 'at+jwt' } })).split(
          '.',
        );
        const payload = Buffer.from(JSON.stringify(validClaims(idp.issuer, START_MS))).toString(
          'base64url',
        );

        // Act / Assess
        await expectRejected(
          () => authenticate(`${header}.${payload}.${signature}`),
          'signature_invalid',
        );
      });

      it('cannot be switched off, nor required, in the config', () => {
        const base = { id: 'idp', type: 'oidc', issuer: idp.issuer, audiences: [TEST_AUDIENCE] };
        expect(
          OidcProviderSchema.safeParse({ ...base, allowAccessTokenMarkers: ['header_typ'] })
            .success,
        ).toBe(false);
        for (const requiredTyp of ['at+jwt', 'application/AT+JWT']) {
          const parsed = OidcProviderSchema.safeParse({ ...base, requiredTyp });
          expect(parsed.success).toBe(false);
          expect(parsed.error?.issues[0]?.message).toMatch(/access token/);
        }
        expect(OidcProviderSchema.parse(base).allowAccessTokenMarkers).toEqual([]);
      });
    });

    describe('payload typ Bearer (Keycloak)', () => {
      it.each(['Bearer', 'bearer', 'BEARER'])('refuses payload typ %s', async (typ) => {
        const { authenticate } = setup();
        await expectAccessToken(authenticate(await idp.mint({ typ })), 'payload_typ');
      });

      it('refuses a Keycloak access token that an audience mapper addressed to us', async () => {
        // Prepare: what Keycloak 26 issues, header typ JWT, once our client id is in `aud`.
        const { authenticate } = setup();
        const token = await idp.mint(
          {
            typ: 'Bearer',
            aud: [TEST_AUDIENCE, 'account'],
            azp: TEST_AUDIENCE,
            scope: 'openid profile email',
            sid: '7d4c1f0e-5b7a-4a57-9d43-2f4d8c1e6a10',
            realm_access: { roles: ['default-roles-tvm', 'offline_access'] },
            preferred_username: 'alice',
          },
          { header: { typ: 'JWT' } },
        );

        // Act / Assess
        await expectAccessToken(authenticate(token), 'payload_typ');
      });

      it('accepts a Keycloak ID token (payload typ ID)', async () => {
        const { authenticate } = setup();
        const token = await idp.mint({ typ: 'ID', azp: TEST_AUDIENCE, sid: 's-1', at_hash: 'x' });
        await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
      });

      it('accepts typ Bearer when the provider allows payload_typ, and nothing more', async () => {
        const { authenticate } = setup({ allowAccessTokenMarkers: ['payload_typ'] });
        await expect(authenticate(await idp.mint({ typ: 'Bearer' }))).resolves.toMatchObject({
          subject: TEST_SUBJECT,
        });
        await expectAccessToken(
          authenticate(await idp.mint({ typ: 'Bearer', token_use: 'access' })),
          'token_use',
        );
      });
    });

    describe('token_use access (Cognito)', () => {
      it.each(['access', 'Access'])(
        'refuses token_use %s for a provider without the cognito preset',
        async (tokenUse) => {
          const { authenticate } = setup();
          const token = await idp.mint({ token_use: tokenUse, client_id: TEST_AUDIENCE });
          await expectAccessToken(authenticate(token), 'token_use');
        },
      );

      it('accepts token_use access when the provider allows token_use, and nothing more', async () => {
        const { authenticate } = setup({ allowAccessTokenMarkers: ['token_use'] });
        await expect(authenticate(await idp.mint({ token_use: 'access' }))).resolves.toMatchObject({
          subject: TEST_SUBJECT,
        });
        await expectAccessToken(
          authenticate(
            await idp.mint({ token_use: 'access', scope: 'aws.cognito.signin.user.admin' }),
          ),
          'scope',
        );
      });

      it('keeps the cognito preset strict when token_use is allowed', async () => {
        const { authenticate } = setup({
          preset: 'cognito',
          allowAccessTokenMarkers: ['token_use'],
        });
        const token = await idp.mint({ token_use: 'access' });
        await expectRejected(() => authenticate(token), 'token_use_mismatch');
      });
    });

    describe('scope or scp (Okta, Entra ID, Auth0)', () => {
      it.each([
        ['an Auth0 scope string', { scope: 'openid profile read:reports' }],
        ['an Okta scp list', { scp: ['openid', 'email'], cid: TEST_AUDIENCE, ver: 1 }],
        ['an Entra ID scp string', { scp: 'User.Read', ver: '2.0', tid: 'tenant' }],
        ['an empty scope', { scope: '' }],
        ['a scope that is not a string', { scope: { read: true } }],
      ])('refuses %s', async (_label, claims) => {
        const { authenticate } = setup();
        await expectAccessToken(authenticate(await idp.mint(claims)), 'scope');
      });

      it.each([
        ['payload typ ID (Keycloak)', { typ: 'ID' }],
        ['token_use id (Cognito)', { token_use: 'id' }],
      ])('accepts scope on a token marked as an ID token by %s', async (_label, marker) => {
        const { authenticate } = setup();
        const token = await idp.mint({ scope: 'openid email', ...marker });
        await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
      });

      it.each([
        ['typ id', { typ: 'id' }],
        ['token_use ID', { token_use: 'ID' }],
      ])('counts only the exact ID-token markers, not %s', async (_label, marker) => {
        const { authenticate } = setup();
        const token = await idp.mint({ scp: ['openid'], ...marker });
        await expectAccessToken(authenticate(token), 'scope');
      });

      it('accepts scope when the provider allows scope, and nothing more', async () => {
        const { authenticate } = setup({ allowAccessTokenMarkers: ['scope'] });
        await expect(authenticate(await idp.mint({ scp: ['openid'] }))).resolves.toMatchObject({
          subject: TEST_SUBJECT,
        });
        await expectAccessToken(
          authenticate(await idp.mint({ scope: 'openid', typ: 'Bearer' })),
          'payload_typ',
        );
      });
    });

    it('accepts every switchable marker at once when all are allowed', async () => {
      const { authenticate } = setup(ALL_SWITCHES);
      const token = await idp.mint({ typ: 'Bearer', token_use: 'access', scope: 'openid' });
      await expect(authenticate(token)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    });

    it('refuses markers for a provider stored before the switch existed', async () => {
      // Prepare: a generation applied by an older version has no allowAccessTokenMarkers.
      const { authenticate, provider } = setup();
      const { allowAccessTokenMarkers: _dropped, ...legacy } = provider;

      // Act / Assess
      const legacyProviders = [legacy as OidcProvider];
      await expectAccessToken(
        authenticate(await idp.mint({ typ: 'Bearer' }), legacyProviders),
        'payload_typ',
      );
      await expect(authenticate(await idp.mint(), legacyProviders)).resolves.toMatchObject({
        subject: TEST_SUBJECT,
      });
    });
  });

  describe('claims', () => {
    it('keeps __proto__ and constructor claims as plain keys that pollute nothing', async () => {
      // Prepare
      const { authenticate } = setup();
      const claims = JSON.parse(
        '{"__proto__": {"admin": true, "groups": ["admins"]}, "constructor": {"prototype": {"admin": true}}}',
      ) as Record<string, unknown>;
      const token = await idp.mint(claims);
      const stringClaims = JSON.parse('{"__proto__": "admins", "constructor": "admins"}') as Record<
        string,
        unknown
      >;
      const stringToken = await idp.mint(stringClaims);

      // Act
      const identity = await authenticate(token);
      const stringIdentity = await authenticate(stringToken);

      // Assess
      const payloadJson = (jwt: string) =>
        Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8');
      expect(payloadJson(token)).toContain('"__proto__":{"admin":true');
      expect(payloadJson(stringToken)).toContain('"__proto__":"admins"');
      expect(Object.getPrototypeOf(identity.claims)).toBeNull();
      expect(identity.claims.admin).toBeUndefined();
      expect(identity.claims.groups).toBeUndefined();
      // Kept as an own, plain (null-prototype) object claim: nothing is inherited from it.
      const proto = Object.getOwnPropertyDescriptor(identity.claims, '__proto__')?.value;
      expect(Object.getPrototypeOf(proto)).toBeNull();
      expect(Object.isFrozen(proto)).toBe(true);
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(stringIdentity.claims, '__proto__')?.value).toBe(
        'admins',
      );
      expect(Object.getOwnPropertyDescriptor(stringIdentity.claims, 'constructor')?.value).toBe(
        'admins',
      );
      expect(Object.getPrototypeOf(stringIdentity.claims)).toBeNull();
      expect(({} as Record<string, unknown>).constructor).toBe(Object);
    });

    it('keeps claims of every type as sent, frozen, so a wrong type is malformed, never missing', async () => {
      // Prepare
      const { authenticate } = setup();
      const token = await idp.mint({
        groups: { admins: true },
        roles: [1, 2, 3],
        mixed: ['a', 1],
        nothing: null,
        team: 'blue',
      });

      // Act
      const { claims } = await authenticate(token);

      // Assess: decide() reads them against the declared types (shared/config/claims.ts).
      expect(claims.groups).toEqual({ admins: true });
      expect(claims.roles).toEqual([1, 2, 3]);
      expect(claims.mixed).toEqual(['a', 1]);
      expect(claims.nothing).toBeNull();
      expect(claims.team).toBe('blue');
      expect(Object.isFrozen(claims.mixed)).toBe(true);
      expect(Object.isFrozen(claims.groups)).toBe(true);
    });
  });
});
