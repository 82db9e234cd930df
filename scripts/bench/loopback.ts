/**
 * End to end on loopback, with every AWS call a stub that answers after a set delay. A thin
 * node:http adapter on 127.0.0.1 turns each request into an API Gateway HTTP API (payload 2.0)
 * event and calls the credentials handler directly: the real middy stack and route, the real
 * OIDC authenticator with a warm JWKS from a real issuer on loopback, the real decide(), and the
 * production adapters built by createIssueDeps (DynamoDenyList, DynamoRateLimiter,
 * DynamoAuditSink) over a DynamoDB document client stub: each GetItem (deny list), UpdateItem
 * (rate counter) and PutItem (audit) answers after the delay, as does STS AssumeRole
 * (aws-sdk-client-mock). Rate limits are raised so they never trigger, but every counter is
 * written. autocannon drives POST /v1/credentials, rotating a pool of valid tokens.
 *
 * Two tables:
 * - load: the guard as shipped, stubs at 0 ms and at the delay, 1, 8 and 64 connections;
 * - critical path: at the delay and 1 connection, the guard as shipped against the sequential
 *   guard it replaced (kept here only, as the baseline), with one or two rate rules, for a vend
 *   and for a reuse hit (no STS call). Its p50 counts the AWS round trips a request waits for.
 *
 *   npx tsx scripts/bench/loopback.ts [--stub-delay-ms 20]   writes bench/results/loopback.{json,svg}
 *   npm run bench -- loopback [--stub-delay-ms 20]
 *
 * Numbers are reported, never asserted; what is asserted: every answer was 2xx, and each made
 * the AWS calls its variant must make.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { providersOfIssuer } from '#shared/auth/principal.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import { AppError, ForbiddenError, UpstreamError } from '#shared/errors.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { type AccessGuard, rateLimitRules } from '#shared/guard/guard.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from '../../test/support/lambda-fakes.ts';
import { startTestIssuer, type TestIssuer } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, STS_ANSWER, stsMock } from '../../test/support/vend-harness.ts';
import { machineInfo, quantile, round, toJson, UNREACHED_RATE_LIMITS } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'bench/results');

const DEFAULT_STUB_DELAY_MS = 20;
const CONNECTIONS = [1, 8, 64] as const;
const WARMUP_SECONDS = 1;
const DURATION_SECONDS = 5;
const TOKENS = 32;
const TABLE = 'tvm-loopback';

export interface LoopbackOptions {
  /** What every stubbed AWS call waits before it answers, in the second load row and the critical path. */
  stubDelayMs?: number;
}

/** `--stub-delay-ms <n>` from the command line (the rest is ignored). */
export function loopbackOptions(argv: readonly string[]): LoopbackOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { 'stub-delay-ms': { type: 'string' } },
    strict: false,
    allowPositionals: true,
  });
  const raw = values['stub-delay-ms'];
  if (raw === undefined) return {};
  const stubDelayMs = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(stubDelayMs) || stubDelayMs < 1) {
    throw new Error(
      `--stub-delay-ms must be a whole number of milliseconds ≥ 1, not ${String(raw)}`,
    );
  }
  return { stubDelayMs };
}

export interface LoopbackRow {
  stubDelayMs: number;
  connections: number;
  requests: number;
  /** Requests answered / measured wall duration. */
  requestsPerSecMean: number;
  /** autocannon's own mean of per-second samples (low when a late tick adds a partial second). */
  autocannonPerSecondSampleMean: number;
  durationSeconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Stubbed AWS calls per answer in the measured run (in-flight requests at the end included). */
  awsCallsPerAnswer: AwsCalls;
}

type GuardKind = 'parallel' | 'sequential';

/** One variant of the critical-path table. */
interface PathVariant {
  guard: GuardKind;
  /** 1: perPrincipal only; 2: perPrincipal and perSourceIp. */
  rules: 1 | 2;
  /** A reuse hit: the mapping opts into reuse and this instance already vended for the caller. */
  reuse: boolean;
}

export interface CriticalPathRow extends PathVariant, LoopbackRow {
  label: string;
  /** AWS round trips the request waits for, one after the other, by construction. */
  roundTrips: number;
}

export interface LoopbackResults {
  benchmark: 'loopback';
  method: Record<string, string | number>;
  rows: LoopbackRow[];
  criticalPath: { stubDelayMs: number; connections: number; rows: CriticalPathRow[] };
}

export interface AwsCalls {
  denyGet: number;
  rateUpdate: number;
  auditPut: number;
  assumeRole: number;
}

/**
 * The DynamoDB document client's network, replaced: every command answers after `delayMs`, as
 * an empty table would (no deny entry, a counter with room, an accepted audit record).
 */
export class StubDynamo {
  delayMs = 0;
  readonly calls: AwsCalls = { denyGet: 0, rateUpdate: 0, auditPut: 0, assumeRole: 0 };

  async send(command: object): Promise<object> {
    await after(this.delayMs);
    if (command instanceof GetCommand && String(command.input.Key?.pk).startsWith('DENY#')) {
      this.calls.denyGet += 1;
      return { $metadata: {} };
    }
    if (command instanceof UpdateCommand && String(command.input.Key?.pk).startsWith('RATE#')) {
      this.calls.rateUpdate += 1;
      return { $metadata: {} };
    }
    if (command instanceof PutCommand && String(command.input.Item?.pk).startsWith('AUDIT#')) {
      this.calls.auditPut += 1;
      return { $metadata: {} };
    }
    throw new Error(`the loopback stub does not answer ${command.constructor.name}`);
  }

  /** Only `send` is ever called by the adapters; the cast stands for the network. */
  get client(): DynamoDBDocumentClient {
    return this as unknown as DynamoDBDocumentClient;
  }
}

/**
 * The guard as it was before the deny read and the counters shared one round trip: the deny
 * read, then each counter, one after the other. Kept in this script only, as the baseline.
 */
function sequentialGuard(denyList: DynamoDenyList, limiter: DynamoRateLimiter): AccessGuard {
  return {
    async check(identity, providers, context) {
      try {
        const legacy = providersOfIssuer(providers, identity.issuer).map((p) => p.id);
        const entry = await denyList.find(identity.issuer, identity.subject, legacy, context.now);
        if (entry !== undefined) throw new ForbiddenError('denied_principal');
        for (const rule of rateLimitRules(identity, providers, context.sourceIp)) {
          await limiter.consume([rule], context.now);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw new UpstreamError(error, 2, 'guard_unavailable');
      }
    },
  };
}

/** Swallows stdout (Powertools logs, EMF metrics) while the handler runs. */
export function silenceStdout(): () => void {
  const original = process.stdout.write;
  process.stdout.write = ((_chunk: string | Uint8Array, ...rest: unknown[]) => {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
  };
}

/** Answers after `ms`; 0 ms answers at once (a 0 ms timer would really wait about 1 ms). */
export const after = (ms: number): Promise<void> => (ms === 0 ? Promise.resolve() : delay(ms));

type Handler = ReturnType<typeof withHttpStack>;
type Invoke = (...args: Parameters<Handler>) => ReturnType<Handler>;

/** The thin adapter: HTTP request → API Gateway v2 event → handler → HTTP response. */
export function startAdapter(handler: Invoke): Promise<Server> {
  let counter = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      counter += 1;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = Buffer.concat(chunks).toString('utf8');
      const event = httpEvent({
        method: req.method ?? 'GET',
        path: url.pathname,
        headers,
        requestId: `loopback-${counter}`,
        ...(body === '' ? {} : { body }),
        ...(url.search === '' ? {} : { query: Object.fromEntries(url.searchParams) }),
      });
      handler(event, fakeContext({ awsRequestId: `lambda-loopback-${counter}` })).then(
        (result) => {
          if (typeof result === 'string') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(result);
            return;
          }
          const out: Record<string, string> = {};
          for (const [name, value] of Object.entries(result.headers ?? {})) out[name] = `${value}`;
          res.writeHead(result.statusCode ?? 200, out).end(result.body ?? '');
        },
        (error: unknown) => {
          res.writeHead(500).end(String(error));
        },
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * One autocannon run. Its histograms store whole milliseconds, so every response time (a float,
 * in ms, from autocannon's own hrtime) is also kept here for sub-millisecond quantiles.
 */
export function cannon(
  options: autocannon.Options,
): Promise<{ result: autocannon.Result; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) =>
      error ? reject(error) : resolve({ result, latenciesMs }),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latenciesMs.push(responseTime);
    });
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Top: requests/s and p50/p99 latency of the load table, grouped by connections, one colour per
 * stub delay. Bottom: the critical-path table's p50 per variant, with a tick per round trip.
 */
export function renderLoopbackSvg(results: Pick<LoopbackResults, 'rows' | 'criticalPath'>): string {
  const { rows, criticalPath } = results;
  const width = 820;
  const pathTop = 340;
  const barH = 22;
  const height = pathTop + 56 + criticalPath.rows.length * (barH + 6) + 30;
  const delays = [...new Set(rows.map((r) => r.stubDelayMs))].sort((a, b) => a - b);
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c'];
  const color = (d: number) => palette[delays.indexOf(d) % palette.length] ?? '#333';
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    '<title>TVM end to end on loopback with stubbed AWS calls: load, and the critical path</title>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  const t = (x: number, y: number, s: string, attrs = '') =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(s)}</text>`;
  const panel = (
    x0: number,
    title: string,
    value: (r: LoopbackRow) => number,
    whisker?: (r: LoopbackRow) => number,
  ) => {
    const p = { x: x0, y: 50, w: 340, h: 220 };
    out.push(t(p.x, 26, title, 'font-size="13" font-weight="bold"'));
    const max = Math.max(...rows.map((r) => Math.max(value(r), whisker?.(r) ?? 0))) * 1.1;
    out.push(
      `<line x1="${p.x}" y1="${p.y + p.h}" x2="${p.x + p.w}" y2="${p.y + p.h}" stroke="#333"/>`,
    );
    const groupW = p.w / CONNECTIONS.length;
    const barW = (groupW - 24) / delays.length;
    CONNECTIONS.forEach((c, g) => {
      const gx = p.x + g * groupW + 12;
      delays.forEach((d, k) => {
        const row = rows.find((r) => r.connections === c && r.stubDelayMs === d);
        if (row === undefined) return;
        const v = value(row);
        const h = (v / max) * p.h;
        const x = gx + k * barW;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(p.y + p.h - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color(d)}"/>`,
        );
        let label = `${Math.round(v)}`;
        if (whisker !== undefined) {
          const w = whisker(row);
          const wy = p.y + p.h - (w / max) * p.h;
          const cx = x + (barW - 2) / 2;
          out.push(
            `<line x1="${cx.toFixed(1)}" y1="${wy.toFixed(1)}" x2="${cx.toFixed(1)}" y2="${(p.y + p.h - h).toFixed(1)}" stroke="#333"/>`,
            `<line x1="${(cx - 4).toFixed(1)}" y1="${wy.toFixed(1)}" x2="${(cx + 4).toFixed(1)}" y2="${wy.toFixed(1)}" stroke="#333"/>`,
          );
          label = `${v.toFixed(1)}/${w.toFixed(1)}`;
          out.push(t(cx, wy - 4, label, 'text-anchor="middle" font-size="9"'));
        } else {
          out.push(t(x + (barW - 2) / 2, p.y + p.h - h - 4, label, 'text-anchor="middle"'));
        }
      });
      out.push(t(gx + (groupW - 24) / 2, p.y + p.h + 16, `${c} conn.`, 'text-anchor="middle"'));
    });
  };
  panel(40, 'Requests/s (mean; higher is better)', (r) => r.requestsPerSecMean);
  panel(
    440,
    'Latency ms: bar p50, whisker p99 (lower is better)',
    (r) => r.latencyP50Ms,
    (r) => r.latencyP99Ms,
  );
  delays.forEach((d, k) => {
    const x = 40 + k * 260;
    out.push(
      `<rect x="${x}" y="${pathTop - 36}" width="12" height="12" fill="${color(d)}"/>`,
      t(x + 18, pathTop - 26, `every AWS call answers after ${d} ms`),
    );
  });

  // The critical path: p50 against the round trips it should take.
  const d = criticalPath.stubDelayMs;
  out.push(
    t(
      40,
      pathTop + 10,
      `Critical path at ${d} ms stubs, ${criticalPath.connections} connection: p50 ms (ticks every ${d} ms)`,
      'font-size="13" font-weight="bold"',
    ),
  );
  const left = 300;
  const plotW = width - left - 90;
  const maxMs = Math.max(
    ...criticalPath.rows.map((r) => Math.max(r.latencyP50Ms, r.roundTrips * d)),
  );
  const ticks = Math.ceil(maxMs / d);
  const scale = plotW / (ticks * d);
  const y0 = pathTop + 28;
  const plotBottom = y0 + criticalPath.rows.length * (barH + 6);
  for (let i = 0; i <= ticks; i += 1) {
    const x = left + i * d * scale;
    out.push(
      `<line x1="${x.toFixed(1)}" y1="${y0 - 4}" x2="${x.toFixed(1)}" y2="${plotBottom}" stroke="#ddd"/>`,
      t(x, plotBottom + 14, `${i * d}`, 'text-anchor="middle" fill="#555"'),
    );
  }
  criticalPath.rows.forEach((row, i) => {
    const y = y0 + i * (barH + 6);
    const w = row.latencyP50Ms * scale;
    out.push(
      t(12, y + 15, row.label),
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${row.guard === 'parallel' ? '#2ca02c' : '#999'}"/>`,
      t(left + w + 6, y + 15, `${row.latencyP50Ms.toFixed(1)} ms (${row.roundTrips} × ${d})`),
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The variants of the critical-path table, baseline first. */
const PATH_VARIANTS: readonly (PathVariant & { label: string })[] = [
  { guard: 'sequential', rules: 2, reuse: false, label: 'before: sequential guard, 2 rules' },
  { guard: 'sequential', rules: 1, reuse: false, label: 'before: sequential guard, 1 rule' },
  { guard: 'parallel', rules: 2, reuse: false, label: 'after: one round trip, 2 rules' },
  { guard: 'parallel', rules: 1, reuse: false, label: 'after: one round trip, 1 rule' },
  { guard: 'sequential', rules: 2, reuse: true, label: 'before, reuse hit, 2 rules' },
  { guard: 'parallel', rules: 2, reuse: true, label: 'after, reuse hit, 2 rules' },
];

/** Round trips one after the other: the guard's, then STS (not on a reuse hit), then the audit. */
function roundTrips(variant: PathVariant): number {
  const guard = variant.guard === 'parallel' ? 1 : 1 + variant.rules;
  return guard + (variant.reuse ? 0 : 1) + 1;
}

/** One credentials handler per variant, built by the production factory over the stubs. */
function buildHandler(issuer: TestIssuer, stub: StubDynamo, variant: PathVariant): Handler {
  const rateLimits =
    variant.rules === 2
      ? UNREACHED_RATE_LIMITS
      : { perPrincipal: UNREACHED_RATE_LIMITS.perPrincipal };
  const raw = harnessConfig(issuer, { rateLimits }) as { mappings: Record<string, unknown>[] };
  // Every mapping opts into reuse; whether it happens is the instance's cache (absent: never).
  raw.mappings = raw.mappings.map((m) => ({ ...m, reuse: { minRemainingSeconds: 60 } }));
  const deps = benchIssueDeps(raw, stub.client, {
    ...(variant.guard === 'sequential'
      ? {
          guard: sequentialGuard(
            new DynamoDenyList(stub.client, TABLE),
            new DynamoRateLimiter(stub.client, TABLE),
          ),
        }
      : {}),
    reuse: variant.reuse ? new CredentialReuseCache({ maxEntries: 1_000 }) : undefined,
  });
  return withHttpStack(credentialsRoute(deps, createOidcAuthenticator({ stage: 'local' })));
}

/**
 * The production factory over the stubbed DynamoDB client, with the config validated and loaded
 * once (as the production store answers from memory within its TTL) and a silent logger.
 */
export function benchIssueDeps(
  raw: unknown,
  client: DynamoDBDocumentClient,
  overrides: Partial<IssueDeps> = {},
): IssueDeps {
  const validated = validateConfig(raw, { stage: 'local' });
  if (!validated.ok) throw new Error(`config invalid: ${JSON.stringify(validated.problems)}`);
  const config = validated.config;
  const loaded = { generation: 1, hash: configHash(config), createdAt: '', createdBy: '', config };
  const silent = { info() {}, warn() {}, error() {} };
  return createIssueDeps({
    logger: silent,
    env: { TVM_TABLE_NAME: TABLE, TVM_AUDIT_RETENTION_DAYS: '90' },
    documentClient: client,
    overrides: {
      config: { require: async () => loaded },
      sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
      reuse: undefined,
      vend: { timeoutMs: 1_000, maxAttempts: 2, backoffBaseMs: 0 },
      logger: silent,
      now: () => new Date(),
      ...overrides,
    },
  });
}

/** STS answers AssumeRole after the stub's delay, counting the call. */
export function stubAssumeRole(stub: { delayMs: number; calls: { assumeRole: number } }): void {
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).callsFake(async () => {
    await after(stub.delayMs);
    stub.calls.assumeRole += 1;
    return STS_ANSWER;
  });
}

export async function runLoopbackBench(
  log: (line: string) => void,
  options: LoopbackOptions = {},
): Promise<LoopbackResults> {
  const stubDelayMs = options.stubDelayMs ?? DEFAULT_STUB_DELAY_MS;
  const machine = machineInfo();
  const stub = new StubDynamo();
  stubAssumeRole(stub);
  const issuer = await startTestIssuer();
  let handler: Handler = buildHandler(issuer, stub, { guard: 'parallel', rules: 2, reuse: false });
  const restoreStdout = silenceStdout();
  // The handler is swapped per variant; the server, its port and the JWKS stay warm.
  const server = await startAdapter((...args) => handler(...args));
  const rows: LoopbackRow[] = [];
  const pathRows: CriticalPathRow[] = [];
  try {
    const { port } = server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    const requests: autocannon.Request[] = [];
    for (let i = 0; i < TOKENS; i += 1) {
      const token = await issuer.mint({ token_use: 'id', tenant: 'acme', sub: `user-${i}` });
      requests.push({
        method: 'POST',
        path: '/v1/credentials',
        headers: { authorization: `Bearer ${token}` },
      });
    }
    /** Each token once; the first must vend (this also warms the JWKS and a reuse cache). */
    const everyTokenOnce = async () => {
      for (const request of requests) {
        const answer = await fetch(`${url}/v1/credentials`, {
          method: 'POST',
          headers: request.headers as Record<string, string>,
        });
        const body = await answer.text();
        if (answer.status !== 200 || !body.includes('ASIATESTACCESSKEY'))
          throw new Error(`probe answered ${answer.status}: ${body.slice(0, 300)}`);
      }
    };
    await everyTokenOnce();

    /** One warm-up then one measured autocannon run; checks the answers and the AWS calls made. */
    const measure = async (
      what: string,
      d: number,
      connections: number,
      expected: AwsCalls,
    ): Promise<LoopbackRow> => {
      stub.delayMs = d;
      const base = { url, connections, requests, timeout: 10 };
      await cannon({ ...base, duration: WARMUP_SECONDS });
      const before = { ...stub.calls };
      const { result: r, latenciesMs } = await cannon({ ...base, duration: DURATION_SECONDS });
      stsMock.resetHistory();
      if (r.non2xx !== 0 || r.errors !== 0 || r.timeouts !== 0)
        throw new Error(
          `loopback ${what}: non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`,
        );
      const answers = r.requests.total;
      const perAnswer = {} as AwsCalls;
      for (const key of Object.keys(expected) as (keyof AwsCalls)[]) {
        const made = stub.calls[key] - before[key];
        perAnswer[key] = round(made / answers, 3);
        // Correctness, not timing: each answer made its calls (requests in flight at the end of
        // the warm-up and of the run add at most one round of calls per connection each).
        const low = expected[key] * answers;
        const high = expected[key] * (answers + 2 * connections);
        if (made < low || made > high)
          throw new Error(`loopback ${what}: ${made} ${key} calls for ${answers} answers`);
      }
      return {
        stubDelayMs: d,
        connections,
        requests: answers,
        requestsPerSecMean: round(answers / r.duration, 0),
        autocannonPerSecondSampleMean: round(r.requests.average, 0),
        durationSeconds: r.duration,
        latencyP50Ms: round(quantile(latenciesMs, 0.5), 2),
        latencyP99Ms: round(quantile(latenciesMs, 0.99), 2),
        latencyMeanMs: round(latenciesMs.reduce((a, b) => a + b, 0) / latenciesMs.length, 2),
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        awsCallsPerAnswer: perAnswer,
      };
    };
    // One provider entry: the issuer's deny key and its legacy key, read in parallel.
    const DENY_READS = 2;
    const expectedCalls = (v: PathVariant): AwsCalls => ({
      denyGet: DENY_READS,
      rateUpdate: v.rules,
      auditPut: 1,
      assumeRole: v.reuse ? 0 : 1,
    });

    for (const d of [0, stubDelayMs]) {
      for (const connections of CONNECTIONS) {
        const row = await measure(
          `${d} ms × ${connections}`,
          d,
          connections,
          expectedCalls({ guard: 'parallel', rules: 2, reuse: false }),
        );
        rows.push(row);
        log(
          `loopback: stubs ${d} ms, ${connections} conn: ${row.requestsPerSecMean} req/s, p50 ${row.latencyP50Ms} ms, p99 ${row.latencyP99Ms} ms`,
        );
      }
    }

    for (const variant of PATH_VARIANTS) {
      handler = buildHandler(issuer, stub, variant);
      stub.delayMs = 0;
      // A reuse hit needs this instance to have vended for every token first.
      if (variant.reuse) await everyTokenOnce();
      const row = await measure(variant.label, stubDelayMs, 1, expectedCalls(variant));
      pathRows.push({ ...variant, ...row, roundTrips: roundTrips(variant) });
      log(
        `loopback: ${variant.label}: p50 ${row.latencyP50Ms} ms (${roundTrips(variant)} round trips × ${stubDelayMs} ms), p99 ${row.latencyP99Ms} ms`,
      );
    }
  } finally {
    // Closed first: a request still in flight would log its audit line after stdout is back.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    restoreStdout();
    await issuer.stop();
    stsMock.reset();
  }

  const results: LoopbackResults = {
    benchmark: 'loopback',
    method: {
      adapter: 'node:http on 127.0.0.1 → API Gateway v2 event → credentials handler (same process)',
      client: 'autocannon 9 programmatic API, in the same process and event loop as the server',
      latency:
        "client-side, per response, from autocannon's 'response' event (ms, not rounded to whole ms)",
      requestsPerSec: 'requests answered (all 2xx) / measured duration of the run',
      route: 'POST /v1/credentials',
      tokens: TOKENS,
      warmupSeconds: WARMUP_SECONDS,
      durationSeconds: DURATION_SECONDS,
      wiring:
        'createIssueDeps with the production DynamoDenyList, DynamoRateLimiter and DynamoAuditSink over a stub DynamoDB document client; config from memory (warm cache); STS by aws-sdk-client-mock',
      stubs: `every AWS call answers after the delay (0 ms: an already-resolved promise, no timer): deny-list GetItem (2 per request, in parallel: the issuer key and the legacy key of the one provider entry), rate-counter UpdateItem (one per rule), STS AssumeRole, audit PutItem`,
      baseline:
        'the critical path table\'s "before" rows use the sequential guard this script keeps as a baseline: the deny read, then each counter one after the other',
      rateLimits: 'raised so they never trigger; every counter is still written',
    },
    rows,
    criticalPath: { stubDelayMs, connections: 1, rows: pathRows },
  };
  await mkdir(outDir, { recursive: true });
  const loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  await writeFile(
    path.join(outDir, 'loopback.json'),
    `${toJson({ machine: { ...machine, loadAverageAtEnd }, ...results })}\n`,
  );
  await writeFile(path.join(outDir, 'loopback.svg'), renderLoopbackSvg(results));
  log('loopback: wrote bench/results/loopback.json and loopback.svg');
  return results;
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await runLoopbackBench(
    (line) => process.stderr.write(`${line}\n`),
    loopbackOptions(process.argv.slice(2)),
  );
}
