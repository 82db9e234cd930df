import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ForbiddenError, RateLimitedError, UpstreamError } from '#shared/errors.ts';
import type { DenyEntry } from '#shared/guard/deny-list.ts';
import { type AccessGuard, createAccessGuard } from '#shared/guard/guard.ts';
import {
  DynamoRateLimiter,
  type RateLimiter,
  type RateLimitRule,
} from '#shared/guard/rate-limit.ts';
import { oidcConfig } from '../../support/local-config.ts';
import { MemoryDenyList } from '../../support/memory-guards.ts';
import { TEST_AUDIENCE, TEST_SUBJECT, type TestIssuer } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('deny list and rate limits on the credentials route', () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.stop();
  });

  it('refuses a denied principal at the next request, whatever its token says (403)', async () => {
    // Prepare: a valid token, then the principal is denied.
    harness = await startHarness();
    const token = await harness.mint({ groups: ['admins'] });
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token });

    // Assess: the counters ran beside the deny read, so the request still spent its budget.
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
    expect([...harness.rateLimiter.counts.values()]).toEqual([1, 1]);
  });

  it('refuses a denied principal with 403, not 429, once its window is full too', async () => {
    // Prepare: the harness allows 10 per principal per 60 s; use them up, then deny.
    harness = await startHarness();
    const token = await harness.mint();
    for (let i = 0; i < 10; i += 1) expect((await harness.call({ token })).status).toBe(200);
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act
    const result = await harness.call({ token });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
  });

  it('a deny entry past its `until` no longer applies', async () => {
    harness = await startHarness();
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      until: new Date(Date.now() - 1_000).toISOString(),
      by: 'ops',
      at: new Date().toISOString(),
    });
    expect((await harness.call({ token: await harness.mint() })).status).toBe(200);
  });

  it('answers 429 with Retry-After once a principal used up its window, audited, no STS call', async () => {
    // Prepare: the harness allows 10 per principal per 60 s.
    harness = await startHarness();
    const token = await harness.mint();
    for (let i = 0; i < 10; i += 1) expect((await harness.call({ token })).status).toBe(200);
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act
    const result = await harness.call({ token });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_principal' });
    const retryAfter = Number(result.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('limits one source IP across many principals', async () => {
    harness = await startHarness();
    let last: Awaited<ReturnType<Harness['call']>> | undefined;
    for (let i = 0; i < 26; i += 1) {
      last = await harness.call({ token: await harness.mint({ sub: `user-${i}` }) });
      if (i < 25) expect(last.status).toBe(200);
    }
    expect(last?.status).toBe(429);
    expect(harness.audits.at(-1)).toMatchObject({ reason: 'rate_limited_ip', outcome: 'denied' });
  });
});

/**
 * Two provider entries for one issuer and audience (two app clients of one user pool): the
 * client picks the entry with `{"provider": ...}`. Controls belong to the principal (issuer +
 * subject), so switching entries must escape none of them.
 */
describe('one principal through two provider entries of one issuer', () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.stop();
  });

  const entry = (id: string, issuer: TestIssuer, extra: Record<string, unknown> = {}) => ({
    id,
    type: 'oidc',
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audiences: [TEST_AUDIENCE],
    ...extra,
  });
  const everyone = (provider: string) => ({
    id: `${provider}-everyone`,
    provider,
    priority: 1,
    match: { claim: 'sub', op: 'exists' },
    roleArn: `arn:aws:iam::123456789012:role/tvm/${provider}`,
    durationSeconds: 900,
  });
  /** `dev` carries the limits; `dev2` has none; `other` is another issuer (a made-up one). */
  const twoEntries =
    (limits: Record<string, unknown> = {}) =>
    (issuer: TestIssuer) => ({
      version: 1,
      providers: [
        entry('dev', issuer, { rateLimits: limits }),
        entry('dev2', issuer),
        entry('other', issuer, { issuer: 'https://other.example.com' }),
      ],
      mappings: [everyone('dev'), everyone('dev2'), everyone('other')],
    });
  const via = (provider: string) => JSON.stringify({ provider });

  it('a principal denied under dev is refused under dev2 (403, audited under its principal)', async () => {
    // Prepare
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint();
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'dev',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
    expect(harness.audits[0]).toMatchObject({
      provider: 'dev2',
      issuer: harness.issuer.issuer,
      subjectHash: sha256(`${harness.issuer.issuer}\u0000${TEST_SUBJECT}`),
    });
  });

  it('a legacy entry under DENY#dev still denies the principal under dev2 (upgrade keeps denies)', async () => {
    // Prepare: written by a TVM from before deny keys moved to the issuer.
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint();
    harness.denyList.addLegacy({
      provider: 'dev',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
  });

  it('a legacy entry of a provider with another issuer denies nothing here', async () => {
    // Prepare: `other` has the same subject name under another issuer: another principal.
    harness = await startHarness({ config: twoEntries() });
    harness.denyList.addLegacy({ provider: 'other', subject: TEST_SUBJECT, by: 'ops', at: '' });
    await harness.denyList.add({
      issuer: 'https://other.example.com',
      provider: 'other',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: '',
    });

    // Act
    const result = await harness.call({ token: await harness.mint(), body: via('dev2') });

    // Assess
    expect(result.status).toBe(200);
  });

  it('the perPrincipal limit of dev also counts and refuses requests through dev2 (429)', async () => {
    // Prepare: 3 per minute under dev; dev2 sets no limit at all.
    harness = await startHarness({
      config: twoEntries({ perPrincipal: { limit: 3, windowSeconds: 60 } }),
    });
    const token = await harness.mint();
    expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    expect((await harness.call({ token, body: via('dev2') })).status).toBe(200);
    expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_principal' });
    expect(result.headers['retry-after']).toBeDefined();
  });

  it('the perSourceIp limit of dev also applies through dev2 (429)', async () => {
    // Prepare
    harness = await startHarness({
      config: twoEntries({ perSourceIp: { limit: 2, windowSeconds: 60 } }),
    });
    for (const sub of ['u1', 'u2']) {
      const token = await harness.mint({ sub });
      expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    }
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act: a third user, same address, through the entry without limits.
    const result = await harness.call({
      token: await harness.mint({ sub: 'u3' }),
      body: via('dev2'),
    });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_ip' });
  });
});

/**
 * The guard in one round trip: the deny read and the counters start together, and the answer
 * is decided once both settled. Stores stubbed so each can be made to fail or refuse.
 */
describe('access guard', () => {
  const ISSUER = 'https://issuer.example.com';
  const identity: Identity = {
    provider: 'mobile',
    issuer: ISSUER,
    subject: 'alice',
    claims: toClaims({ sub: 'alice' }),
  };
  const validated = validateConfig(
    oidcConfig(
      { issuer: ISSUER },
      { provider: { rateLimits: { perPrincipal: { limit: 5, windowSeconds: 60 } } } },
    ),
    { stage: 'local' },
  );
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  const providers = validated.config.providers;
  const now = new Date('2026-12-01T00:00:00Z');
  const entry: DenyEntry = {
    issuer: ISSUER,
    provider: 'mobile',
    subject: 'alice',
    by: 'ops',
    at: '',
  };
  const storeDown = () =>
    Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });

  type Answer = 'ok' | 'denied' | 'limited' | 'error';
  /** A guard whose deny read and counter answer as told, recording the order of events. */
  function guardWith(deny: Answer, rate: Answer) {
    const events: string[] = [];
    const denyList = new MemoryDenyList();
    denyList.find = async () => {
      events.push('deny:start');
      await Promise.resolve();
      events.push('deny:end');
      if (deny === 'error') throw storeDown();
      return deny === 'denied' ? entry : undefined;
    };
    const limiter: RateLimiter = {
      async consume(rules) {
        events.push(`rate:start:${rules.length}`);
        await Promise.resolve();
        events.push('rate:end');
        if (rate === 'error') throw storeDown();
        if (rate === 'limited') throw new RateLimitedError(42, 'rate_limited_principal');
      },
    };
    return { guard: createAccessGuard(denyList, limiter), events };
  }
  const check = (guard: AccessGuard) => guard.check(identity, providers, { now });

  it('starts the deny read and the counter before either answers (one round trip)', async () => {
    // Prepare
    const { guard, events } = guardWith('ok', 'ok');

    // Act
    await check(guard);

    // Assess
    expect(events.slice(0, 2).sort()).toEqual(['deny:start', 'rate:start:1']);
    expect(events.slice(2).sort()).toEqual(['deny:end', 'rate:end']);
  });

  it.each<[Answer]>([['ok'], ['limited'], ['error']])(
    'a denied principal is refused with 403 denied_principal when the counter answered %s',
    async (rate) => {
      // Prepare
      const { guard } = guardWith('denied', rate);

      // Act
      const refusal = await check(guard).catch((error: unknown) => error);

      // Assess
      expect(refusal).toBeInstanceOf(ForbiddenError);
      expect(refusal).toMatchObject({ statusCode: 403, reason: 'denied_principal' });
    },
  );

  it.each<[Answer, Answer]>([
    ['error', 'ok'],
    ['error', 'limited'],
    ['error', 'error'],
    ['ok', 'error'],
  ])('deny read %s, counter %s: 503 guard_unavailable (fail closed)', async (deny, rate) => {
    // Prepare
    const { guard } = guardWith(deny, rate);

    // Act
    const refusal = await check(guard).catch((error: unknown) => error);

    // Assess
    expect(refusal).toBeInstanceOf(UpstreamError);
    expect(refusal).toMatchObject({
      statusCode: 503,
      reason: 'guard_unavailable',
      retryAfterSeconds: 2,
    });
  });

  it('a principal not denied over its window gets the 429 with its Retry-After', async () => {
    const { guard } = guardWith('ok', 'limited');
    const refusal = await check(guard).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RateLimitedError);
    expect(refusal).toMatchObject({ reason: 'rate_limited_principal', retryAfterSeconds: 42 });
  });
});

describe('DynamoRateLimiter', () => {
  const dynamo = mockClient(DynamoDBDocumentClient);
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const rules: RateLimitRule[] = [
    { key: 'principal', limit: 1, windowSeconds: 60, reason: 'rate_limited_principal' },
    { key: 'ip', limit: 1, windowSeconds: 60, reason: 'rate_limited_ip' },
  ];
  const now = new Date('2026-12-01T00:00:30Z');
  const full = () => new ConditionalCheckFailedException({ message: 'full', $metadata: {} });

  beforeEach(() => {
    dynamo.reset();
  });

  it('writes every counter before any answers, and refuses with the first full rule', async () => {
    // Prepare: both counters are full; each answer waits until both writes were sent.
    let sent = 0;
    let release: () => void = () => {};
    const bothSent = new Promise<void>((resolve) => {
      release = resolve;
    });
    dynamo.on(UpdateCommand).callsFake(async () => {
      sent += 1;
      if (sent === 2) release();
      await bothSent;
      throw full();
    });

    // Act
    const refusal = await new DynamoRateLimiter(client, 'tvm')
      .consume(rules, now)
      .catch((error: unknown) => error);

    // Assess
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(refusal).toMatchObject({ reason: 'rate_limited_principal', retryAfterSeconds: 30 });
  });

  it('a store error on one counter wins over a full window on another (503 upstream)', async () => {
    // Prepare
    dynamo
      .on(UpdateCommand)
      .rejectsOnce(full())
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));

    // Act
    const refusal = await new DynamoRateLimiter(client, 'tvm')
      .consume(rules, now)
      .catch((error: unknown) => error);

    // Assess
    expect(refusal).not.toBeInstanceOf(RateLimitedError);
    expect(refusal).toMatchObject({ name: 'ThrottlingException' });
  });
});
