/**
 * Benchmark 2, the warm vend handler, in-process: (a) the full middy credentials stack through the
 * test harness (real authenticator with a warm JWKS, real decide(), in-memory deny list, rate
 * limiter and audit sink, STS mocked with aws-sdk-client-mock), (b) the same middy stack around
 * an empty handler, (c) raw `jose.jwtVerify` alone on the same tokens.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { withHttpStack } from '#functions/http/middleware.ts';
import { fakeContext, httpEvent } from '../../test/support/lambda-fakes.ts';
import { TEST_AUDIENCE } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, startHarness, stsMock } from '../../test/support/vend-harness.ts';
import {
  forceGc,
  interleaved,
  median,
  round,
  type Summary,
  summarize,
  UNREACHED_RATE_LIMITS,
  type Variant,
} from './stats.ts';

export const HANDLER_TARGETS = { fullToJwtVerifyCpu: 1.3, fullMinusEmptyUs: 15 };

const TOKENS = 16;
const WARMUP_OPS = 300;
const ROUNDS = 15;
const OPS_PER_ROUND = 200;
const ALLOC_BATCHES = 60;
const ALLOC_BATCH_OPS = 5;
const RETENTION_OPS = 3_000;

export interface AllocationResult {
  /** Median heap bytes allocated per operation, minus the sampling baseline. */
  bytesPerOp: number;
  batchesKept: number;
  batchesTried: number;
}

export interface HandlerVariantResult extends Summary {
  heapAllocatedBytesPerOp: AllocationResult;
}

export interface HandlerResults {
  benchmark: 'handler';
  method: Record<string, string | number>;
  targets: typeof HANDLER_TARGETS;
  variants: {
    full: HandlerVariantResult;
    empty: HandlerVariantResult;
    jwtVerify: HandlerVariantResult;
  };
  /** Median over rounds of the per-round CPU ratio full / jwtVerify. */
  ratioFullToJwtVerifyCpu: number;
  /** Median over rounds of the per-round CPU difference full − empty, µs per request. */
  fullMinusEmptyCpuUs: number;
  fullMinusEmptyLatencyMedianUs: number;
  /** The empty stack's own CPU per request: what middy + Powertools middlewares cost. */
  frameworkCpuUsPerRequest: number;
  logBytesPerRequest: { full: number; empty: number };
  retention: {
    requests: number;
    heapUsedBefore: number;
    heapUsedAfter: number;
    bytesPerRequest: number;
  };
}

/** Swallows stdout (Powertools logs and EMF metrics) while counting the bytes written. */
function silenceStdout(): { bytes: () => number; restore: () => void } {
  const original = process.stdout.write;
  let bytes = 0;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return {
    bytes: () => bytes,
    restore: () => {
      process.stdout.write = original;
    },
  };
}

/**
 * Heap bytes allocated per operation: force a full GC, then run a short batch while reading
 * `heapUsed` after every operation. A batch in which `heapUsed` ever drops saw a GC and is
 * discarded; otherwise the growth over the batch is what the batch allocated. The same
 * measurement on a no-op gives the cost of the sampling itself, which is subtracted.
 */
async function allocation(
  op: (i: number) => Promise<unknown>,
): Promise<{ perOp: number[]; tried: number }> {
  const perOp: number[] = [];
  for (let b = 0; b < ALLOC_BATCHES; b += 1) {
    forceGc();
    const first = process.memoryUsage().heapUsed;
    let previous = first;
    let collected = false;
    for (let i = 0; i < ALLOC_BATCH_OPS; i += 1) {
      await op(b * ALLOC_BATCH_OPS + i);
      const now = process.memoryUsage().heapUsed;
      if (now < previous) collected = true;
      previous = now;
    }
    if (!collected) perOp.push((previous - first) / ALLOC_BATCH_OPS);
  }
  return { perOp, tried: ALLOC_BATCHES };
}

export async function runHandlerBench(log: (line: string) => void): Promise<HandlerResults> {
  // Rate limits kept (so the guard runs on every request) but high enough never to trigger.
  const harness = await startHarness({
    config: (issuer) => harnessConfig(issuer, { rateLimits: UNREACHED_RATE_LIMITS }),
  });
  const stdout = silenceStdout();
  try {
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS; i += 1) tokens.push(await harness.mint({ sub: `user-${i}` }));
    const pick = (i: number) => tokens[i % tokens.length] as string;

    const jwks = (await (await fetch(harness.issuer.jwksUri)).json()) as JSONWebKeySet;
    const localJwks = createLocalJWKSet(jwks);
    const empty = withHttpStack(async () => ({ statusCode: 200 }));
    let counter = 0;

    const full = async (i: number) => {
      const result = await harness.call({ token: pick(i) });
      // Correctness, not timing: every request must really vend.
      if (result.status !== 200)
        throw new Error(`full handler answered ${result.status}: ${result.raw}`);
    };
    const emptyOp = async (i: number) => {
      counter += 1;
      // The same event and context the harness builds for the full variant.
      const event = httpEvent({
        method: 'POST',
        path: '/v1/credentials',
        headers: { authorization: `Bearer ${pick(i)}` },
        requestId: `empty-${counter}`,
      });
      const result = await empty(event, fakeContext());
      if (typeof result === 'string' || result.statusCode !== 200)
        throw new Error('empty stack failed');
    };
    const raw = (i: number) =>
      jwtVerify(pick(i), localJwks, {
        issuer: harness.issuer.issuer,
        audience: TEST_AUDIENCE,
        algorithms: ['RS256'],
      });
    // Harness-only memory (recorded audits, the mock's call history) is dropped between rounds.
    const dropHarnessHistory = () => {
      harness.audits.length = 0;
      stsMock.resetHistory();
    };

    // Log volume per request, measured once, warm.
    for (let i = 0; i < 50; i += 1) await full(i);
    let before = stdout.bytes();
    for (let i = 0; i < 100; i += 1) await full(i);
    const fullLogBytes = (stdout.bytes() - before) / 100;
    before = stdout.bytes();
    for (let i = 0; i < 100; i += 1) await emptyOp(i);
    const emptyLogBytes = (stdout.bytes() - before) / 100;
    if (stsMock.commandCalls(AssumeRoleCommand).length < 150)
      throw new Error('STS mock was not called');
    dropHarnessHistory();

    const variants: Variant[] = [
      { name: 'full', op: full, between: dropHarnessHistory },
      { name: 'empty', op: emptyOp },
      { name: 'jwtVerify', op: raw },
    ];
    const samples = await interleaved(variants, {
      warmupOps: WARMUP_OPS,
      rounds: ROUNDS,
      opsPerRound: OPS_PER_ROUND,
    });
    const cpu = (name: string) => samples.get(name)?.cpuUsPerOp ?? [];
    const lat = (name: string) => samples.get(name)?.latenciesUs ?? [];

    // Allocation, with the sampling baseline taken on a no-op.
    const baseline = await allocation(async () => undefined);
    const baselinePerOp = median(baseline.perOp);
    const alloc = async (op: (i: number) => Promise<unknown>): Promise<AllocationResult> => {
      const { perOp, tried } = await allocation(op);
      dropHarnessHistory();
      return {
        bytesPerOp: Math.round(median(perOp) - baselinePerOp),
        batchesKept: perOp.length,
        batchesTried: tried,
      };
    };
    const allocations = {
      full: await alloc(full),
      empty: await alloc(emptyOp),
      jwtVerify: await alloc(raw),
    };

    // Retention: heap after a full GC, before and after many warm requests.
    dropHarnessHistory();
    forceGc();
    const heapUsedBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < RETENTION_OPS; i += 1) {
      await full(i);
      if (i % 500 === 499) dropHarnessHistory();
    }
    dropHarnessHistory();
    forceGc();
    const heapUsedAfter = process.memoryUsage().heapUsed;

    const variant = (name: 'full' | 'empty' | 'jwtVerify'): HandlerVariantResult => ({
      ...summarize(samples.get(name) as never),
      heapAllocatedBytesPerOp: allocations[name],
    });
    const results: HandlerResults = {
      benchmark: 'handler',
      method: {
        rounds: ROUNDS,
        opsPerRound: OPS_PER_ROUND,
        warmupOpsPerVariant: WARMUP_OPS,
        tokens: `${TOKENS} valid Cognito-style ID tokens (RS256, 1 key), distinct subjects, round-robin`,
        full:
          'harness.call({token}): builds the API Gateway v2 event, runs the middy stack around ' +
          'credentialsRoute (authenticate, deny list, rate limits, decide, STS AssumeRole mocked ' +
          'at client.send, audit to memory) and parses the JSON answer; every answer must be 200',
        empty: 'withHttpStack(async () => ({statusCode: 200})) on the same event shape',
        jwtVerify: 'jwtVerify(token, createLocalJWKSet(jwks), {issuer, audience, algorithms})',
        cpu:
          'process.cpuUsage() (user + system, every thread of the process: libuv pool for ' +
          'WebCrypto, GC helpers) over each round / requests in the round; median over rounds',
        heapAllocated:
          `v8 --expose-gc set at runtime (v8.setFlagsFromString + vm.runInNewContext('gc')); ` +
          `per batch of ${ALLOC_BATCH_OPS} requests: gc(), then process.memoryUsage().heapUsed ` +
          'after every request; batches where heapUsed drops (a GC ran) are discarded; growth / ' +
          'requests, median over batches, minus the same measurement on a no-op',
        retention: `gc(); heapUsed; ${RETENTION_OPS} full requests; harness history dropped; gc(); heapUsed`,
        stdout:
          'Powertools log and EMF metric lines are serialized as usual but written to a counting ' +
          'sink instead of the terminal',
      },
      targets: HANDLER_TARGETS,
      variants: { full: variant('full'), empty: variant('empty'), jwtVerify: variant('jwtVerify') },
      ratioFullToJwtVerifyCpu: round(
        median(cpu('full').map((x, r) => x / (cpu('jwtVerify')[r] as number))),
        2,
      ),
      fullMinusEmptyCpuUs: round(
        median(cpu('full').map((x, r) => x - (cpu('empty')[r] as number))),
      ),
      fullMinusEmptyLatencyMedianUs: round(median(lat('full')) - median(lat('empty'))),
      frameworkCpuUsPerRequest: round(median(cpu('empty'))),
      logBytesPerRequest: { full: Math.round(fullLogBytes), empty: Math.round(emptyLogBytes) },
      retention: {
        requests: RETENTION_OPS,
        heapUsedBefore,
        heapUsedAfter,
        bytesPerRequest: round((heapUsedAfter - heapUsedBefore) / RETENTION_OPS),
      },
    };
    const v = results.variants;
    log(
      `handler: CPU µs/request full ${v.full.cpuUsPerOpMedian}, empty ${v.empty.cpuUsPerOpMedian}, ` +
        `jwtVerify ${v.jwtVerify.cpuUsPerOpMedian}; full/jwtVerify ${results.ratioFullToJwtVerifyCpu}×, ` +
        `full − empty ${results.fullMinusEmptyCpuUs} µs`,
    );
    return results;
  } finally {
    stdout.restore();
    await harness.stop();
  }
}
