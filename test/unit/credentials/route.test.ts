import { createHash } from 'node:crypto';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_SUBJECT } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  STS_ANSWER,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
describe('credentials route', () => {
  let harness: Harness;

  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(async () => {
    await harness.stop();
  });

  it('POST answers the JSON body after exactly one scoped AssumeRole call', async () => {
    // Prepare
    const token = await harness.mint({ tenant: 'acme' });

    // Act
    const result = await harness.call({ token });

    // Assess
    expect(result.status).toBe(200);
    expect(result.headers['cache-control']).toBe('no-store');
    const calls = stsMock.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    // The default: `<sub>@<8 hex of sha256(iss)>`, one value per principal (issuer + subject).
    const sourceIdentity = `${TEST_SUBJECT}@${sha256(harness.issuer.issuer).slice(0, 8)}`;
    expect(input).toMatchObject({
      RoleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
      SourceIdentity: sourceIdentity,
      DurationSeconds: 1800,
      Tags: [{ Key: 'tenant', Value: 'acme' }],
      TransitiveTagKeys: ['tenant'],
    });
    expect(JSON.parse(String(input?.Policy))).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: ['arn:aws:s3:::tenant-data/acme/*'],
        },
      ],
    });
    expect(input?.RoleSessionName).toMatch(/^alice-[0-9a-f]+$/);
    expect(result.body).toEqual({
      credentials: {
        accessKeyId: 'ASIATESTACCESSKEY',
        secretAccessKey: 'test-secret-access-key',
        sessionToken: 'test-session-token',
        expiration: '2030-01-01T01:00:00.000Z',
      },
      provider: 'mobile',
      mapping: 'reader',
      roleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
      assumedRoleArn: STS_ANSWER.AssumedRoleUser.Arn,
      roleSessionName: input?.RoleSessionName,
      sourceIdentity,
      durationSeconds: 1800,
    });
  });

  it('writes one allowed audit record with ids and hashes, and no secret', async () => {
    await harness.call({ token: await harness.mint() });

    expect(harness.audits).toHaveLength(1);
    const record = harness.audits[0];
    expect(record).toMatchObject({
      outcome: 'allowed',
      reason: 'ok',
      provider: 'mobile',
      issuer: harness.issuer.issuer,
      // sha256(issuer \0 subject), written out here rather than with the code under test.
      subjectHash: sha256(`${harness.issuer.issuer}\u0000${TEST_SUBJECT}`),
      mappingId: 'reader',
      roleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
      tagKeys: ['tenant'],
      policySha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      durationSeconds: 1800,
      accessKeyId: 'ASIATESTACCESSKEY',
      expiration: '2030-01-01T01:00:00.000Z',
    });
    const text = JSON.stringify(record);
    for (const secret of ['test-secret-access-key', 'test-session-token', 'eyJ']) {
      expect(text).not.toContain(secret);
    }
  });

  it('GET answers in the container-credentials format the AWS SDKs read', async () => {
    const result = await harness.call({ method: 'GET', token: await harness.mint() });
    expect(result.status).toBe(200);
    expect(result.headers['cache-control']).toBe('no-store');
    expect(result.body).toEqual({
      AccessKeyId: 'ASIATESTACCESSKEY',
      SecretAccessKey: 'test-secret-access-key',
      Token: 'test-session-token',
      Expiration: '2030-01-01T01:00:00.000Z',
      RoleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
    });
  });

  it('GET ?format=process answers in the credential_process format', async () => {
    const result = await harness.call({
      method: 'GET',
      token: await harness.mint(),
      query: { format: 'process' },
    });
    expect(result.body).toEqual({
      Version: 1,
      AccessKeyId: 'ASIATESTACCESSKEY',
      SecretAccessKey: 'test-secret-access-key',
      SessionToken: 'test-session-token',
      Expiration: '2030-01-01T01:00:00.000Z',
    });
  });

  it('the highest-priority match wins, and a client may pick another matching mapping by id', async () => {
    const token = await harness.mint({ groups: ['admins'] });

    const best = await harness.call({ token });
    const picked = await harness.call({ token, body: JSON.stringify({ mapping: 'reader' }) });

    expect(best.body.mapping).toBe('admin');
    expect(picked.body.mapping).toBe('reader');
  });

  it('the duration is the smaller of the request and the mapping', async () => {
    const token = await harness.mint();
    await harness.call({ token, body: JSON.stringify({ durationSeconds: 900 }) });
    await harness.call({ token, body: JSON.stringify({ durationSeconds: 3600 }) });
    const durations = stsMock
      .commandCalls(AssumeRoleCommand)
      .map((c) => c.args[0].input.DurationSeconds);
    expect(durations).toEqual([900, 1800]);
  });

  it('a provider named in the body must be the one that issued the token', async () => {
    const token = await harness.mint();
    const result = await harness.call({ token, body: JSON.stringify({ provider: 'corp' }) });
    expectRejection(harness, result, { status: 401, reason: 'provider_mismatch' });
  });

  it('withholds credentials it could not audit (fail closed, 503)', async () => {
    harness.failAudits(true);
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(503);
    expect(result.raw).not.toContain('ASIATESTACCESSKEY');
    expect(result.raw).not.toContain('test-secret-access-key');
    expect(result.headers['retry-after']).toBeDefined();
  });

  it('STS AccessDenied is a generic 403, audited as a misconfiguration, with no AWS text', async () => {
    stsMock.on(AssumeRoleCommand).rejects(
      Object.assign(new Error('User: arn:aws:sts::1:assumed-role/x is not authorized'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(403);
    expect(result.body).toEqual({
      type: 'urn:tvm:problem:forbidden',
      title: 'Forbidden',
      status: 403,
      requestId: expect.any(String),
    });
    expect(harness.audits).toMatchObject([
      { outcome: 'denied', reason: 'sts_misconfigured', mappingId: 'reader' },
    ]);
  });

  it('STS throttling after bounded retries is a 503 with Retry-After', async () => {
    stsMock.on(AssumeRoleCommand).rejects(
      Object.assign(new Error('Rate exceeded'), {
        name: 'Throttling',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(503);
    expect(result.headers['retry-after']).toBe('2');
    expect(result.raw).not.toContain('Rate exceeded');
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    expect(harness.audits).toMatchObject([{ outcome: 'error', reason: 'sts_throttled' }]);
  });
});

describe('credentials route without config', () => {
  it('fails closed with 503 when no config was ever applied', async () => {
    const harness = await startHarness({ withoutConfig: true });
    try {
      const result = await harness.call({ token: await harness.mint() });
      expectRejection(harness, result, { status: 503, reason: 'config_missing' });
    } finally {
      await harness.stop();
    }
  });
});

describe('credentials route with a failing config store', () => {
  it('answers 503 (not 500) when DynamoDB cannot be read, audited as config_unavailable', async () => {
    const failing = await startHarness({
      configError: new Error('DynamoDB: connect ECONNREFUSED'),
    });
    try {
      const result = await failing.call({ token: await failing.mint() });
      expectRejection(failing, result, { status: 503, reason: 'config_unavailable' });
      expect(result.headers['retry-after']).toBe('5');
    } finally {
      await failing.stop();
    }
  });
});
