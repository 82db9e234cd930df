import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  expectTypeOf,
  it,
} from 'vitest';
import { type AuditRecord, DynamoAuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import {
  CachedConfigStore,
  type ConfigGeneration,
  type ConfigPointer,
} from '#shared/config/store.ts';
import { ConfigMissingError, UpstreamError } from '#shared/errors.ts';
import { type CountMetric, METRIC_NAMES } from '#shared/metrics.ts';
import {
  providerFor,
  startTestIssuer,
  TEST_SUBJECT,
  type TestIssuer,
} from '../../support/oidc-issuer.ts';
import { type RecordingMetrics, recordingMetrics } from '../../support/recording-metrics.ts';
import {
  expectRejection,
  type Harness,
  harnessConfig,
  STS_ANSWER,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} from AWS`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

/** Nothing personal or secret in any metric: no subject, token, key or secret. */
function expectNothingSensitive(metrics: RecordingMetrics, token?: string): void {
  const text = JSON.stringify(metrics.events);
  for (const secret of [
    TEST_SUBJECT,
    STS_ANSWER.Credentials.AccessKeyId,
    STS_ANSWER.Credentials.SecretAccessKey,
    STS_ANSWER.Credentials.SessionToken,
  ]) {
    expect(text).not.toContain(secret);
  }
  if (token !== undefined) expect(text).not.toContain(token.split('.')[1]);
}

const assumeRoleCalls = () => stsMock.commandCalls(AssumeRoleCommand).length;

describe('metrics of a credentials request, counted by the core', () => {
  let harness: Harness;
  let metrics: RecordingMetrics;

  afterEach(async () => {
    await harness.stop();
  });

  it('counts an allowed request as one Vend by provider and mapping, one Outcome ok, one STS latency', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    const token = await harness.mint();

    // Act
    const result = await harness.call({ token });

    // Assess
    expect(result.status).toBe(200);
    expect(metrics.counted('Vend', { provider: 'mobile', mapping: 'reader' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'ok' })).toBe(1);
    expect(metrics.names().sort()).toEqual(['Outcome', 'StsLatency', 'Vend']);
    expect(metrics.events.find((e) => e.name === 'StsLatency')?.value).toBeGreaterThanOrEqual(0);
    expectNothingSensitive(metrics, token);
  });

  it('counts a 401 as Denied{401} and Outcome by its reason, and never a Vend', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });

    // Act
    const result = await harness.call({ authorization: 'Bearer not-a-jwt' });

    // Assess
    expectRejection(harness, result, { status: 401, reason: 'malformed_token' });
    expect(metrics.counted('Denied', { status: '401' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'malformed_token' })).toBe(1);
    expect(metrics.names().sort()).toEqual(['Denied', 'Outcome']);
  });

  it('counts a 403 as Denied{403} and Outcome{no_matching_mapping}', async () => {
    // Prepare: no tenant and not an admin, so no mapping matches.
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    const token = await harness.mint({ tenant: undefined });

    // Act
    const result = await harness.call({ token });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'no_matching_mapping' });
    expect(metrics.counted('Denied', { status: '403' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'no_matching_mapping' })).toBe(1);
    expect(metrics.counted('Vend')).toBe(0);
    expectNothingSensitive(metrics, token);
  });

  it('does not count a 400 or a 429 as Denied (only 401 and 403 feed the spike alarm)', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });

    const token = await harness.mint();

    // Act: a malformed body, then more requests than the principal's limit (10 a minute).
    const malformed = await harness.call({ token, body: '{not json' });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) statuses.push((await harness.call({ token })).status);

    // Assess
    expect(malformed.status).toBe(400);
    expect(statuses.at(-1)).toBe(429);
    expect(metrics.counted('Outcome', { reason: 'bad_request' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'rate_limited_principal' })).toBe(1);
    expect(metrics.counted('Denied')).toBe(0);
  });

  it('counts a reuse hit as ReuseHit and Vend by provider and mapping, with Outcome reused', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({
      metrics,
      reuseCache: true,
      config: (issuer: TestIssuer) => {
        const config = harnessConfig(issuer) as { mappings: Record<string, unknown>[] };
        for (const mapping of config.mappings) mapping.reuse = { minRemainingSeconds: 300 };
        return config;
      },
    });
    const token = await harness.mint();

    // Act
    await harness.call({ token });
    await harness.call({ token });

    // Assess
    expect(assumeRoleCalls()).toBe(1);
    expect(metrics.counted('ReuseHit', { provider: 'mobile', mapping: 'reader' })).toBe(1);
    expect(metrics.counted('Vend', { provider: 'mobile', mapping: 'reader' })).toBe(2);
    expect(metrics.counted('Outcome', { reason: 'ok' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'reused' })).toBe(1);
    expect(metrics.counted('StsLatency')).toBe(1);
  });

  it('counts withheld credentials (audit write failed) as Outcome upstream, never as a Vend', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    harness.failAudits(true);

    // Act
    const result = await harness.call({ token: await harness.mint() });

    // Assess
    expect(result.status).toBe(503);
    expect(metrics.counted('Vend')).toBe(0);
    expect(metrics.counted('Outcome', { reason: 'upstream' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'ok' })).toBe(0);
  });

  it('counts every throttled STS attempt as StsThrottled, with a latency each, and no Denied', async () => {
    // Prepare: the harness makes two attempts.
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    stsMock.on(AssumeRoleCommand).rejects(awsError('Throttling', 400));

    // Act
    const result = await harness.call({ token: await harness.mint() });

    // Assess
    expect(result.status).toBe(503);
    expect(metrics.counted('StsThrottled')).toBe(2);
    expect(metrics.counted('StsLatency')).toBe(2);
    expect(metrics.counted('StsUnavailable')).toBe(0);
    expect(metrics.counted('Outcome', { reason: 'sts_throttled' })).toBe(1);
    expect(metrics.counted('Denied')).toBe(0);
  });

  it('counts every STS 5xx attempt as StsUnavailable', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    stsMock.on(AssumeRoleCommand).rejects(awsError('ServiceUnavailable', 503));

    // Act
    const result = await harness.call({ token: await harness.mint() });

    // Assess
    expect(result.status).toBe(503);
    expect(metrics.counted('StsUnavailable')).toBe(2);
    expect(metrics.counted('StsThrottled')).toBe(0);
    expect(metrics.counted('Outcome', { reason: 'sts_unavailable' })).toBe(1);
  });

  it('counts neither throttling nor unavailability when STS refuses the role (misconfigured)', async () => {
    // Prepare
    metrics = recordingMetrics();
    harness = await startHarness({ metrics });
    stsMock.on(AssumeRoleCommand).rejects(awsError('AccessDenied', 403));

    // Act
    const result = await harness.call({ token: await harness.mint() });

    // Assess
    expect(result.status).toBe(403);
    expect(metrics.counted('StsThrottled') + metrics.counted('StsUnavailable')).toBe(0);
    expect(metrics.counted('Denied', { status: '403' })).toBe(1);
    expect(metrics.counted('Outcome', { reason: 'sts_misconfigured' })).toBe(1);
  });
});

describe('AuditWriteFailed, counted by the DynamoDB audit sink', () => {
  const dynamo = mockClient(DynamoDBDocumentClient);
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const record: AuditRecord = {
    requestId: 'req-1',
    at: '2026-12-03T10:00:00.000Z',
    route: 'POST /v1/credentials',
    outcome: 'allowed',
    reason: 'ok',
  };
  const silent = { info() {} };

  beforeEach(() => {
    dynamo.reset();
  });

  it('counts a failed write, and still throws so that credentials are withheld', async () => {
    // Prepare
    const metrics = recordingMetrics();
    dynamo.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException', 400));
    const sink = new DynamoAuditSink(client, 'tvm-test', {
      retentionDays: 90,
      logger: silent,
      metrics,
    });

    // Act
    const error = await sink.write(record).catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect(metrics.names()).toEqual(['AuditWriteFailed']);
  });

  it('does not count a retried write whose first attempt had landed', async () => {
    // Prepare
    const metrics = recordingMetrics();
    dynamo
      .on(PutCommand)
      .rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
    const sink = new DynamoAuditSink(client, 'tvm-test', {
      retentionDays: 90,
      logger: silent,
      metrics,
    });

    // Act
    await sink.write(record);

    // Assess
    expect(metrics.events).toEqual([]);
  });
});

describe('ConfigUnavailable, counted by the config cache', () => {
  const generation: ConfigGeneration = {
    generation: 1,
    hash: 'h',
    createdAt: '',
    createdBy: '',
    config: { version: 1, providers: [], mappings: [] } as unknown as ConfigGeneration['config'],
  };

  const POINTER: ConfigPointer = {
    generation: 1,
    hash: 'h',
    revision: 1,
    previousGeneration: null,
    updatedAt: '',
    updatedBy: '',
    action: 'apply',
  };

  it('counts a config that cannot be read, and one never applied', async () => {
    // Prepare
    const metrics = recordingMetrics();
    const down = new CachedConfigStore(
      {
        pointer: async () => {
          throw new Error('DynamoDB unreachable');
        },
        load: async () => generation,
      },
      { ttlMs: 1_000, metrics },
    );
    const empty = new CachedConfigStore(
      { pointer: async () => undefined, load: async () => generation },
      { ttlMs: 1_000, metrics },
    );

    // Act
    const unreadable = await down.require().catch((caught: unknown) => caught);
    const missing = await empty.require().catch((caught: unknown) => caught);

    // Assess
    expect(unreadable).toBeInstanceOf(Error);
    expect(missing).toBeInstanceOf(ConfigMissingError);
    expect(metrics.counted('ConfigUnavailable')).toBe(2);
  });

  it('counts nothing when the config loads', async () => {
    const metrics = recordingMetrics();
    const store = new CachedConfigStore(
      { pointer: async () => ({ ...POINTER, generation: 1 }), load: async () => generation },
      { ttlMs: 1_000, metrics },
    );
    await store.require();
    expect(metrics.events).toEqual([]);
  });
});

describe('JwksUnavailable, counted by the key cache per provider', () => {
  let idp: TestIssuer;
  beforeAll(async () => {
    idp = await startTestIssuer();
  });
  afterAll(async () => {
    await idp.stop();
  });

  it('counts a request refused because the JWKS cannot be fetched, by provider id', async () => {
    // Prepare
    const metrics = recordingMetrics();
    const provider = providerFor(idp, { id: 'corp', jwks: { cooldownSeconds: 0 } });
    const authenticator = createOidcAuthenticator({ stage: 'local', metrics });
    const token = await idp.mint({});
    idp.setOutage('status');

    // Act
    const error = await authenticator
      .authenticate(token, [provider])
      .catch((caught: unknown) => caught);
    idp.setOutage('none');

    // Assess
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ reason: 'jwks_unavailable' });
    expect(metrics.events).toEqual([
      { name: 'JwksUnavailable', dimensions: { provider: 'corp' }, value: 1 },
    ]);
  });

  it('counts nothing when the keys answer', async () => {
    const metrics = recordingMetrics();
    const provider = providerFor(idp, { id: 'corp' });
    const authenticator = createOidcAuthenticator({ stage: 'local', metrics });
    await authenticator.authenticate(await idp.mint({}), [provider]);
    expect(metrics.events).toEqual([]);
  });
});

describe('the metric catalogue', () => {
  it('lists every metric, and docs/operations.md names each one', async () => {
    expectTypeOf<CountMetric | 'StsLatency'>().toEqualTypeOf<(typeof METRIC_NAMES)[number]>();
    const docs = await readFile(path.join(process.cwd(), 'docs/operations.md'), 'utf8');
    for (const name of METRIC_NAMES) expect(docs, name).toContain(`\`${name}\``);
  });
});
