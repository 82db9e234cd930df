/**
 * Issue 6, item 5: end to end on loopback. A thin node:http adapter on 127.0.0.1 turns each
 * request into an API Gateway HTTP API (payload 2.0) event and calls the credentials handler
 * directly: the real middy stack and credentialsRoute, the real OIDC authenticator with a warm
 * JWKS from a real issuer on loopback, the real decide(), in-memory deny list and rate limiter
 * (limits raised so they never trigger, but still checked). STS AssumeRole (aws-sdk-client-mock)
 * and the audit write answer after 0 ms and after 20 ms. autocannon drives POST /v1/credentials
 * at 1, 8 and 64 connections, rotating a pool of valid tokens.
 *
 *   npx tsx scripts/bench/loopback.ts     writes bench/results/loopback.{json,svg}
 *
 * Numbers are reported, never asserted; only "every answer was 2xx" is asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import autocannon from 'autocannon';
import type { AuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { credentialsRoute } from '#shared/credentials/route.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { withHttpStack } from '#shared/http/middleware.ts';
import { fakeContext, httpEvent } from '../../test/support/lambda-fakes.ts';
import { MemoryDenyList, MemoryRateLimiter } from '../../test/support/memory-guards.ts';
import { startTestIssuer } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, STS_ANSWER, stsMock } from '../../test/support/vend-harness.ts';
import { machineInfo, quantile, round, toJson, UNREACHED_RATE_LIMITS } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'bench/results');

const STUB_DELAYS_MS = [0, 20] as const;
const CONNECTIONS = [1, 8, 64] as const;
const WARMUP_SECONDS = 1;
const DURATION_SECONDS = 5;
const TOKENS = 32;

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
}

export interface LoopbackResults {
  benchmark: 'loopback';
  method: Record<string, string | number>;
  rows: LoopbackRow[];
}

/** Swallows stdout (Powertools logs, EMF metrics) while the handler runs. */
function silenceStdout(): () => void {
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
const after = (ms: number): Promise<void> => (ms === 0 ? Promise.resolve() : delay(ms));

type Handler = ReturnType<typeof withHttpStack>;

/** The thin adapter: HTTP request → API Gateway v2 event → handler → HTTP response. */
function startAdapter(handler: Handler): Promise<Server> {
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
function cannon(
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

/** Two panels: requests/s and p50/p99 latency, grouped by connections, one colour per delay. */
export function renderLoopbackSvg(rows: readonly LoopbackRow[]): string {
  const width = 820;
  const height = 340;
  const colors: Record<number, string> = { 0: '#1f77b4', 20: '#ff7f0e' };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    '<title>TVM end to end on loopback: requests/s and latency at 1, 8 and 64 connections</title>',
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
    const barW = (groupW - 24) / STUB_DELAYS_MS.length;
    CONNECTIONS.forEach((c, g) => {
      const gx = p.x + g * groupW + 12;
      STUB_DELAYS_MS.forEach((d, k) => {
        const row = rows.find((r) => r.connections === c && r.stubDelayMs === d);
        if (row === undefined) return;
        const v = value(row);
        const h = (v / max) * p.h;
        const x = gx + k * barW;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(p.y + p.h - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[d]}"/>`,
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
  STUB_DELAYS_MS.forEach((d, k) => {
    const x = 40 + k * 220;
    out.push(
      `<rect x="${x}" y="${height - 24}" width="12" height="12" fill="${colors[d]}"/>`,
      t(x + 18, height - 14, `STS and audit stubs answer after ${d} ms`),
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export async function runLoopbackBench(log: (line: string) => void): Promise<LoopbackResults> {
  const machine = machineInfo();
  let stubDelayMs = 0;
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).callsFake(async () => {
    await after(stubDelayMs);
    return STS_ANSWER;
  });
  const issuer = await startTestIssuer();
  const raw = harnessConfig(issuer, { rateLimits: UNREACHED_RATE_LIMITS });
  const validated = validateConfig(raw, { stage: 'local' });
  if (!validated.ok) throw new Error(`config invalid: ${JSON.stringify(validated.problems)}`);
  const config = validated.config;
  // Hashed once, as the production store answers from memory within its TTL.
  const loaded = { generation: 1, hash: configHash(config), createdAt: '', createdBy: '', config };
  let audits = 0;
  const audit: AuditSink = {
    async write() {
      await after(stubDelayMs);
      audits += 1;
    },
  };
  const silent = { info() {}, warn() {}, error() {} };
  const deps: IssueDeps = {
    config: { require: async () => loaded },
    authenticator: createOidcAuthenticator({ stage: 'local' }),
    sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
    audit,
    guard: createAccessGuard(new MemoryDenyList(), new MemoryRateLimiter()),
    vend: { timeoutMs: 1_000, maxAttempts: 2, backoffBaseMs: 0 },
    logger: silent,
    now: () => new Date(),
  };
  const handler = withHttpStack(credentialsRoute(deps));
  const restoreStdout = silenceStdout();
  const server = await startAdapter(handler);
  const rows: LoopbackRow[] = [];
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
    // Correctness first: one request through the adapter must vend (and warms the JWKS).
    const probe = await fetch(`${url}/v1/credentials`, {
      method: 'POST',
      headers: requests[0]?.headers as Record<string, string>,
    });
    const probeBody = (await probe.json()) as { credentials?: { accessKeyId?: string } };
    if (probe.status !== 200 || !JSON.stringify(probeBody).includes('ASIATESTACCESSKEY'))
      throw new Error(`probe answered ${probe.status}: ${JSON.stringify(probeBody)}`);

    for (const d of STUB_DELAYS_MS) {
      stubDelayMs = d;
      for (const connections of CONNECTIONS) {
        const base = { url, connections, requests, timeout: 10 };
        await cannon({ ...base, duration: WARMUP_SECONDS });
        const stsBefore = stsMock.commandCalls(AssumeRoleCommand).length;
        const auditsBefore = audits;
        const { result: r, latenciesMs } = await cannon({ ...base, duration: DURATION_SECONDS });
        const stsCalls = stsMock.commandCalls(AssumeRoleCommand).length - stsBefore;
        stsMock.resetHistory();
        // Correctness, not timing: every answer 2xx, no errors, every vend called STS and audited.
        if (r.non2xx !== 0 || r.errors !== 0 || r.timeouts !== 0)
          throw new Error(
            `loopback ${d} ms × ${connections}: non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`,
          );
        if (stsCalls < r.requests.total || audits - auditsBefore < r.requests.total)
          throw new Error(`loopback ${d} ms × ${connections}: fewer STS calls/audits than 200s`);
        const row: LoopbackRow = {
          stubDelayMs: d,
          connections,
          requests: r.requests.total,
          requestsPerSecMean: round(r.requests.total / r.duration, 0),
          autocannonPerSecondSampleMean: round(r.requests.average, 0),
          durationSeconds: r.duration,
          latencyP50Ms: round(quantile(latenciesMs, 0.5), 2),
          latencyP99Ms: round(quantile(latenciesMs, 0.99), 2),
          latencyMeanMs: round(latenciesMs.reduce((a, b) => a + b, 0) / latenciesMs.length, 2),
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
        };
        rows.push(row);
        log(
          `loopback: stubs ${d} ms, ${connections} conn: ${row.requestsPerSecMean} req/s, p50 ${row.latencyP50Ms} ms, p99 ${row.latencyP99Ms} ms, non-2xx ${row.non2xx}`,
        );
      }
    }
  } finally {
    restoreStdout();
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
      stubs:
        'STS AssumeRole (aws-sdk-client-mock callsFake) and audit write answer after the delay',
    },
    rows,
  };
  await mkdir(outDir, { recursive: true });
  const loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  await writeFile(
    path.join(outDir, 'loopback.json'),
    `${toJson({ machine: { ...machine, loadAverageAtEnd }, ...results })}\n`,
  );
  await writeFile(path.join(outDir, 'loopback.svg'), renderLoopbackSvg(rows));
  log('loopback: wrote bench/results/loopback.json and loopback.svg');
  return results;
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await runLoopbackBench((line) => process.stderr.write(`${line}\n`));
}
