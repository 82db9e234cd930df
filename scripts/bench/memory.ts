/**
 * Memory over 100,000 warm invocations of the credentials handler:
 * the real middy stack, authenticator (warm JWKS), guards and decide(); STS and the audit sink
 * are plain stubs that keep no history, so any growth is the handler's own. The heap is read
 * after a forced full GC before and after, and every 10,000 requests for the trend.
 *
 *   npx tsx scripts/bench/memory.ts        writes bench/results/memory.json
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { STSClient } from '@aws-sdk/client-sts';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from '../../test/support/lambda-fakes.ts';
import { MemoryDenyList, MemoryRateLimiter } from '../../test/support/memory-guards.ts';
import { startTestIssuer } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, STS_ANSWER } from '../../test/support/vend-harness.ts';
import { PROJECT_ROOT } from '../local/aws-stack.ts';
import { forceGc, machineInfo, round, toJson } from './stats.ts';

const REQUESTS = Number(process.env.MEMORY_REQUESTS ?? 100_000);
const WARMUP = 2_000;
const CONCURRENCY = 32;
const SAMPLE_EVERY = 10_000;
const SUBJECTS = 64;

function heapMb(): number {
  forceGc();
  return process.memoryUsage().heapUsed / 1_048_576;
}

export async function runMemoryBench(log: (line: string) => void) {
  const issuer = await startTestIssuer();
  // No rate limits: the in-memory limiter of the tests keeps a counter per window, which
  // production keeps in DynamoDB; it would measure the test double, not the handler.
  const raw = harnessConfig(issuer) as { providers: Record<string, unknown>[] };
  for (const provider of raw.providers) delete provider.rateLimits;
  const validated = validateConfig(raw, { stage: 'local' });
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  const loaded = {
    generation: 1,
    hash: configHash(validated.config),
    createdAt: '',
    createdBy: '',
    config: validated.config,
  };
  let vended = 0;
  const deps: IssueDeps = createIssueDeps({
    logger: { info() {}, warn() {}, error() {} },
    overrides: {
      config: { require: async () => loaded },
      // A stub with no call history (a sinon mock would itself grow per call).
      sts: { send: async () => STS_ANSWER } as unknown as STSClient,
      audit: {
        async write() {
          vended += 1;
        },
      },
      guard: createAccessGuard(new MemoryDenyList(), new MemoryRateLimiter()),
      reuse: new CredentialReuseCache({ maxEntries: 5_000 }),
      vend: { timeoutMs: 1_000, maxAttempts: 1, backoffBaseMs: 0 },
      logger: { info() {}, warn() {}, error() {} },
      now: () => new Date(),
    },
  });
  const handler = withHttpStack(
    credentialsRoute(deps, createOidcAuthenticator({ stage: 'local' })),
  );
  const tokens = await Promise.all(
    Array.from({ length: SUBJECTS }, (_, i) =>
      issuer.mint({ token_use: 'id', tenant: 'acme', sub: `user-${i}` }),
    ),
  );
  // Powertools writes its (silenced) lines through stdout; keep the terminal readable.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let sent = 0;
  const run = async (count: number) => {
    const end = sent + count;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < end) {
          const n = sent++;
          const result = await handler(
            httpEvent({
              method: 'POST',
              path: '/v1/credentials',
              headers: { authorization: `Bearer ${tokens[n % SUBJECTS]}` },
              requestId: `mem-${n}`,
            }),
            fakeContext(),
          );
          if (typeof result === 'string' || result.statusCode !== 200) {
            throw new Error(`request ${n} did not answer 200`);
          }
        }
      }),
    );
  };
  const started = Date.now();
  const samples: { requests: number; heapMb: number }[] = [];
  try {
    await run(WARMUP);
    const before = heapMb();
    samples.push({ requests: 0, heapMb: round(before, 2) });
    for (let done = 0; done < REQUESTS; done += SAMPLE_EVERY) {
      await run(Math.min(SAMPLE_EVERY, REQUESTS - done));
      samples.push({ requests: done + SAMPLE_EVERY, heapMb: round(heapMb(), 2) });
    }
    const after = samples.at(-1)?.heapMb ?? before;
    const result = {
      machine: machineInfo(),
      date: new Date().toISOString(),
      method: `${REQUESTS} warm requests (after ${WARMUP} warm-up), ${CONCURRENCY} in flight, ${SUBJECTS} subjects; heapUsed after a forced full GC`,
      requests: REQUESTS,
      vended: vended - WARMUP,
      heapBeforeMb: round(before, 2),
      heapAfterMb: after,
      growthBytesPerRequest: round(((after - before) * 1_048_576) / REQUESTS, 1),
      samples,
      seconds: round((Date.now() - started) / 1000, 1),
    };
    writeFileSync(join(PROJECT_ROOT, 'bench', 'results', 'memory.json'), `${toJson(result)}\n`);
    process.stdout.write = write;
    log(
      `memory: ${REQUESTS} warm requests: heap ${result.heapBeforeMb} MB → ${result.heapAfterMb} MB (${result.growthBytesPerRequest} B/request), ${result.seconds} s`,
    );
    return result;
  } finally {
    process.stdout.write = write;
    await issuer.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runMemoryBench((line) => process.stderr.write(`${line}\n`));
}
