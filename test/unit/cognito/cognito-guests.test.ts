/**
 * Guests (unauthenticated identities) of the Cognito-compatible way in, in process: GetId without
 * Logins, guest credentials from the guest mapping only, the identity stamp on every pool session,
 * the guest limits, deny of one guest, and a signed-in guest switched to the user's own identity. Every refusal asserts the
 * error name, the generic body, zero AssumeRole calls and the audit reason.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subjectHash } from '#shared/audit/audit.ts';
import { guestIssuer } from '#shared/auth/principal.ts';
import { identityKey } from '#shared/cognito/identity-store.ts';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import {
  type CognitoHarness,
  expectCognitoError,
  GUEST_LIMITS,
  GUEST_POOL_ID,
  GUEST_ROLE,
  POOL_ID,
  startCognitoHarness,
  stsMock,
} from '../../support/cognito-harness.ts';

const GET_CREDENTIALS = 'AWSCognitoIdentityService.GetCredentialsForIdentity';
const READER_ROLE = 'arn:aws:iam::123456789012:role/tvm/reader';
const NOT_MATCHING =
  "Logins don't match. Please include at least one valid login for this identity or identity pool.";

let harness: CognitoHarness;

beforeEach(async () => {
  harness = await startCognitoHarness();
});

afterEach(async () => {
  await harness.stop();
});

/** A new guest of the guest pool, from its own address so the per-IP limit stays out of the way. */
let address = 0;
async function newGuest(): Promise<string> {
  address += 1;
  const result = await harness.guestId({ sourceIp: `198.51.100.${address % 250}` });
  expect(result.status, result.raw).toBe(200);
  return String(result.body.IdentityId);
}

function guestCredentials(identityId: string, extra: Record<string, unknown> = {}) {
  return harness.call({ target: GET_CREDENTIALS, body: { IdentityId: identityId, ...extra } });
}

describe('guest GetId', () => {
  it('creates a new random guest identity per call, stored as a guest and audited', async () => {
    // Act
    const first = await newGuest();
    const second = await newGuest();

    // Assess
    expect(first).toMatch(IDENTITY_ID_PATTERN);
    expect(first.startsWith('eu-west-1:')).toBe(true);
    expect(second).not.toBe(first);
    const item = harness.identities.items.get(identityKey(GUEST_POOL_ID, first).pk);
    expect(item).toEqual({
      principalHash: subjectHash(guestIssuer('mobile-guests'), first),
      guest: 'true',
    });
    expect(harness.audits.at(-2)).toMatchObject({
      outcome: 'allowed',
      reason: 'ok',
      route: 'POST /v1/cognito-identity GetId',
      identityId: first,
      provider: 'mobile-guests',
      issuer: guestIssuer('mobile-guests'),
    });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('refuses guests in a pool that takes none, storing nothing', async () => {
    const result = await harness.guestId({ poolId: POOL_ID });
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'unauthenticated_not_allowed',
    });
    expect(harness.identities.items.size).toBe(0);
  });

  it('answers TooManyRequestsException past the per-address limit, and stores no identity', async () => {
    // Prepare: the limit's worth of guests from one address.
    for (let i = 0; i < GUEST_LIMITS.perSourceIp; i += 1) {
      expect((await harness.guestId({ sourceIp: '203.0.113.7' })).status).toBe(200);
    }
    const stored = harness.identities.items.size;
    const before = harness.audits.length;

    // Act
    const flood = await harness.guestId({ sourceIp: '203.0.113.7' });

    // Assess
    expectCognitoError(harness, flood, {
      name: 'TooManyRequestsException',
      reason: 'rate_limited_ip',
      auditsBefore: before,
    });
    expect(flood.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
    const elsewhere = await harness.guestId({ sourceIp: '203.0.113.8' });
    expect(elsewhere.status, elsewhere.raw).toBe(200);
    expect(harness.identities.items.size).toBe(stored + 1);
  });

  it('answers TooManyRequestsException past the per-pool limit, whatever the address', async () => {
    for (let i = 0; i < GUEST_LIMITS.perPool; i += 1) await newGuest();
    const stored = harness.identities.items.size;
    const before = harness.audits.length;

    const flood = await harness.guestId({ sourceIp: '203.0.113.99' });

    expectCognitoError(harness, flood, {
      name: 'TooManyRequestsException',
      reason: 'rate_limited_pool',
      auditsBefore: before,
    });
    expect(harness.identities.items.size).toBe(stored);
  });
});

describe('guest GetCredentialsForIdentity', () => {
  it("vends the guest mapping's role, stamped with the IdentityId as tag and SourceIdentity", async () => {
    // Prepare
    const identityId = await newGuest();
    stsMock.resetHistory();

    // Act
    const result = await guestCredentials(identityId);

    // Assess
    expect(result.status, result.raw).toBe(200);
    expect(result.body).toMatchObject({
      IdentityId: identityId,
      Credentials: { AccessKeyId: 'ASIATESTACCESSKEY', SecretKey: 'test-secret-access-key' },
    });
    const calls = stsMock.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.RoleArn).toBe(GUEST_ROLE);
    expect(input?.Tags).toEqual([{ Key: 'cognito-identity-id', Value: identityId }]);
    expect(input?.SourceIdentity).toBe(identityId.replace(':', '.'));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, on purpose
    expect(input?.Policy).toContain('guests/${aws:PrincipalTag/cognito-identity-id}/*');
    expect(harness.audits.at(-1)).toMatchObject({
      outcome: 'allowed',
      identityId,
      provider: 'mobile-guests',
      subjectHash: subjectHash(guestIssuer('mobile-guests'), identityId),
      mappingId: 'guest',
      roleArn: GUEST_ROLE,
      sourceIdentity: identityId.replace(':', '.'),
      tagKeys: ['cognito-identity-id'],
    });
  });

  it('stamps authenticated pool sessions the same way', async () => {
    const token = await harness.mint({ sub: 'alice' });
    const id = await harness.getId({ [harness.mobileKey]: token }, GUEST_POOL_ID);
    const identityId = String(id.body.IdentityId);
    stsMock.resetHistory();

    const result = await harness.credentials(identityId, { [harness.mobileKey]: token });

    expect(result.status, result.raw).toBe(200);
    const input = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input?.RoleArn).toBe(READER_ROLE);
    expect(input?.Tags).toContainEqual({ Key: 'cognito-identity-id', Value: identityId });
    expect(input?.SourceIdentity).toBe(identityId.replace(':', '.'));
    // The record links the IdentityId to the provider subject.
    expect(harness.audits.at(-1)).toMatchObject({
      identityId,
      provider: 'mobile',
      subjectHash: subjectHash(harness.issuer.issuer, 'alice'),
    });
  });

  it('refuses a guest asking for an authenticated mapping through CustomRoleArn', async () => {
    const identityId = await newGuest();
    const before = harness.audits.length;

    const result = await guestCredentials(identityId, { CustomRoleArn: READER_ROLE });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'no_matching_mapping',
      auditsBefore: before,
    });
    // Its own role by CustomRoleArn is fine.
    expect((await guestCredentials(identityId, { CustomRoleArn: GUEST_ROLE })).status).toBe(200);
  });

  it('refuses a deny-listed guest, and only that guest', async () => {
    // Prepare
    const denied = await newGuest();
    const other = await newGuest();
    await harness.denyList.add({
      issuer: guestIssuer('mobile-guests'),
      provider: 'mobile-guests',
      subject: denied,
      reason: 'abuse',
      at: new Date().toISOString(),
      by: 'test',
    });
    const before = harness.audits.length;

    // Act
    const result = await guestCredentials(denied);

    // Assess
    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'denied_principal',
      auditsBefore: before,
    });
    expect((await guestCredentials(other)).status).toBe(200);
  });

  it('answers TooManyRequestsException past the per-guest credentials limit', async () => {
    const identityId = await newGuest();
    for (let i = 0; i < GUEST_LIMITS.perIdentity; i += 1) {
      expect((await guestCredentials(identityId)).status).toBe(200);
    }
    stsMock.resetHistory();
    const before = harness.audits.length;

    const result = await guestCredentials(identityId);

    expectCognitoError(harness, result, {
      name: 'TooManyRequestsException',
      reason: 'rate_limited_principal',
      auditsBefore: before,
    });
  });

  it('refuses unknown, misshapen and user identity ids without Logins, with one answer', async () => {
    const token = await harness.mint({ sub: 'alice' });
    const user = await harness.getId({ [harness.mobileKey]: token }, GUEST_POOL_ID);
    const ids = [
      'eu-west-1:99999999-9999-4999-8999-999999999999',
      'eu-west-1:not-an-id',
      String(user.body.IdentityId),
    ];
    for (const identityId of ids) {
      const before = harness.audits.length;
      const result = await guestCredentials(identityId);
      expectCognitoError(harness, result, {
        name: 'NotAuthorizedException',
        reason: 'identity_not_found',
        auditsBefore: before,
      });
      expect(result.body.message).toBe(NOT_MATCHING);
    }
  });
});

describe('guest to user', () => {
  it("answers a guest IdentityId sent with Logins with the user's own identity, never a link", async () => {
    // Prepare: a guest with its own data prefix, then a sign-in (Amplify sends the cached guest id).
    const guest = await newGuest();
    const token = await harness.mint({ sub: 'mallory' });
    stsMock.resetHistory();

    // Act
    const result = await harness.credentials(guest, { [harness.mobileKey]: token });

    // Assess: the user's own id, in the answer, the session's tag and the record.
    expect(result.status, result.raw).toBe(200);
    const own = String(result.body.IdentityId);
    expect(own).toMatch(IDENTITY_ID_PATTERN);
    expect(own).not.toBe(guest);
    const input = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input?.RoleArn).toBe(READER_ROLE);
    expect(input?.Tags).toContainEqual({ Key: 'cognito-identity-id', Value: own });
    expect(JSON.stringify(input)).not.toContain(guest);
    expect(harness.audits.at(-1)).toMatchObject({
      outcome: 'allowed',
      identityId: own,
      provider: 'mobile',
      subjectHash: subjectHash(harness.issuer.issuer, 'mallory'),
    });
    // GetId agrees, the id is stable, and the guest is still a guest of its own.
    const again = await harness.getId({ [harness.mobileKey]: token }, GUEST_POOL_ID);
    expect(again.body.IdentityId).toBe(own);
    const second = await harness.credentials(guest, { [harness.mobileKey]: token });
    expect(second.body.IdentityId).toBe(own);
    expect(harness.identities.items.get(identityKey(GUEST_POOL_ID, guest).pk)?.guest).toBe('true');
    stsMock.resetHistory();
    expect((await guestCredentials(guest)).status).toBe(200);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn).toBe(GUEST_ROLE);
  });

  it("refuses a guest IdentityId with Logins the guest's pool does not accept", async () => {
    const guest = await newGuest();
    const partner = await harness.partner.mint({ sub: 'pat' });
    const before = harness.audits.length;

    const result = await harness.credentials(guest, { [harness.partnerKey]: partner });

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'identity_not_found',
      auditsBefore: before,
    });
    expect(result.body.message).toBe(NOT_MATCHING);
  });

  it('gives a deny-listed user no identity id on GetId, and stores none', async () => {
    const token = await harness.mint({ sub: 'eve' });
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: 'eve',
      reason: 'left',
      at: new Date().toISOString(),
      by: 'test',
    });

    const result = await harness.getId({ [harness.mobileKey]: token }, GUEST_POOL_ID);

    expectCognitoError(harness, result, {
      name: 'NotAuthorizedException',
      reason: 'denied_principal',
    });
    expect(harness.identities.items.size).toBe(0);
  });
});
