/**
 * POST /v1/cognito-identity in process: GetId and GetCredentialsForIdentity on the awsJson1_1
 * wire, and every attack of the Cognito-compatible way in, each refused with the protocol's error
 * name (header and `__type`), no STS call, and one audit record with the reason.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import {
  type CognitoHarness,
  expectCognitoError,
  PARTNER_POOL_ID,
  POOL_ID,
  READER_POOL_ID,
  startCognitoHarness,
  stsMock,
  WEB_LOGINS_KEY,
} from '../../support/cognito-harness.ts';

const GET_CREDENTIALS = 'AWSCognitoIdentityService.GetCredentialsForIdentity';
const READER_ROLE = 'arn:aws:iam::123456789012:role/tvm/reader';
const ADMIN_ROLE = 'arn:aws:iam::123456789012:role/tvm/admin';

let harness: CognitoHarness;

beforeEach(async () => {
  harness = await startCognitoHarness();
});

afterEach(async () => {
  await harness.stop();
});

/** GetId for a subject of the mobile issuer; returns its id and the token used. */
async function identityOf(sub: string, poolId = POOL_ID) {
  const token = await harness.mint({ sub });
  const result = await harness.getId({ [harness.mobileKey]: token }, poolId);
  expect(result.status, result.raw).toBe(200);
  return { identityId: String(result.body.IdentityId), token };
}

describe('cognito-identity GetId', () => {
  it('returns the same random <region>:<uuid> id for the same principal, every time', async () => {
    // Act
    const first = await identityOf('alice');
    const again = await identityOf('alice');

    // Assess
    expect(first.identityId).toMatch(IDENTITY_ID_PATTERN);
    expect(first.identityId.startsWith('eu-west-1:')).toBe(true);
    expect(again.identityId).toBe(first.identityId);
    // Random, never derived from the subject.
    expect(first.identityId).not.toContain('alice');
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('answers with exactly {IdentityId}, in x-amz-json-1.1, audited with the id', async () => {
    const token = await harness.mint({ sub: 'alice' });
    const result = await harness.getId({ [harness.mobileKey]: token });

    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(result.headers['x-amzn-errortype']).toBeUndefined();
    expect(Object.keys(result.body)).toEqual(['IdentityId']);
    expect(harness.audits).toHaveLength(1);
    expect(harness.audits[0]).toMatchObject({
      outcome: 'allowed',
      reason: 'ok',
      identityId: result.body.IdentityId,
      provider: 'mobile',
      subjectHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('gives different principals different ids', async () => {
    const alice = await identityOf('alice');
    const bob = await identityOf('bob');
    expect(bob.identityId).not.toBe(alice.identityId);
  });

  it('gives one principal a different id in each pool', async () => {
    const inPool = await identityOf('alice', POOL_ID);
    const inReaderPool = await identityOf('alice', READER_POOL_ID);
    expect(inReaderPool.identityId).not.toBe(inPool.identityId);
    expect(inReaderPool.identityId.startsWith('us-east-1:')).toBe(true);
  });

  it('agrees on one id when two GetIds of a new principal race', async () => {
    const token = await harness.mint({ sub: 'racer' });
    const [a, b] = await Promise.all([
      harness.getId({ [harness.mobileKey]: token }),
      harness.getId({ [harness.mobileKey]: token }),
    ]);
    expect(a.body.IdentityId).toBe(b.body.IdentityId);
  });

  it('takes several Logins of the same principal (two app clients of one issuer)', async () => {
    const mobile = await harness.mint({ sub: 'alice' });
    const web = await harness.mint({ sub: 'alice', aud: 'web-client' });
    const both = await harness.getId({ [harness.mobileKey]: mobile, [WEB_LOGINS_KEY]: web });
    const alone = await harness.getId({ [harness.mobileKey]: mobile });
    expect(both.status, both.raw).toBe(200);
    expect(both.body.IdentityId).toBe(alone.body.IdentityId);
  });
});

describe('cognito-identity GetCredentialsForIdentity', () => {
  it('answers {IdentityId, Credentials} with SecretKey and Expiration in epoch seconds', async () => {
    // Prepare
    const { identityId, token } = await identityOf('alice');

    // Act
    const result = await harness.credentials(identityId, { [harness.mobileKey]: token });

    // Assess
    expect(result.status, result.raw).toBe(200);
    expect(result.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(result.headers['cache-control']).toBe('no-store');
    expect(result.body).toEqual({
      IdentityId: identityId,
      Credentials: {
        AccessKeyId: 'ASIATESTACCESSKEY',
        SecretKey: 'test-secret-access-key',
        SessionToken: 'test-session-token',
        Expiration: Date.parse('2030-01-01T01:00:00Z') / 1000,
      },
    });
    expect(result.raw).toContain('"Expiration":1893459600}');
    const calls = stsMock.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.RoleArn).toBe(READER_ROLE);
    expect(harness.audits.at(-1)).toMatchObject({
      outcome: 'allowed',
      reason: 'ok',
      identityId,
      mappingId: 'reader',
      accessKeyId: 'ASIATESTACCESSKEY',
    });
  });

  it('serves the path without the trailing slash too (boto3)', async () => {
    const { identityId, token } = await identityOf('alice');
    const result = await harness.call({
      path: '/v1/cognito-identity',
      target: GET_CREDENTIALS,
      body: { IdentityId: identityId, Logins: { [harness.mobileKey]: token } },
    });
    expect(result.status, result.raw).toBe(200);
  });

  it("keeps to the pool's own mappings: an admin in the reader-only pool gets the reader role", async () => {
    const token = await harness.mint({ sub: 'root', groups: ['admins'] });
    const wide = await identityOf('root', POOL_ID);
    const narrow = await identityOf('root', READER_POOL_ID);
    stsMock.resetHistory();

    await harness.credentials(wide.identityId, { [harness.mobileKey]: token });
    await harness.credentials(narrow.identityId, { [harness.mobileKey]: token });

    const roles = stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn);
    expect(roles).toEqual([ADMIN_ROLE, READER_ROLE]);
  });

  it('lets CustomRoleArn choose among the matching mappings, like mappingId', async () => {
    const token = await harness.mint({ sub: 'root', groups: ['admins'] });
    const { identityId } = await identityOf('root');
    stsMock.resetHistory();

    const result = await harness.credentials(
      identityId,
      { [harness.mobileKey]: token },
      { CustomRoleArn: READER_ROLE },
    );

    expect(result.status, result.raw).toBe(200);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn).toBe(READER_ROLE);
  });
});

describe('cognito-identity attacks', () => {
  it("refuses another user's IdentityId as NotAuthorized", async () => {
    const alice = await identityOf('alice');
    const mallory = await identityOf('mallory');
    const before = harness.audits.length;

    const result = await harness.credentials(alice.identityId, {
      [harness.mobileKey]: mallory.token,
    });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
    expect(harness.audits.at(-1)?.identityId).toBe(alice.identityId);
  });

  it("answers a random id exactly as another user's id (no enumeration)", async () => {
    const alice = await identityOf('alice');
    const mallory = await identityOf('mallory');
    const other = await harness.credentials(alice.identityId, {
      [harness.mobileKey]: mallory.token,
    });
    const before = harness.audits.length;

    const random = await harness.credentials('eu-west-1:00000000-0000-4000-8000-000000000000', {
      [harness.mobileKey]: mallory.token,
    });

    expectCognitoError(harness, random, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
    expect(random.body).toEqual(other.body);
    expect(random.status).toBe(other.status);
  });

  it.each([
    ['no colon', 'not-an-identity-id'],
    ['not hex', 'eu-west-1:zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'],
    ['upper case', 'EU-WEST-1:0F0C1AB2-3C4D-4E5F-8A9B-0123456789AB'],
    ['injection', "eu-west-1:' OR 1=1 --"],
    ['another region', 'us-east-1:00000000-0000-4000-8000-000000000000'],
  ])('refuses a malformed IdentityId (%s) as NotAuthorized', async (_, identityId) => {
    const { token } = await identityOf('alice');
    const before = harness.audits.length;

    const result = await harness.credentials(identityId, { [harness.mobileKey]: token });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
  });

  it.each(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'])(
    'refuses %s with 405 and Allow: POST, audited, before any token is read',
    async (method) => {
      // Act
      const result = await harness.call({
        method,
        target: GET_CREDENTIALS,
        body: { IdentityId: 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab' },
      });

      // Assess
      expectCognitoError(harness, result, {
        name: 'InvalidParameterException',
        reason: 'method_not_allowed',
        status: 405,
      });
      expect(result.headers.allow).toBe('POST');
    },
  );

  it('refuses an IdentityId longer than 55 characters as InvalidParameter', async () => {
    const token = await harness.mint();
    const result = await harness.credentials(`eu-west-1:${'a'.repeat(50)}`, {
      [harness.mobileKey]: token,
    });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
  });

  it.each(['GetId', 'GetCredentialsForIdentity'])('%s refuses 11 Logins', async (operation) => {
    const token = await harness.mint();
    const logins = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`idp${i}.example.com`, token]),
    );
    const body =
      operation === 'GetId'
        ? { IdentityPoolId: POOL_ID, Logins: logins }
        : { IdentityId: 'eu-west-1:00000000-0000-4000-8000-000000000000', Logins: logins };

    const result = await harness.call({ target: `AWSCognitoIdentityService.${operation}`, body });

    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
    expect(result.body.message).toBe('Logins must have at most 10 entries');
  });

  it('refuses a 50,001-character token without decoding it', async () => {
    const result = await harness.getId({ [harness.mobileKey]: `eyJ${'a'.repeat(49_998)}` });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
    expect(harness.issuer.jwksRequests()).toBe(0);
  });

  it('takes a 50,000-character token as far as the authenticator (which refuses its size)', async () => {
    const result = await harness.getId({ [harness.mobileKey]: `eyJ${'a'.repeat(49_997)}` });
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'token_too_large',
    });
  });

  it.each(['GetId', 'GetCredentialsForIdentity'])(
    '%s refuses a Logins key the pool does not accept',
    async (operation) => {
      const { identityId, token } = await identityOf('alice');
      const before = harness.audits.length;
      const logins = { 'accounts.google.com': token };

      const result =
        operation === 'GetId'
          ? await harness.getId(logins)
          : await harness.credentials(identityId, logins);

      expectCognitoError(harness, result, {
        name: 'NotAuthorizedException',
        reason: 'logins_key_not_accepted',
        auditsBefore: before,
      });
      expect(result.body.message).toBe('Invalid login token.');
    },
  );

  it("refuses a token of another pool's provider under that provider's key", async () => {
    const partnerToken = await harness.partner.mint({ sub: 'alice' });
    const result = await harness.getId({ [harness.partnerKey]: partnerToken }, POOL_ID);
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'logins_key_not_accepted',
    });
  });

  it("refuses a token of another pool's provider under this pool's key", async () => {
    const partnerToken = await harness.partner.mint({ sub: 'alice' });
    const result = await harness.getId({ [harness.mobileKey]: partnerToken }, POOL_ID);
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'unknown_issuer',
    });
  });

  it("refuses credentials for a pool's identity with another pool's token", async () => {
    const { identityId } = await identityOf('alice');
    const partnerToken = await harness.partner.mint({ sub: 'alice' });
    expect(
      (await harness.getId({ [harness.partnerKey]: partnerToken }, PARTNER_POOL_ID)).status,
    ).toBe(200);
    const before = harness.audits.length;

    const result = await harness.credentials(identityId, { [harness.partnerKey]: partnerToken });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
  });

  it("refuses a token of one app client under the other client's key", async () => {
    const webToken = await harness.mint({ sub: 'alice', aud: 'web-client' });
    const result = await harness.getId({ [harness.mobileKey]: webToken });
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'audience_mismatch',
    });
  });

  it('refuses Logins of two different principals (no linking)', async () => {
    const alice = await harness.mint({ sub: 'alice' });
    const bob = await harness.mint({ sub: 'bob', aud: 'web-client' });
    const result = await harness.getId({ [harness.mobileKey]: alice, [WEB_LOGINS_KEY]: bob });
    expectCognitoError(harness, result, {
      name: 'ResourceConflictException',
      reason: 'logins_conflict',
    });
  });

  it('refuses GetId without Logins: no guests in this pool', async () => {
    const result = await harness.call({ body: { IdentityPoolId: POOL_ID } });
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'unauthenticated_not_allowed',
    });
    expect(result.body.message).toBe(
      'Unauthenticated access is not supported for this identity pool.',
    );
    expect(harness.identities.items.size).toBe(0);
  });

  it("refuses GetCredentialsForIdentity without Logins for a user's identity (not a guest)", async () => {
    const { identityId } = await identityOf('alice');
    const before = harness.audits.length;
    const result = await harness.call({
      target: GET_CREDENTIALS,
      body: { IdentityId: identityId },
    });
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
  });

  it('answers ResourceNotFound for an unknown pool', async () => {
    const token = await harness.mint();
    const unknown = 'eu-west-1:99999999-9999-4999-8999-999999999999';
    const result = await harness.getId({ [harness.mobileKey]: token }, unknown);
    expectCognitoError(harness, result, {
      name: 'ResourceNotFoundException',
      reason: 'unknown_identity_pool',
    });
    expect(result.body.message).toBe(`IdentityPool '${unknown}' not found.`);
  });

  it.each([
    ['missing', null, 'invalid_target'],
    ['another service', 'AWSSecurityTokenServiceV20110615.AssumeRole', 'invalid_target'],
    ['another operation', 'AWSCognitoIdentityService.ListIdentityPools', 'invalid_target'],
    ['a prefix only', 'AWSCognitoIdentityService.', 'invalid_target'],
  ])('refuses an X-Amz-Target that is %s', async (_, target, reason) => {
    const token = await harness.mint();
    const result = await harness.call({
      target,
      body: { IdentityPoolId: POOL_ID, Logins: { [harness.mobileKey]: token } },
    });
    expectCognitoError(harness, result, { name: 'InvalidParameterException', reason });
    expect(harness.identities.items.size).toBe(0);
  });

  it.each([
    ['missing', null],
    ['application/json', 'application/json'],
    ['x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
    ['text/plain', 'text/plain'],
    ['a latin-1 charset', 'application/x-amz-json-1.1; charset=iso-8859-1'],
  ])('refuses a Content-Type that is %s', async (_, contentType) => {
    const token = await harness.mint();
    const result = await harness.call({
      contentType,
      body: { IdentityPoolId: POOL_ID, Logins: { [harness.mobileKey]: token } },
    });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'unsupported_content_type',
    });
  });

  it('accepts the charset parameter the SDKs may add', async () => {
    const token = await harness.mint();
    const result = await harness.call({
      contentType: 'application/x-amz-json-1.1; charset=UTF-8',
      body: { IdentityPoolId: POOL_ID, Logins: { [harness.mobileKey]: token } },
    });
    expect(result.status, result.raw).toBe(200);
  });

  it.each([
    ['not JSON', '{"IdentityPoolId":'],
    ['empty', ''],
    ['an array', '[]'],
    ['a string', '"GetId"'],
    ['null', 'null'],
  ])('refuses a body that is %s', async (_, raw) => {
    const result = await harness.call({ raw });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
  });

  it('refuses a body over 600 KB', async () => {
    const result = await harness.call({ raw: `{"IdentityPoolId":"${'a'.repeat(620_000)}"}` });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'body_too_large',
    });
  });

  it.each([
    ['GetId', { IdentityPoolId: POOL_ID, RoleArn: ADMIN_ROLE }],
    ['GetId', { IdentityPoolId: POOL_ID, identityPoolId: POOL_ID }],
    ['GetId', { IdentityPoolId: POOL_ID, __proto__x: 1 }],
    ['GetCredentialsForIdentity', { IdentityId: POOL_ID, IdentityPoolId: POOL_ID }],
    ['GetCredentialsForIdentity', { IdentityId: POOL_ID, DurationSeconds: 3600 }],
  ])('%s refuses unknown fields (%j)', async (operation, body) => {
    const token = await harness.mint();
    const result = await harness.call({
      target: `AWSCognitoIdentityService.${operation}`,
      body: { ...body, Logins: { [harness.mobileKey]: token } },
    });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
  });

  it.each([
    ['a number', 42],
    ['lower-case hex only', 'eu-west-1:0F0C1AB2-3C4D-4E5F-8A9B-0123456789AB'],
    ['no region', '0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab'],
  ])('refuses an IdentityPoolId that is %s', async (_, IdentityPoolId) => {
    const token = await harness.mint();
    const result = await harness.call({
      body: { IdentityPoolId, Logins: { [harness.mobileKey]: token } },
    });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
  });

  it.each([
    ['a token that is not a string', { k: 42 }],
    ['an empty token', { k: '' }],
    ['a list', ['token']],
  ])('refuses Logins with %s', async (_, Logins) => {
    const result = await harness.call({ body: { IdentityPoolId: POOL_ID, Logins } });
    expectCognitoError(harness, result, {
      name: 'InvalidParameterException',
      reason: 'invalid_parameter',
    });
  });

  it.each([
    ['a role no matching mapping has', ADMIN_ROLE],
    ['an arbitrary role', 'arn:aws:iam::999999999999:role/tvm/attacker-chosen'],
    ['a matching role of another pool', 'arn:aws:iam::123456789012:role/tvm/partner'],
  ])('refuses a CustomRoleArn naming %s', async (_, CustomRoleArn) => {
    const { identityId, token } = await identityOf('alice');
    const before = harness.audits.length;

    const result = await harness.credentials(
      identityId,
      { [harness.mobileKey]: token },
      { CustomRoleArn },
    );

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'no_matching_mapping',
      auditsBefore: before,
    });
  });

  it('refuses a deny-listed principal', async () => {
    const { identityId, token } = await identityOf('alice');
    await harness.denyList.add({
      provider: 'mobile',
      issuer: harness.issuer.issuer,
      subject: 'alice',
      reason: 'stolen phone',
      by: 'test',
      at: new Date().toISOString(),
    });
    const before = harness.audits.length;

    const result = await harness.credentials(identityId, { [harness.mobileKey]: token });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'denied_principal',
      auditsBefore: before,
    });
  });

  it('refuses an expired token with the same generic message as any bad token', async () => {
    const { identityId } = await identityOf('alice');
    const expired = await harness.mint({
      sub: 'alice',
      iat: Math.floor(Date.now() / 1000) - 7200,
      exp: Math.floor(Date.now() / 1000) - 3600,
    });
    const before = harness.audits.length;

    const result = await harness.credentials(identityId, { [harness.mobileKey]: expired });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'expired',
      auditsBefore: before,
    });
    expect(result.body.message).toBe('Invalid login token.');
  });
});
