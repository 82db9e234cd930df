import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Mapping } from '#shared/config/schema.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import { assumeRoleInput, classifyStsError, StsError, vendCredentials } from '#shared/sts/vend.ts';

const sts = mockClient(STSClient);
const client = new STSClient({ region: 'us-east-1', maxAttempts: 1 });

function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    mapping: { id: 'tenant-data' } as Mapping,
    roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-data',
    roleSessionName: 'alice-3f2a9c1b',
    sourceIdentity: 'alice',
    tags: [{ Key: 'tenant', Value: 'acme' }],
    transitiveTagKeys: ['tenant'],
    policy: '{"Version":"2012-10-17","Statement":[]}',
    policySha256: 'abc',
    policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    durationSeconds: 900,
    externalId: 'ext-1',
    matched: ['tenant-data'],
    ...overrides,
  };
}

const OK = {
  Credentials: {
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    SessionToken: 'token',
    Expiration: new Date('2030-01-01T00:15:00Z'),
  },
  AssumedRoleUser: {
    Arn: 'arn:aws:sts::123456789012:assumed-role/tenant-data/alice-3f2a9c1b',
    AssumedRoleId: 'AROA:alice',
  },
};

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from AWS with internal detail`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

describe('vendCredentials', () => {
  beforeEach(() => {
    sts.reset();
  });

  it('makes one AssumeRole call with exactly the decision parameters', async () => {
    // Prepare
    sts.on(AssumeRoleCommand).resolves(OK);

    // Act
    const credentials = await vendCredentials(client, decision(), {
      timeoutMs: 1_000,
      maxAttempts: 3,
    });

    // Assess
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toEqual({
      RoleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-data',
      RoleSessionName: 'alice-3f2a9c1b',
      SourceIdentity: 'alice',
      DurationSeconds: 900,
      Tags: [{ Key: 'tenant', Value: 'acme' }],
      TransitiveTagKeys: ['tenant'],
      Policy: '{"Version":"2012-10-17","Statement":[]}',
      PolicyArns: [{ arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }],
      ExternalId: 'ext-1',
    });
    expect(credentials).toEqual({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      expiration: new Date('2030-01-01T00:15:00Z'),
      assumedRoleArn: 'arn:aws:sts::123456789012:assumed-role/tenant-data/alice-3f2a9c1b',
    });
  });

  it('omits the optional parameters a mapping does not use, and DurationSeconds for console sign-in', () => {
    const minimal = decision({
      tags: [],
      transitiveTagKeys: [],
      policy: undefined,
      policySha256: undefined,
      policyArns: [],
      externalId: undefined,
    });
    expect(assumeRoleInput(minimal)).toEqual({
      RoleArn: minimal.roleArn,
      RoleSessionName: minimal.roleSessionName,
      SourceIdentity: 'alice',
      DurationSeconds: 900,
    });
    expect(assumeRoleInput(minimal, { omitDuration: true })).not.toHaveProperty('DurationSeconds');
  });

  it('retries throttling with backoff, a bounded number of times, then answers 503', async () => {
    sts.on(AssumeRoleCommand).rejects(awsError('Throttling', 400));
    const error = await vendCredentials(client, decision(), {
      timeoutMs: 1_000,
      maxAttempts: 3,
      backoffBaseMs: 0,
    }).catch((e: unknown) => e);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(3);
    expect(error).toBeInstanceOf(StsError);
    expect(error).toMatchObject({
      statusCode: 503,
      failure: 'throttled',
      retryAfterSeconds: 2,
      expose: false,
    });
  });

  it('recovers when a retry succeeds', async () => {
    sts.on(AssumeRoleCommand).rejectsOnce(awsError('ServiceUnavailable', 503)).resolves(OK);
    const credentials = await vendCredentials(client, decision(), {
      timeoutMs: 1_000,
      maxAttempts: 3,
      backoffBaseMs: 0,
    });
    expect(credentials.accessKeyId).toBe('ASIAEXAMPLE');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it.each([
    ['AccessDenied', 403, 403, 'misconfigured'],
    ['MalformedPolicyDocument', 400, 403, 'misconfigured'],
    ['PackedPolicyTooLarge', 400, 403, 'misconfigured'],
    ['RegionDisabledException', 403, 503, 'unavailable'],
    ['SomethingNew', 400, 500, 'unknown'],
  ])(
    'maps %s to %i without retrying a non-transient error',
    async (name, awsStatus, status, failure) => {
      sts.on(AssumeRoleCommand).rejects(awsError(name, awsStatus));
      const error = await vendCredentials(client, decision(), {
        timeoutMs: 1_000,
        maxAttempts: 3,
        backoffBaseMs: 0,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ statusCode: status, failure });
      if (failure !== 'unavailable') expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    },
  );

  it('gives up on a call that exceeds its timeout', async () => {
    sts.on(AssumeRoleCommand).callsFake(
      (_input, getClient) =>
        new Promise((_resolve, reject) => {
          void getClient;
          setTimeout(() => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), 30);
        }),
    );
    const error = await vendCredentials(client, decision(), {
      timeoutMs: 10,
      maxAttempts: 2,
      backoffBaseMs: 0,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503, failure: 'timeout' });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('classifies network failures as unavailable', () => {
    expect(classifyStsError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(
      'unavailable',
    );
  });
});

describe('vendCredentials near the Lambda deadline', () => {
  beforeEach(() => {
    sts.reset();
  });

  it('starts no call when too little time is left, and answers 503', async () => {
    sts.on(AssumeRoleCommand).resolves(OK);
    const error = await vendCredentials(client, decision(), {
      timeoutMs: 2_000,
      maxAttempts: 3,
      deadline: Date.now() + 50,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503, failure: 'timeout' });
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('does not retry past the deadline', async () => {
    sts.on(AssumeRoleCommand).rejects(awsError('Throttling', 400));
    const error = await vendCredentials(client, decision(), {
      timeoutMs: 2_000,
      maxAttempts: 10,
      backoffBaseMs: 200,
      deadline: Date.now() + 300,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503 });
    expect(sts.commandCalls(AssumeRoleCommand).length).toBeLessThan(10);
  });
});
