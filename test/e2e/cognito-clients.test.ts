import {
  CognitoIdentityClient,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
} from '@aws-sdk/client-cognito-identity';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, venvBin } from '../../scripts/local/aws-stack.ts';
import {
  EVERYONE,
  GUEST_READER,
  guestPool,
  oidcConfig,
  SHOP_GUESTS,
  TENANT_READER,
} from '../support/local-config.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { startTestIssuer, TEST_AUDIENCE, type TestIssuer } from '../support/oidc-issuer.ts';
import { runCommand } from '../support/process.ts';

const POOL_ID = `${LOCAL_REGION}:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab`;
const UNKNOWN_POOL_ID = `${LOCAL_REGION}:00000000-0000-4000-8000-000000000000`;
/** The second provider's Logins key, set explicitly (the first one uses the default). */
const PARTNER_KEY = 'partner.tvm.test';
/** Well formed, never handed out. */
const UNKNOWN_IDENTITY_ID = `${LOCAL_REGION}:11111111-2222-4333-8444-555555555555`;
/** Longer than Cognito's 55 characters: refused before any token is read. */
const OVERLONG_IDENTITY_ID = `${LOCAL_REGION}:${'0'.repeat(60)}`;
const ASSUMED_TENANT_READER =
  /^arn:aws:sts::123456789012:assumed-role\/tenant-reader\/[A-Za-z0-9+=,.@_-]+$/;
/** A pool that takes guests (SHOP_GUESTS, mapped by GUEST_READER) as well as `mobile` logins. */
const GUEST_POOL_ID = `${LOCAL_REGION}:6a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d`;
const ASSUMED_GUEST_READER =
  /^arn:aws:sts::123456789012:assumed-role\/guest-reader\/[A-Za-z0-9+=,.@_-]+$/;

/** The audit log lines serverless-offline printed, parsed. */
function audits(logs: string): Record<string, unknown>[] {
  return logs
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"message":"audit"'))
    .map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit);
}

/** Whatever a call rejected with, so that its name can be asserted. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

/** boto3 in the project's venv: GetId, GetCredentialsForIdentity, then STS with the result. */
const BOTO3_SCRIPT = `
import json, sys
import boto3
from botocore.exceptions import ClientError
base, moto, pool, key, token, unknown_pool = sys.argv[1:7]
cognito = boto3.client("cognito-identity", endpoint_url=base + "/v1/cognito-identity", region_name="${LOCAL_REGION}")
identity_id = cognito.get_id(IdentityPoolId=pool, Logins={key: token})["IdentityId"]
answer = cognito.get_credentials_for_identity(IdentityId=identity_id, Logins={key: token})
c = answer["Credentials"]
sts = boto3.client("sts", endpoint_url=moto, region_name="${LOCAL_REGION}",
    aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"])
arn = sts.get_caller_identity()["Arn"]
try:
    cognito.get_id(IdentityPoolId=unknown_pool, Logins={key: token})
    code = None
except ClientError as e:
    code = e.response["Error"]["Code"]
print(json.dumps({"identityId": identity_id, "answerIdentityId": answer["IdentityId"],
    "expiration": type(c["Expiration"]).__name__, "arn": arn, "errorCode": code,
    "secret": c["SecretKey"], "sessionToken": c["SessionToken"]}))
`;

/** boto3 as a guest: get_id and get_credentials_for_identity without Logins, then STS. */
const BOTO3_GUEST_SCRIPT = `
import json, sys
import boto3
base, moto, pool = sys.argv[1:4]
cognito = boto3.client("cognito-identity", endpoint_url=base + "/v1/cognito-identity", region_name="${LOCAL_REGION}")
identity_id = cognito.get_id(IdentityPoolId=pool)["IdentityId"]
answer = cognito.get_credentials_for_identity(IdentityId=identity_id)
c = answer["Credentials"]
sts = boto3.client("sts", endpoint_url=moto, region_name="${LOCAL_REGION}",
    aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretKey"], aws_session_token=c["SessionToken"])
print(json.dumps({"identityId": identity_id, "answerIdentityId": answer["IdentityId"],
    "accessKeyId": c["AccessKeyId"], "arn": sts.get_caller_identity()["Arn"],
    "secret": c["SecretKey"], "sessionToken": c["SessionToken"]}))
`;

/**
 * The Cognito Identity clients people already use (the AWS SDK for JavaScript v3 client and
 * credential provider, and boto3) against serverless-offline's cognitoIdentity function, with
 * credentials from moto's STS and tokens from a real OIDC issuer.
 */
describe('cognito-identity with real clients (serverless-offline + moto)', () => {
  let tvm: LocalTvm;
  let partner: TestIssuer;
  let base: string;
  let mobileKey: string;
  let cognito: CognitoIdentityClient;
  const secrets: string[] = [];

  beforeAll(async () => {
    partner = await startTestIssuer();
    tvm = await startLocalTvm({
      offline: true,
      config: (issuer) => {
        const document = oidcConfig(issuer) as {
          providers: Record<string, unknown>[];
          mappings: unknown[];
        };
        return {
          ...document,
          providers: [
            ...document.providers,
            {
              id: 'partner',
              type: 'oidc',
              issuer: partner.issuer,
              audiences: [TEST_AUDIENCE],
            },
            SHOP_GUESTS,
          ],
          mappings: [...document.mappings, EVERYONE, GUEST_READER],
          identityPools: [
            guestPool(GUEST_POOL_ID),
            {
              id: POOL_ID,
              providers: [{ provider: 'mobile' }, { provider: 'partner', loginsKey: PARTNER_KEY }],
              mappings: [TENANT_READER.id],
            },
          ],
        };
      },
    });
    base = tvm.baseUrl ?? '';
    // The default Logins key: the issuer without its scheme, as Amplify derives it from `iss`.
    mobileKey = tvm.issuer.issuer.replace(/^https?:\/\//, '');
    cognito = new CognitoIdentityClient({
      endpoint: `${base}/v1/cognito-identity`,
      region: LOCAL_REGION,
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    cognito?.destroy();
    await tvm?.stop();
    await partner?.stop();
  });

  /** The audit records after the first `before`, once `count` of them have been printed. */
  const auditsSince = async (before: number, count: number) => {
    const since = () => audits(tvm.offline?.output() ?? '').slice(before);
    await expect.poll(() => since().length, { timeout: 5_000 }).toBeGreaterThanOrEqual(count);
    return since();
  };
  const mint = async (sub: string, tenant = 'acme') => {
    const token = await tvm.issuer.mint({ sub, tenant });
    secrets.push(token);
    return token;
  };
  const stsAt = (credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  }) => new STSClient({ endpoint: tvm.moto.endpoint, region: LOCAL_REGION, credentials });

  it('fromCognitoIdentityPool vends credentials that work as the mapped role, and caches the IdentityId', async () => {
    // Prepare
    const token = await mint('pool-alice');
    const store = new Map<string, string>();
    const cache = {
      getItem: (key: string) => store.get(key) ?? null,
      setItem: (key: string, value: string) => void store.set(key, value),
      removeItem: (key: string) => void store.delete(key),
    };
    const provider = () =>
      fromCognitoIdentityPool({
        identityPoolId: POOL_ID,
        logins: { [mobileKey]: token },
        // With a userIdentifier the provider keeps the IdentityId in `cache` and skips GetId.
        cache,
        userIdentifier: 'pool-alice',
        clientConfig: { endpoint: `${base}/v1/cognito-identity`, region: LOCAL_REGION },
      });

    // Act
    const first = await provider()();
    const caller = await stsAt(first).send(new GetCallerIdentityCommand({}));
    const before = audits(tvm.offline?.output() ?? '').length;
    const second = await provider()();
    const made = await auditsSince(before, 1);

    // Assess
    secrets.push(first.secretAccessKey, first.sessionToken ?? '');
    secrets.push(second.secretAccessKey, second.sessionToken ?? '');
    expect(first.identityId).toMatch(new RegExp(`^${LOCAL_REGION}:[0-9a-f-]{36}$`));
    expect(first.expiration).toBeInstanceOf(Date);
    expect(caller.Arn).toMatch(ASSUMED_TENANT_READER);
    expect([...store.values()]).toEqual([first.identityId]);
    expect(second.identityId).toBe(first.identityId);
    // The second provider skipped GetId: its one record is the vend, keyed by the IdentityId.
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({
      outcome: 'allowed',
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      identityId: first.identityId,
      accessKeyId: second.accessKeyId,
    });
  });

  it('CognitoIdentityClient: GetId twice gives one IdentityId; GetCredentialsForIdentity a Date Expiration', async () => {
    // Prepare
    const token = await mint('client-bob');
    const Logins = { [mobileKey]: token };

    // Act
    const one = await cognito.send(new GetIdCommand({ IdentityPoolId: POOL_ID, Logins }));
    const two = await cognito.send(new GetIdCommand({ IdentityPoolId: POOL_ID, Logins }));
    const answer = await cognito.send(
      new GetCredentialsForIdentityCommand({ IdentityId: one.IdentityId, Logins }),
    );

    // Assess
    const credentials = answer.Credentials ?? {};
    secrets.push(credentials.SecretKey ?? '', credentials.SessionToken ?? '');
    expect(one.IdentityId).toMatch(new RegExp(`^${LOCAL_REGION}:[0-9a-f-]{36}$`));
    expect(two.IdentityId).toBe(one.IdentityId);
    expect(answer.IdentityId).toBe(one.IdentityId);
    expect(credentials.Expiration).toBeInstanceOf(Date);
    const lifetimeSeconds = ((credentials.Expiration?.getTime() ?? 0) - Date.now()) / 1000;
    expect(lifetimeSeconds).toBeGreaterThan(60);
    expect(lifetimeSeconds).toBeLessThanOrEqual(TENANT_READER.durationSeconds + 5);
    const caller = await stsAt({
      accessKeyId: credentials.AccessKeyId ?? '',
      secretAccessKey: credentials.SecretKey ?? '',
      sessionToken: credentials.SessionToken ?? '',
    }).send(new GetCallerIdentityCommand({}));
    expect(caller.Arn).toMatch(ASSUMED_TENANT_READER);
  });

  it('every refusal surfaces as its Cognito error name in e.name, audited, with nothing vended', async () => {
    // Prepare
    const carol = await mint('refusal-carol');
    const dave = await mint('refusal-dave');
    const partnerToken = await partner.mint({ sub: 'refusal-carol' });
    secrets.push(partnerToken);
    const { IdentityId: daveId } = await cognito.send(
      new GetIdCommand({ IdentityPoolId: POOL_ID, Logins: { [mobileKey]: dave } }),
    );
    const before = audits(tvm.offline?.output() ?? '').length;

    // Act
    const refusals = {
      otherUsersIdentity: await failure(
        cognito.send(
          new GetCredentialsForIdentityCommand({
            IdentityId: daveId,
            Logins: { [mobileKey]: carol },
          }),
        ),
      ),
      unknownIdentity: await failure(
        cognito.send(
          new GetCredentialsForIdentityCommand({
            IdentityId: UNKNOWN_IDENTITY_ID,
            Logins: { [mobileKey]: carol },
          }),
        ),
      ),
      unknownPool: await failure(
        cognito.send(
          new GetIdCommand({ IdentityPoolId: UNKNOWN_POOL_ID, Logins: { [mobileKey]: carol } }),
        ),
      ),
      // A string of the wrong shape is one more unknown id: ids cannot be probed by shape.
      misshapenIdentity: await failure(
        cognito.send(
          new GetCredentialsForIdentityCommand({
            IdentityId: 'not an identity id',
            Logins: { [mobileKey]: carol },
          }),
        ),
      ),
      overlongIdentity: await failure(
        cognito.send(
          new GetCredentialsForIdentityCommand({
            IdentityId: OVERLONG_IDENTITY_ID,
            Logins: { [mobileKey]: carol },
          }),
        ),
      ),
      twoPrincipals: await failure(
        cognito.send(
          new GetIdCommand({
            IdentityPoolId: POOL_ID,
            Logins: { [mobileKey]: carol, [PARTNER_KEY]: partnerToken },
          }),
        ),
      ),
      noLogins: await failure(cognito.send(new GetIdCommand({ IdentityPoolId: POOL_ID }))),
    };
    const made = await auditsSince(before, Object.keys(refusals).length);

    // Assess
    expect(Object.fromEntries(Object.entries(refusals).map(([k, e]) => [k, e.name]))).toEqual({
      otherUsersIdentity: 'NotAuthorizedException',
      unknownIdentity: 'NotAuthorizedException',
      unknownPool: 'ResourceNotFoundException',
      misshapenIdentity: 'NotAuthorizedException',
      overlongIdentity: 'InvalidParameterException',
      twoPrincipals: 'ResourceConflictException',
      noLogins: 'NotAuthorizedException',
    });
    // Another user's IdentityId, an unknown one and a misshapen one cannot be told apart.
    expect(refusals.otherUsersIdentity.message).toBe(refusals.unknownIdentity.message);
    expect(refusals.misshapenIdentity.message).toBe(refusals.unknownIdentity.message);
    for (const error of Object.values(refusals)) {
      for (const token of [carol, dave, partnerToken]) expect(error.message).not.toContain(token);
    }
    // One denied record per refusal, none with keys: nothing reached STS.
    expect(made).toHaveLength(Object.keys(refusals).length);
    for (const audit of made) {
      expect(audit.outcome).toBe('denied');
      expect(audit).not.toHaveProperty('accessKeyId');
    }
    expect(made.map((a) => a.reason)).toEqual([
      'identity_not_found',
      'identity_not_found',
      'unknown_identity_pool',
      'identity_not_found',
      'invalid_parameter',
      'logins_conflict',
      'unauthenticated_not_allowed',
    ]);
  });

  it('boto3: get_id + get_credentials_for_identity, the credentials work against STS; errors by code', async () => {
    // Prepare
    const token = await mint('boto-erin', 'hooli');
    // No keys in the environment: the two calls are unsigned, as with Cognito.
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...withoutKeys } = tvm.env;

    // Act
    const run = await runCommand(
      venvBin('python'),
      ['-c', BOTO3_SCRIPT, base, tvm.moto.endpoint, POOL_ID, mobileKey, token, UNKNOWN_POOL_ID],
      { env: withoutKeys, timeoutMs: 60_000 },
    );

    // Assess
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, string>;
    secrets.push(result.secret ?? '', result.sessionToken ?? '');
    expect(result.identityId).toMatch(new RegExp(`^${LOCAL_REGION}:[0-9a-f-]{36}$`));
    expect(result.answerIdentityId).toBe(result.identityId);
    expect(result.expiration).toBe('datetime');
    expect(result.arn).toMatch(ASSUMED_TENANT_READER);
    expect(result.errorCode).toBe('ResourceNotFoundException');
  });

  it('fromCognitoIdentityPool without logins: guest credentials as the guest role, tagged with the IdentityId, which is cached', async () => {
    // Prepare
    const store = new Map<string, string>();
    const cache = {
      getItem: (key: string) => store.get(key) ?? null,
      setItem: (key: string, value: string) => void store.set(key, value),
      removeItem: (key: string) => void store.delete(key),
    };
    // No logins: the provider keys its cache "ANONYMOUS" and keeps the guest IdentityId there.
    const provider = (customRoleArn?: string) =>
      fromCognitoIdentityPool({
        identityPoolId: GUEST_POOL_ID,
        cache,
        ...(customRoleArn === undefined ? {} : { customRoleArn }),
        clientConfig: { endpoint: `${base}/v1/cognito-identity`, region: LOCAL_REGION },
      });
    const before = audits(tvm.offline?.output() ?? '').length;

    // Act
    const first = await provider()();
    const made = await auditsSince(before, 2);
    const caller = await stsAt(first).send(new GetCallerIdentityCommand({}));
    const afterFirst = audits(tvm.offline?.output() ?? '').length;
    const second = await provider()();
    const again = await auditsSince(afterFirst, 1);
    const cached = [...store.entries()];
    // A guest cannot reach a signed-in user's role by naming it, though its claims would match.
    const afterSecond = audits(tvm.offline?.output() ?? '').length;
    const escalation = await failure(provider(EVERYONE.roleArn)());
    const refused = await auditsSince(afterSecond, 1);

    // Assess
    secrets.push(first.secretAccessKey, first.sessionToken ?? '');
    secrets.push(second.secretAccessKey, second.sessionToken ?? '');
    const guestId = first.identityId;
    expect(guestId).toMatch(new RegExp(`^${LOCAL_REGION}:[0-9a-f-]{36}$`));
    expect(caller.Arn).toMatch(ASSUMED_GUEST_READER);
    expect(cached).toEqual([
      [`aws:cognito-identity-credentials:${GUEST_POOL_ID}:ANONYMOUS`, guestId],
    ]);
    expect(made).toMatchObject([
      { route: 'POST /v1/cognito-identity GetId', outcome: 'allowed', identityId: guestId },
      {
        route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
        outcome: 'allowed',
        provider: SHOP_GUESTS.id,
        mappingId: GUEST_READER.id,
        roleArn: GUEST_READER.roleArn,
        identityId: guestId,
        // The IdentityId with ":" replaced (STS forbids it), and as the session tag.
        sourceIdentity: guestId.replace(':', '.'),
        tagKeys: ['cognito-identity-id'],
        accessKeyId: first.accessKeyId,
      },
    ]);
    // The second provider read the IdentityId from the cache: no GetId, one vend.
    expect(second.identityId).toBe(guestId);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      identityId: guestId,
      accessKeyId: second.accessKeyId,
    });
    expect(escalation.name).toBe('NotAuthorizedException');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      outcome: 'denied',
      reason: 'no_matching_mapping',
      identityId: guestId,
    });
    expect(refused[0]).not.toHaveProperty('accessKeyId');
    // The SDK drops its cached IdentityId after any failure: the next call starts a new guest.
    expect(store.size).toBe(0);
  });

  it('boto3 as a guest: get_id and get_credentials_for_identity without Logins; the credentials work against STS', async () => {
    // Prepare
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...withoutKeys } = tvm.env;
    const before = audits(tvm.offline?.output() ?? '').length;

    // Act
    const run = await runCommand(
      venvBin('python'),
      ['-c', BOTO3_GUEST_SCRIPT, base, tvm.moto.endpoint, GUEST_POOL_ID],
      { env: withoutKeys, timeoutMs: 60_000 },
    );
    const made = await auditsSince(before, 2);

    // Assess
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout) as Record<string, string>;
    secrets.push(result.secret ?? '', result.sessionToken ?? '');
    expect(result.identityId).toMatch(new RegExp(`^${LOCAL_REGION}:[0-9a-f-]{36}$`));
    expect(result.answerIdentityId).toBe(result.identityId);
    expect(result.arn).toMatch(ASSUMED_GUEST_READER);
    expect(made[1]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      outcome: 'allowed',
      provider: SHOP_GUESTS.id,
      identityId: result.identityId,
      sourceIdentity: result.identityId?.replace(':', '.'),
      accessKeyId: result.accessKeyId,
    });
  });

  it('never writes a token, a secret key or a session token to the function logs', () => {
    const logs = tvm.offline?.output() ?? '';
    expect(logs).toContain('"message":"audit"');
    expect(secrets.filter(Boolean).length).toBeGreaterThan(10);
    for (const secret of secrets.filter(Boolean)) expect(logs).not.toContain(secret);
  });
});
