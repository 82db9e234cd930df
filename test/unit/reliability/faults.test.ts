/**
 * Fail closed under faults: every network call on the vend path is made to fail
 * (throttling, timeout, 500, connection reset) through the real adapters, and every answer must
 * be a generic problem+json with Retry-After, with no credentials unless they were audited, and
 * with the failure in the audit record.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditItem,
  CALL_KINDS,
  type CallKind,
  FAULT_KINDS,
  FAULT_MARKER,
  type FaultCallResult,
  type FaultHarness,
  type FaultKind,
  type FaultOutcome,
  faultOutcome,
  startFaultHarness,
  VENDED_KEY_PREFIX,
  VENDED_SECRET_PREFIX,
  VENDED_TOKEN_PREFIX,
} from '../../support/fault-harness.ts';

const CALL_LABELS: Readonly<Record<CallKind, string>> = {
  'config-pointer': 'the config pointer GetItem',
  'config-query': 'the config generation Query',
  'deny-list': 'the deny-list GetItem',
  'rate-limit': 'the rate-limit UpdateItem',
  'audit-put': 'the audit PutItem',
  'assume-role': 'STS AssumeRole',
  jwks: 'the JWKS fetch',
};

const FAULT_LABELS: Readonly<Record<FaultKind, string>> = {
  throttling: 'throttling',
  timeout: 'a timeout',
  'server-error': 'a 500',
  'connection-reset': 'a connection reset',
};

/** Error names and texts that must never reach a client. */
const LEAKS = [
  FAULT_MARKER,
  'Exception',
  'ECONNRESET',
  'Throttl',
  'InternalServerError',
  'TimeoutError',
  'AbortError',
  'DynamoDB',
  'STS',
  '    at ',
];

/** Calls that happen before STS: when one fails, STS must never have been asked. */
const BEFORE_STS: ReadonlySet<CallKind> = new Set([
  'config-pointer',
  'config-query',
  'deny-list',
  'rate-limit',
  'jwks',
]);

function describeOutcome(outcome: FaultOutcome): string {
  const status = outcome.gap === undefined ? `${outcome.status}` : `${outcome.status} (KNOWN GAP)`;
  const retry = outcome.retryAfter ? ' + Retry-After' : '';
  const audit =
    outcome.reason === undefined
      ? 'no audit record, credentials withheld'
      : `audited ${outcome.reason}`;
  return `${status}${retry}, ${audit}`;
}

function expectNoCredentials(result: FaultCallResult): void {
  for (const secret of [VENDED_KEY_PREFIX, VENDED_SECRET_PREFIX, VENDED_TOKEN_PREFIX]) {
    expect(result.raw).not.toContain(secret);
  }
  expect(result.raw).not.toMatch(/accessKeyId|secretAccessKey|sessionToken|credentials/i);
}

/** The generic problem body, the headers, and nothing of the failure's own text. */
function expectGenericProblem(result: FaultCallResult, outcome: FaultOutcome): void {
  expect(result.status).toBe(outcome.status);
  expect(result.headers['content-type']).toBe('application/problem+json');
  expect(result.headers['cache-control']).toBe('no-store');
  expect(result.body).toEqual({
    type: outcome.status === 503 ? 'urn:tvm:problem:upstream' : 'urn:tvm:problem:internal',
    title: outcome.status === 503 ? 'Service Unavailable' : 'Internal Server Error',
    status: outcome.status,
    requestId: result.requestId,
  });
  if (outcome.retryAfter) expect(result.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
  else expect(result.headers['retry-after']).toBeUndefined();
  for (const leak of LEAKS) expect(result.raw).not.toContain(leak);
  expectNoCredentials(result);
}

function expectAudit(audits: AuditItem[], result: FaultCallResult, reason: string | undefined) {
  const mine = audits.filter((audit) => audit.requestId === result.requestId);
  if (reason === undefined) {
    expect(mine).toHaveLength(0);
    return;
  }
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ reason, outcome: 'error' });
  expect(mine[0]?.accessKeyId).toBeUndefined();
}

describe('fail closed under upstream faults', () => {
  let harness: FaultHarness;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    harness = await startFaultHarness();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await harness.stop();
  });
  beforeEach(() => {
    // A fresh container per test: the config Query and the JWKS fetch happen on the first call.
    harness.reset();
  });
  afterEach(() => {
    // Emptied each time, so that a rejection fails the test that caused it and no other.
    expect(unhandled.splice(0)).toEqual([]);
  });

  const matrix = CALL_KINDS.flatMap((call) =>
    FAULT_KINDS.map((fault) => {
      const outcome = faultOutcome(call, fault);
      return {
        call,
        fault,
        outcome,
        name: `${CALL_LABELS[call]} fails with ${FAULT_LABELS[fault]} → ${describeOutcome(outcome)}`,
      };
    }),
  );

  it.each(matrix.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const { call, fault, outcome } = row;
    // Prepare: a request that would otherwise be vended.
    const token = await harness.mint({ tenant: 'acme' });
    const vendedBefore = harness.vendedCount();
    harness.inject(call, fault);

    // Act
    const result = await harness.call({ token });

    // Assess
    expect(harness.faultHits(call)).toBeGreaterThan(0);
    expectGenericProblem(result, outcome);
    expectAudit(harness.takeAudits(), result, outcome.reason);
    if (BEFORE_STS.has(call)) expect(harness.calls('assume-role')).toBe(0);
    if (call === 'assume-role') {
      // Every fault here is transient: retried up to the bound, then 503.
      expect(harness.calls('assume-role')).toBe(3);
      expect(harness.vendedCount()).toBe(vendedBefore);
    }
    if (call === 'audit-put') {
      // STS did vend; the credentials died with the failed audit write.
      expect(harness.vendedCount()).toBe(vendedBefore + 1);
    }
  });

  // The other spelling of each fault: DynamoDB's ThrottlingException, AbortError vs TimeoutError.
  const variants = [
    ...CALL_KINDS.filter((call) => call !== 'assume-role' && call !== 'jwks').flatMap((call) =>
      (['throttling', 'timeout'] as const).map((fault) => ({ call, fault })),
    ),
    { call: 'assume-role' as const, fault: 'timeout' as const },
  ].map(({ call, fault }) => ({
    call,
    fault,
    outcome: faultOutcome(call, fault),
    name: `${CALL_LABELS[call]} fails with ${fault === 'throttling' ? 'ThrottlingException' : 'the other timeout error'} → ${describeOutcome(faultOutcome(call, fault))}`,
  }));

  it.each(variants.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const { call, fault, outcome } = row;
    const token = await harness.mint({ tenant: 'acme' });
    harness.inject(call, fault, { variant: 1 });

    const result = await harness.call({ token });

    expect(harness.faultHits(call)).toBeGreaterThan(0);
    expectGenericProblem(result, outcome);
    expectAudit(harness.takeAudits(), result, outcome.reason);
  });

  it.each(CALL_KINDS)(
    'recovers once %s answers again, with one allowed audit record',
    async (call) => {
      // Prepare: one failed request.
      const token = await harness.mint({ tenant: 'acme' });
      harness.inject(call, 'server-error');
      expect((await harness.call({ token })).status).toBeGreaterThanOrEqual(500);
      harness.takeAudits();
      harness.clearFaults();
      // A failed JWKS fetch holds further fetches back for the provider's cooldown (30 s).
      harness.clock.advance(31_000);

      // Act
      const result = await harness.call({ token });

      // Assess: nothing about the failure was cached.
      expect(result.status).toBe(200);
      const audits = harness.takeAudits();
      expect(audits).toHaveLength(1);
      expect(audits[0]).toMatchObject({
        requestId: result.requestId,
        outcome: 'allowed',
        reason: 'ok',
        accessKeyId: (result.body.credentials as { accessKeyId: string }).accessKeyId,
      });
    },
  );

  it('vends once, audited once, when STS throttles and then answers within the retry bound', async () => {
    const token = await harness.mint({ tenant: 'acme' });
    harness.inject('assume-role', 'throttling', { times: 2 });

    const result = await harness.call({ token });

    expect(result.status).toBe(200);
    expect(harness.calls('assume-role')).toBe(3);
    const audits = harness.takeAudits();
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ outcome: 'allowed', accessKeyId: expect.any(String) });
    expect((result.body.credentials as { accessKeyId: string }).accessKeyId).toBe(
      audits[0]?.accessKeyId,
    );
  });

  it('keeps a refusal a refusal when its audit write fails: 401, no record, no credentials', async () => {
    // Prepare: an expired token, and DynamoDB throttling the audit write.
    const token = await harness.mint({ tenant: 'acme' }, { expiresIn: -3_600 });
    harness.inject('audit-put', 'throttling');

    // Act
    const result = await harness.call({ token });

    // Assess: the audit write was attempted, failed, and changed nothing the client sees.
    expect(harness.faultHits('audit-put')).toBe(1);
    expect(result.status).toBe(401);
    expect(result.headers['www-authenticate']).toBe('Bearer');
    for (const leak of LEAKS) expect(result.raw).not.toContain(leak);
    expectNoCredentials(result);
    expect(harness.takeAudits()).toHaveLength(0);
    expect(harness.calls('assume-role')).toBe(0);
  });

  it('serves the cached config while the config read fails within its TTL, then answers 503', async () => {
    // Prepare: a warm container (config loaded at t0, TTL 60 s), then DynamoDB goes down.
    expect((await harness.call({ token: await harness.mint({ tenant: 'acme' }) })).status).toBe(
      200,
    );
    harness.takeAudits();
    harness.resetCounters();
    harness.inject('config-pointer', 'timeout');
    harness.inject('config-query', 'timeout');

    // Act 1: just inside the TTL.
    harness.clock.advance(59_999);
    const cached = await harness.call({ token: await harness.mint({ tenant: 'acme' }) });

    // Assess 1: served from memory, no read attempted.
    expect(cached.status).toBe(200);
    expect(harness.calls('config-pointer')).toBe(0);
    expect(harness.takeAudits()).toMatchObject([{ outcome: 'allowed' }]);

    // Act 2: past the TTL, the pointer must be re-read and that fails.
    harness.clock.advance(2);
    const expired = await harness.call({ token: await harness.mint({ tenant: 'acme' }) });

    // Assess 2
    expect(harness.faultHits('config-pointer')).toBe(1);
    expectGenericProblem(expired, { status: 503, reason: 'config_unavailable', retryAfter: true });
    expectAudit(harness.takeAudits(), expired, 'config_unavailable');
    expect(harness.calls('assume-role')).toBe(1);
  });

  it('uses cached JWKS keys while the issuer is unreachable up to the stale bound, then 503', async () => {
    // Prepare: keys fetched at t0; staleMaxAgeSeconds is 3600, keys are refreshed after 600 s.
    expect((await harness.call({ token: await harness.mint({ tenant: 'acme' }) })).status).toBe(
      200,
    );
    harness.takeAudits();
    harness.resetCounters();
    harness.inject('jwks', 'connection-reset');

    // Act 1: the keys are due for a refresh, which fails; they are 601 s old.
    harness.clock.advance(601_000);
    const stale = await harness.call({ token: await harness.mint({ tenant: 'acme' }) });

    // Assess 1: the refresh was tried, and the cached keys still verified the token.
    expect(harness.faultHits('jwks')).toBe(1);
    expect(stale.status).toBe(200);
    expect(harness.takeAudits()).toMatchObject([{ outcome: 'allowed' }]);

    // Act 2: the keys are now older than the stale bound, and the issuer is still down.
    harness.clock.advance(3_000_000);
    const tooOld = await harness.call({ token: await harness.mint({ tenant: 'acme' }) });

    // Assess 2
    expect(harness.faultHits('jwks')).toBe(2);
    expectGenericProblem(tooOld, { status: 503, reason: 'jwks_unavailable', retryAfter: true });
    expectAudit(harness.takeAudits(), tooOld, 'jwks_unavailable');
  });
});
