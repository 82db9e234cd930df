/**
 * Cold start benchmark. For every function that `serverless package` bundles, three bundles are
 * built with esbuild's API, using serverless-esbuild's settings read from serverless.yml
 * (`custom.esbuild`: bundle, platform, target, format, minify, sourcemap), so what is timed is
 * what deploys; each runs with the `NODE_OPTIONS` serverless.yml gives the functions
 * (`--enable-source-maps`, which loads the source map):
 *
 * - (a) hello: `exports.handler = async () => ({ statusCode: 200 })`;
 * - (b) baseline: (a) plus the libraries the function builds at module scope, constructed the
 *   same way. For `credentials`: DynamoDBDocumentClient over DynamoDBClient and STSClient. For
 *   `health`, which builds no SDK client: the Powertools Logger and Metrics plus the middy stack
 *   (injectLambdaContext, logMetrics) that it imports;
 * - (c) ours: the real `functions/<name>/handler.ts`.
 *
 * Each bundle runs as RUNS fresh Node processes (interleaved a, b, c, a, b, c, ...), each through
 * a tiny generated runner that records, relative to the process start (`performance.timeOrigin`):
 * the runner's first line, `require(bundle)` done (module evaluated) and the first
 * `await handler(event, context)` answered.
 *
 * The `credentials` event carries no Authorization header: it is answered with a 401 before any
 * JWKS fetch, config read or STS call. That path still writes one audit record (DynamoDB PutItem),
 * so AWS_ENDPOINT_URL points at a loopback stub that answers every SDK request at once with `{}`:
 * the first answer includes the SDK's first-request setup (credentials from env, signing, the
 * HTTP agent) and one loopback round trip, but no JWKS, config, STS or real DynamoDB latency.
 * Nothing leaves the machine. COLD_START_ENDPOINT=closed uses http://127.0.0.1:9 instead (the
 * PutItem then fails with ECONNREFUSED, and the SDK's retries land inside the first answer).
 *
 * Then, on the same (c) code of credentials and saml, one build setting at a time (minify, the
 * sources inside the source map, source maps enabled at all), interleaved: what each one costs.
 *
 * Writes bench/results/cold-start.json and bench/results/cold-start.svg. Reports; never asserts.
 * Run alone with `npx tsx scripts/bench/cold-start.ts`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { SourceMap } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { parse } from 'yaml';
import { machineInfo, median, quantile, round, toJson } from './stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = path.join(ROOT, '.bench', 'cold-start');
const RESULTS = path.join(ROOT, 'bench', 'results');
const RUNS = Number(process.env.COLD_START_RUNS ?? 30);
const WARMUP_RUNS = 2;
/** The targets the README's Performance table states. */
const MAX_MINIFIED_BYTES = 400 * 1000;
const MAX_INIT_OVER_BASELINE_MS = 20;

const FUNCTIONS = ['credentials', 'saml', 'health'] as const;
type FunctionName = (typeof FUNCTIONS)[number];
const VARIANTS = ['a', 'b', 'c'] as const;
type VariantId = (typeof VARIANTS)[number];
const VARIANT_LABEL: Record<VariantId, string> = {
  a: 'hello world',
  b: 'hello + same module-scope libraries',
  c: 'ours',
};

/** serverless-esbuild's settings and the functions' NODE_OPTIONS, as serverless.yml deploys them. */
interface DeployedBuild {
  platform: 'node';
  target: string;
  format: 'cjs';
  minify: boolean;
  keepNames: boolean;
  sourcemap: boolean;
  sourcesContent: boolean;
  nodeOptions: string;
}

function deployedBuild(): DeployedBuild {
  // CloudFormation tags (!GetAtt, !Sub) are elsewhere in the file; only plain values are read.
  const yml = parse(readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8'), {
    logLevel: 'silent',
  }) as {
    custom?: { esbuild?: Record<string, unknown> };
    provider?: { environment?: Record<string, unknown> };
  };
  const esbuild = yml.custom?.esbuild ?? {};
  const { bundle, platform, target, format, minify, sourcemap } = esbuild;
  const { keepNames = false, sourcesContent = true } = esbuild;
  if (bundle !== true || platform !== 'node' || format !== 'cjs' || typeof target !== 'string') {
    throw new Error(
      `serverless.yml custom.esbuild is not what this bench builds: ${JSON.stringify(esbuild)}`,
    );
  }
  if (
    typeof minify !== 'boolean' ||
    typeof keepNames !== 'boolean' ||
    typeof sourcemap !== 'boolean' ||
    typeof sourcesContent !== 'boolean'
  ) {
    throw new Error(
      'serverless.yml custom.esbuild minify, keepNames, sourcemap, sourcesContent: true or false',
    );
  }
  const nodeOptions = yml.provider?.environment?.NODE_OPTIONS;
  return {
    platform,
    target,
    format,
    minify,
    keepNames,
    sourcemap,
    sourcesContent,
    nodeOptions: typeof nodeOptions === 'string' ? nodeOptions : '',
  };
}

const HELLO = 'exports.handler = async () => ({ statusCode: 200 });\n';

/** The clients the credentials and SAML functions construct at module scope, and nothing else. */
const SAME_CLIENTS = `import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
export const documentClient = DynamoDBDocumentClient.from(
  new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 1500 } }),
  { marshallOptions: { removeUndefinedValues: true } },
);
export const sts = new STSClient({ maxAttempts: 1 });
export const handler = async () => ({ statusCode: 200 });
`;

/** (b) per function: what the real handler constructs at module scope, and nothing of ours. */
const BASELINE: Record<FunctionName, { description: string; source: string }> = {
  credentials: {
    description:
      'DynamoDBDocumentClient.from(new DynamoDBClient({maxAttempts:3, requestHandler:{connectionTimeout,requestTimeout}}), {marshallOptions}) and new STSClient({maxAttempts:1}) at module scope, then the hello handler',
    source: SAME_CLIENTS,
  },
  saml: {
    description:
      'the same clients as credentials (the SAML function reuses its issue path: a DynamoDBDocumentClient and an STSClient at module scope), then the hello handler; xml-crypto and the SSM client are loaded on first use by our code, not at init',
    source: SAME_CLIENTS,
  },
  health: {
    description:
      'health builds no SDK client, so (b) = hello + the Powertools Logger and Metrics at module scope + middy with injectLambdaContext and logMetrics (what functions/health imports, minus our own code)',
    source: `import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
const logger = new Logger({ serviceName: 'tvm' });
const metrics = new Metrics({ namespace: 'TVM', serviceName: 'tvm', logger: logger.createChild({ logLevel: 'ERROR' }) });
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(async () => ({ statusCode: 200 }));
`,
  },
};

/** The runner: one fresh process, one bundle, one invocation; prints one marked JSON line. */
const RUNNER = `'use strict';
const t0 = performance.now();
const h0 = process.hrtime.bigint();
const [bundle, fn, mode] = process.argv.slice(2);
const ms = (h) => Number(h - h0) / 1e6;
const mod = require(bundle);
const h1 = process.hrtime.bigint();
const report = (answer) => {
  const h2 = process.hrtime.bigint();
  const out = { runnerStartMs: t0, evaluatedMs: t0 + ms(h1), answeredMs: answer ? t0 + ms(h2) : null,
    status: answer ? answer.statusCode : null };
  process.stdout.write('\\n@@COLDSTART@@' + JSON.stringify(out) + '\\n');
};
if (mode === 'init-only') { report(null); return; }
const now = new Date();
const event = {
  version: '2.0', routeKey: 'GET /v1/' + fn, rawPath: '/v1/' + fn, rawQueryString: '',
  headers: { host: 'localhost', 'user-agent': 'cold-start-bench' },
  requestContext: { accountId: '123456789012', apiId: 'local', domainName: 'localhost',
    domainPrefix: 'localhost', requestId: 'cold-start-1', routeKey: 'GET /v1/' + fn, stage: '$default',
    time: now.toISOString(), timeEpoch: now.getTime(),
    http: { method: 'GET', path: '/v1/' + fn, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'cold-start-bench' } },
  isBase64Encoded: false,
};
const deadline = Date.now() + 10000;
const context = { callbackWaitsForEmptyEventLoop: true, functionName: 'tvm-bench-' + fn,
  functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:tvm-bench-' + fn,
  memoryLimitInMB: '256', awsRequestId: 'cold-start-1', logGroupName: '/aws/lambda/tvm-bench-' + fn,
  logStreamName: 'bench', getRemainingTimeInMillis: () => deadline - Date.now(),
  done() {}, fail() {}, succeed() {} };
Promise.resolve(mod.handler(event, context)).then(report, (error) => { console.error(error); process.exit(2); });
`;

interface Sample {
  evaluatedMs: number;
  answeredMs: number;
  runnerStartMs: number;
  /** spawn() to exit, seen by the parent: includes Node's own boot and teardown. */
  wallMs: number;
  status: number;
}

interface Distribution {
  median: number;
  p90: number;
}

export interface VariantResult {
  variant: VariantId;
  label: string;
  entry: string;
  /** The bundle as serverless.yml builds it (the one timed). */
  bundleBytes: number;
  /** Its source map beside it (0 without one); --enable-source-maps reads it at load. */
  sourceMapBytes: number;
  /** The same code with minify off, for comparison. */
  unminifiedBytes: number;
  minifiedBytes: number;
  /** The largest contributors to the minified bundle (esbuild metafile, bytes in output). */
  minifiedTopPackages: { module: string; bytes: number }[];
  runs: number;
  statusCodes: number[];
  /** SDK requests the loopback stub received, per operation, summed over the timed runs. */
  awsRequests: Record<string, number>;
  /** Node's own boot: process start → the runner's first line. */
  nodeBootMs: Distribution;
  /** Process start → `require(bundle)` returned. */
  moduleEvaluatedMs: Distribution;
  /** The bundle's own share: runner's first line → module evaluated. */
  requireMs: Distribution;
  /** Process start → the first `await handler()` answered. */
  firstAnswerMs: Distribution;
  /** Module evaluated → first answer. */
  firstInvocationMs: Distribution;
  /** Parent's spawn → child exit. */
  processWallMs: Distribution;
}

export interface FunctionResult {
  function: FunctionName;
  baseline: string;
  variants: VariantResult[];
  targets: {
    minifiedBytesMax: number;
    minifiedBytes: number;
    minifiedMet: boolean;
    initOverBaselineMaxMs: number;
    /** (c) − (b), medians of process start → module evaluated. */
    moduleEvaluatedOverBaselineMs: number;
    /** (c) − (b), medians of process start → first answer. */
    firstAnswerOverBaselineMs: number;
    initMet: boolean;
  };
}

export interface ColdStartResult {
  benchmark: 'cold-start';
  machine: ReturnType<typeof machineInfo>;
  method: Record<string, string>;
  functions: FunctionResult[];
  initProfile?: ProfileResult;
  settings?: SettingsResult;
}

/** One build setting changed at a time on the same (c) code, interleaved in the same rounds. */
interface SettingsVariant {
  label: string;
  minify: boolean;
  keepNames: boolean;
  sourcesContent: boolean;
  /** NODE_OPTIONS=--enable-source-maps (the map is read and parsed at load). */
  sourceMapsEnabled: boolean;
}

interface SettingsResult {
  note: string;
  functions: {
    function: FunctionName;
    variants: (SettingsVariant & {
      bundleBytes: number;
      sourceMapBytes: number;
      moduleEvaluatedMs: Distribution;
      firstAnswerMs: Distribution;
    })[];
  }[];
}

interface ProfilePart {
  /** Self time of all sampled frames except (idle), (program) and (root); profiler overhead included. */
  sampledMs: number;
  /** Top 5 of everything, Node internals and V8 pseudo-frames included. */
  topSelfTime: { module: string; selfMs: number; share: number }[];
  /** Top 5 npm packages (and our own folders) only. */
  topModules: { module: string; selfMs: number; share: number }[];
}

interface ProfileResult {
  function: FunctionName;
  variant: 'c';
  note: string;
  /** require(bundle) only. */
  init: ProfilePart;
  /** require(bundle) plus the first (401) invocation. */
  initAndFirstAnswer: ProfilePart;
}

function dist(values: number[]): Distribution {
  return { median: round(median(values), 2), p90: round(quantile(values, 0.9), 2) };
}

function childEnv(endpoint: string, nodeOptions: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The children run plain CJS bundles: no loader (tsx) or flags leak into them.
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith('TSX_')) delete env[key];
  for (const key of Object.keys(env)) if (key.startsWith('AWS_')) delete env[key];
  return {
    ...env,
    TVM_STAGE: 'local',
    TVM_TABLE_NAME: 'tvm-local',
    TVM_CONFIG_CACHE_TTL_SECONDS: '60',
    TVM_AUDIT_RETENTION_DAYS: '90',
    POWERTOOLS_SERVICE_NAME: 'tvm',
    POWERTOOLS_METRICS_NAMESPACE: 'TVM',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    // Loopback only: the stub below, or a closed port.
    AWS_ENDPOINT_URL: endpoint,
    ...(nodeOptions === '' ? {} : { NODE_OPTIONS: nodeOptions }),
  };
}

async function bundle(
  entry: string,
  outfile: string,
  settings: DeployedBuild,
  minify: boolean,
  sourcemap: boolean,
): Promise<{ bytes: number; topPackages: { module: string; bytes: number }[] }> {
  const out = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: settings.platform,
    target: settings.target,
    format: settings.format,
    minify,
    keepNames: settings.keepNames,
    sourcesContent: settings.sourcesContent,
    // Linked, as serverless-esbuild writes it: the sourceMappingURL comment makes Node load the map.
    sourcemap,
    absWorkingDir: ROOT,
    logLevel: 'error',
    metafile: true,
  });
  const byModule = new Map<string, number>();
  for (const output of Object.values(out.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = moduleOf(path.resolve(ROOT, input));
      byModule.set(key, (byModule.get(key) ?? 0) + bytesInOutput);
    }
  }
  const topPackages = [...byModule.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 8)
    .map(([module, bytes]) => ({ module, bytes }));
  return { bytes: statSync(outfile).size, topPackages };
}

function entryFor(fn: FunctionName, variant: VariantId): string {
  if (variant === 'c') return path.join(ROOT, 'functions', fn, 'handler.ts');
  return path.join(WORK, 'src', `${fn}-${variant}.${variant === 'a' ? 'cjs' : 'mjs'}`);
}

/** Async spawn: the parent's event loop must stay free to serve the loopback AWS stub. */
async function exec(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const [status] = (await once(proc, 'close')) as [number | null];
  return { status, stdout, stderr };
}

async function runOnce(
  runner: string,
  file: string,
  fn: FunctionName,
  env: NodeJS.ProcessEnv,
): Promise<Sample> {
  const start = process.hrtime.bigint();
  const child = await exec([runner, file, fn], env);
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const line = child.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('@@COLDSTART@@'));
  if (child.status !== 0 || line === undefined) {
    throw new Error(`runner failed for ${file} (exit ${child.status}): ${child.stderr}`);
  }
  const parsed = JSON.parse(line.slice('@@COLDSTART@@'.length)) as Omit<Sample, 'wallMs'>;
  return { ...parsed, wallMs };
}

/** Groups a bundled source path by npm package (or our own top-level folder). */
function moduleOf(source: string): string {
  const normalized = source.replaceAll('\\', '/');
  const at = normalized.lastIndexOf('node_modules/');
  if (at >= 0) {
    const parts = normalized.slice(at + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? normalized);
  }
  const rel = path.relative(
    ROOT,
    path.resolve(path.dirname(normalized), path.basename(normalized)),
  );
  const clean = rel.replace(/^(\.\.\/)+/, '');
  return clean.startsWith('shared/') || clean.startsWith('functions/')
    ? `(ours) ${clean.split('/').slice(0, 2).join('/')}`
    : clean;
}

interface CpuProfileNode {
  id: number;
  callFrame: { url: string; lineNumber: number; columnNumber: number; functionName: string };
}

/** One `node --cpu-prof` of (c) credentials, require only: self time by original package. */
async function profileRun(
  runner: string,
  fn: FunctionName,
  env: NodeJS.ProcessEnv,
  mode: 'init-only' | 'first-answer',
): Promise<ProfilePart> {
  const dir = path.join(WORK, `prof-${mode}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = path.join(WORK, 'dist', `${fn}-c.map.cjs`);
  const child = await exec(
    ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir, runner, file, fn, mode],
    env,
  );
  if (child.status !== 0) throw new Error(`profiling failed: ${child.stderr}`);
  const profFile = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (profFile === undefined) throw new Error('no .cpuprofile written');
  const profile = JSON.parse(readFileSync(path.join(dir, profFile), 'utf8')) as {
    nodes: CpuProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
  const bundleUrl = pathToFileURL(file).href;
  const byNode = new Map<number, CpuProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; attribute the next delta to it (V8's convention).
    const us = profile.timeDeltas[i + 1] ?? 0;
    const node = byNode.get(id);
    if (node === undefined) return;
    const { url, lineNumber, columnNumber, functionName } = node.callFrame;
    let key: string;
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') {
      return;
    }
    if (url === bundleUrl || url === file) {
      const entry = map.findEntry(lineNumber, columnNumber) as { originalSource?: string };
      key = entry.originalSource
        ? moduleOf(entry.originalSource)
        : `(esbuild runtime) ${functionName || 'top level'}`;
    } else if (url === '') {
      key = functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
    } else if (url.startsWith('node:')) {
      // wrapSafe is the CJS loader compiling the bundle's source: the cost of its size.
      key = `(node) ${functionName || url}`;
    } else {
      key = path.basename(url);
    }
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
    totalUs += us;
  });
  const ranked = [...selfUs.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([module, us]) => ({
      module,
      selfMs: round(us / 1000, 2),
      share: round(us / totalUs, 3),
    }));
  return {
    sampledMs: round(totalUs / 1000, 2),
    topSelfTime: ranked.slice(0, 5),
    topModules: ranked.filter((m) => !m.module.startsWith('(')).slice(0, 5),
  };
}

const SHORT_LABEL: Record<VariantId, string> = { a: 'hello', b: 'hello + same libs', c: 'ours' };

const kb = (bytes: number): string =>
  bytes < 1000 ? `${bytes} B` : `${(bytes / 1000).toFixed(0)} KB`;

export function svgChart(result: ColdStartResult): string {
  const width = 860;
  const rowH = 26;
  const left = 250;
  const right = 190;
  const top = 56;
  const groupGap = 22;
  const rows = result.functions.flatMap((f) => f.variants.map((v) => ({ fn: f.function, v })));
  const maxMs = Math.max(...rows.map((r) => r.v.firstAnswerMs.median));
  const scale = (width - left - right) / (maxMs * 1.05);
  const height = top + rows.length * rowH + (result.functions.length - 1) * groupGap + 48;
  const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    '<title>TVM cold start: process start to module evaluated to first answer, per bundle</title>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">Cold start: process start → module evaluated → first answer (median of ${RUNS} fresh processes)</text>`,
    `<text x="12" y="40" fill="#555">${esc(`${result.machine.node}, ${result.machine.cpuModel}; label: first answer · bundle as deployed (unminified)`)}</text>`,
  ];
  let y = top;
  result.functions.forEach((f, fi) => {
    if (fi > 0) y += groupGap;
    for (const v of f.variants) {
      const boot = v.nodeBootMs.median;
      const evaluated = v.moduleEvaluatedMs.median;
      const answered = v.firstAnswerMs.median;
      const x0 = left;
      const wBoot = boot * scale;
      const wReq = Math.max(0, evaluated - boot) * scale;
      const wInv = Math.max(0, answered - evaluated) * scale;
      parts.push(
        `<text x="12" y="${y + 16}">${esc(`${f.function} (${v.variant}) ${SHORT_LABEL[v.variant]}`)}</text>`,
        `<rect x="${x0}" y="${y + 4}" width="${wBoot.toFixed(1)}" height="${rowH - 8}" fill="#c7c7c7"/>`,
        `<rect x="${(x0 + wBoot).toFixed(1)}" y="${y + 4}" width="${wReq.toFixed(1)}" height="${rowH - 8}" fill="#4e79a7"/>`,
        `<rect x="${(x0 + wBoot + wReq).toFixed(1)}" y="${y + 4}" width="${wInv.toFixed(1)}" height="${rowH - 8}" fill="#f28e2b"/>`,
        `<text x="${(x0 + wBoot + wReq + wInv + 6).toFixed(1)}" y="${y + 16}">${answered.toFixed(1)} ms · ${kb(v.bundleBytes)} (${kb(v.unminifiedBytes)})</text>`,
      );
      y += rowH;
    }
  });
  y += 18;
  const legend: [string, string][] = [
    ['#c7c7c7', 'Node boot'],
    ['#4e79a7', 'require(bundle)'],
    ['#f28e2b', 'first invocation'],
  ];
  legend.forEach(([color, text], i) => {
    const x = left + i * 150;
    parts.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${color}"/>`,
      `<text x="${x + 18}" y="${y + 10}">${text}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * What each bundle setting costs, on the same (c) code: unminified with full source maps (the
 * settings before minify), minified with full maps, as deployed, and as deployed with the maps
 * not enabled. Runs interleaved like the main table.
 */
async function settingsAb(
  runner: string,
  deployed: DeployedBuild,
  env: NodeJS.ProcessEnv,
  runs: number,
): Promise<SettingsResult> {
  const variants: SettingsVariant[] = [
    {
      label: 'unminified, source maps with sources',
      minify: false,
      keepNames: false,
      sourcesContent: true,
      sourceMapsEnabled: true,
    },
    {
      label: 'minified + keepNames, source maps with sources',
      minify: true,
      keepNames: true,
      sourcesContent: true,
      sourceMapsEnabled: true,
    },
    {
      label: 'minified + keepNames, source maps without sources',
      minify: true,
      keepNames: true,
      sourcesContent: false,
      sourceMapsEnabled: true,
    },
    {
      label: 'minified + keepNames, source maps not enabled',
      minify: true,
      keepNames: true,
      sourcesContent: false,
      sourceMapsEnabled: false,
    },
  ];
  const fns: FunctionName[] = ['credentials', 'saml'];
  const withoutMaps: NodeJS.ProcessEnv = { ...env };
  delete withoutMaps.NODE_OPTIONS;
  const built = new Map<string, { file: string; bytes: number; mapBytes: number }>();
  for (const fn of fns) {
    for (const [i, v] of variants.entries()) {
      const file = path.join(WORK, 'dist', `${fn}-settings-${i}.cjs`);
      const settings = { ...deployed, keepNames: v.keepNames, sourcesContent: v.sourcesContent };
      const { bytes } = await bundle(entryFor(fn, 'c'), file, settings, v.minify, true);
      built.set(`${fn}-${i}`, { file, bytes, mapBytes: statSync(`${file}.map`).size });
    }
  }
  const samples = new Map<string, Sample[]>([...built.keys()].map((k) => [k, []]));
  for (let round = 0; round < WARMUP_RUNS + runs; round += 1) {
    for (const fn of fns) {
      for (const [i, v] of variants.entries()) {
        const key = `${fn}-${i}`;
        const sample = await runOnce(
          runner,
          built.get(key)?.file ?? '',
          fn,
          v.sourceMapsEnabled ? env : withoutMaps,
        );
        if (round >= WARMUP_RUNS) samples.get(key)?.push(sample);
      }
    }
  }
  return {
    note: `the (c) bundle of each function built ${variants.length} ways, one setting changed at a time, ${runs} fresh processes each after ${WARMUP_RUNS} warm-up runs, interleaved; source maps linked as serverless-esbuild writes them`,
    functions: fns.map((fn) => ({
      function: fn,
      variants: variants.map((v, i) => {
        const s = samples.get(`${fn}-${i}`) ?? [];
        const b = built.get(`${fn}-${i}`);
        return {
          ...v,
          bundleBytes: b?.bytes ?? 0,
          sourceMapBytes: b?.mapBytes ?? 0,
          moduleEvaluatedMs: dist(s.map((x) => x.evaluatedMs)),
          firstAnswerMs: dist(s.map((x) => x.answeredMs)),
        };
      }),
    })),
  };
}

export async function runColdStart(
  options: { runs?: number; profile?: boolean; settings?: boolean } = {},
): Promise<ColdStartResult> {
  const runs = options.runs ?? RUNS;
  const machine = machineInfo();
  if (!process.version.startsWith('v24.')) {
    console.warn(`warning: expected Node 24 (the Lambda runtime), running ${process.version}`);
  }
  console.log(`cold start: ${process.execPath} ${process.version}, ${machine.cpuModel}`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(path.join(WORK, 'src'), { recursive: true });
  mkdirSync(path.join(WORK, 'dist'), { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const runner = path.join(WORK, 'runner.cjs');
  writeFileSync(runner, RUNNER);
  const deployed = deployedBuild();

  const bundles = new Map<
    string,
    {
      file: string;
      bytes: number;
      mapBytes: number;
      unminBytes: number;
      minBytes: number;
      minTop: { module: string; bytes: number }[];
    }
  >();
  for (const fn of FUNCTIONS) {
    writeFileSync(entryFor(fn, 'a'), HELLO);
    writeFileSync(entryFor(fn, 'b'), BASELINE[fn].source);
    for (const v of VARIANTS) {
      const file = path.join(WORK, 'dist', `${fn}-${v}.cjs`);
      const { bytes } = await bundle(
        entryFor(fn, v),
        file,
        deployed,
        deployed.minify,
        deployed.sourcemap,
      );
      const other = (minify: boolean) =>
        bundle(
          entryFor(fn, v),
          path.join(WORK, 'dist', `${fn}-${v}.${minify ? 'min' : 'full'}.cjs`),
          deployed,
          minify,
          false,
        );
      const minBuild = await other(true);
      const unminBuild = await other(false);
      const mapBytes = deployed.sourcemap ? statSync(`${file}.map`).size : 0;
      bundles.set(`${fn}-${v}`, {
        file,
        bytes,
        mapBytes,
        unminBytes: unminBuild.bytes,
        minBytes: minBuild.bytes,
        minTop: minBuild.topPackages,
      });
      console.log(
        `  built ${fn} (${v}): ${bytes} B + map ${mapBytes} B; minified ${minBuild.bytes} B, unminified ${unminBuild.bytes} B`,
      );
    }
  }

  // Loopback AWS stub: every SDK request (here: the 401's audit PutItem) gets `200 {}` at once.
  const awsCalls = new Map<string, number>();
  let currentKey = '';
  const stub = createServer((req, res) => {
    const target = `${req.headers['x-amz-target'] ?? `${req.method} ${req.url}`}`;
    const key = `${currentKey} ${target}`;
    awsCalls.set(key, (awsCalls.get(key) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': 'cold-start-bench',
      });
      res.end('{}');
    });
  });
  const closedPort = process.env.COLD_START_ENDPOINT === 'closed';
  let endpoint = 'http://127.0.0.1:9';
  if (!closedPort) {
    stub.listen(0, '127.0.0.1');
    await once(stub, 'listening');
    endpoint = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  }
  const env = childEnv(endpoint, deployed.nodeOptions);
  const samples = new Map<string, Sample[]>();
  for (const fn of FUNCTIONS) {
    for (const v of VARIANTS) samples.set(`${fn}-${v}`, []);
  }
  // Warm-up (page cache, first exec), then interleaved a, b, c, a, b, c, ... per function.
  for (let i = 0; i < WARMUP_RUNS; i += 1) {
    for (const fn of FUNCTIONS) {
      for (const v of VARIANTS) {
        await runOnce(runner, bundles.get(`${fn}-${v}`)?.file ?? '', fn, env);
      }
    }
  }
  for (let i = 0; i < runs; i += 1) {
    for (const fn of FUNCTIONS) {
      for (const v of VARIANTS) {
        const key = `${fn}-${v}`;
        currentKey = key;
        samples.get(key)?.push(await runOnce(runner, bundles.get(key)?.file ?? '', fn, env));
        currentKey = '';
      }
    }
  }

  const functions: FunctionResult[] = FUNCTIONS.map((fn) => {
    const variants = VARIANTS.map((v): VariantResult => {
      const s = samples.get(`${fn}-${v}`) ?? [];
      const b = bundles.get(`${fn}-${v}`);
      return {
        variant: v,
        label: VARIANT_LABEL[v],
        entry: path.relative(ROOT, entryFor(fn, v)),
        bundleBytes: b?.bytes ?? 0,
        sourceMapBytes: b?.mapBytes ?? 0,
        unminifiedBytes: b?.unminBytes ?? 0,
        minifiedBytes: b?.minBytes ?? 0,
        minifiedTopPackages: b?.minTop ?? [],
        runs: s.length,
        statusCodes: [...new Set(s.map((x) => x.status))],
        awsRequests: Object.fromEntries(
          [...awsCalls.entries()]
            .filter(([k]) => k.startsWith(`${fn}-${v} `))
            .map(([k, n]) => [k.slice(`${fn}-${v} `.length), n]),
        ),
        nodeBootMs: dist(s.map((x) => x.runnerStartMs)),
        moduleEvaluatedMs: dist(s.map((x) => x.evaluatedMs)),
        requireMs: dist(s.map((x) => x.evaluatedMs - x.runnerStartMs)),
        firstAnswerMs: dist(s.map((x) => x.answeredMs)),
        firstInvocationMs: dist(s.map((x) => x.answeredMs - x.evaluatedMs)),
        processWallMs: dist(s.map((x) => x.wallMs)),
      };
    });
    const [, b, c] = variants as [VariantResult, VariantResult, VariantResult];
    const evalOver = round(c.moduleEvaluatedMs.median - b.moduleEvaluatedMs.median, 2);
    const answerOver = round(c.firstAnswerMs.median - b.firstAnswerMs.median, 2);
    return {
      function: fn,
      baseline: BASELINE[fn].description,
      variants,
      targets: {
        minifiedBytesMax: MAX_MINIFIED_BYTES,
        minifiedBytes: c.minifiedBytes,
        minifiedMet: c.minifiedBytes <= MAX_MINIFIED_BYTES,
        initOverBaselineMaxMs: MAX_INIT_OVER_BASELINE_MS,
        moduleEvaluatedOverBaselineMs: evalOver,
        firstAnswerOverBaselineMs: answerOver,
        initMet: answerOver <= MAX_INIT_OVER_BASELINE_MS,
      },
    };
  });

  const result: ColdStartResult = {
    benchmark: 'cold-start',
    machine,
    method: {
      build: `esbuild JS API with serverless-esbuild settings read from serverless.yml custom.esbuild: bundle, platform ${deployed.platform}, target ${deployed.target}, format ${deployed.format}, minify ${deployed.minify}, keepNames ${deployed.keepNames}, sourcemap ${deployed.sourcemap} (linked), sourcesContent ${deployed.sourcesContent}; every run with NODE_OPTIONS=${JSON.stringify(deployed.nodeOptions)} from provider.environment, as deployed; minified and unminified sizes from separate builds without source maps`,
      runs: `${runs} fresh processes per bundle after ${WARMUP_RUNS} warm-up runs each, interleaved a,b,c per round; ${process.execPath}`,
      clock:
        'all times are ms from the process start (performance.timeOrigin); runner deltas by process.hrtime.bigint()',
      event:
        'API Gateway HTTP API v2 GET /v1/<function> event; credentials gets no Authorization header, so it answers 401 before any JWKS fetch, config read or STS call; saml answers its 404 page (no such SAML route) before any config read: the first answers exclude those round trips',
      awsEndpoint: closedPort
        ? 'AWS_ENDPOINT_URL=http://127.0.0.1:9 (closed): the 401 audit PutItem fails with ECONNREFUSED and its SDK retries are inside the first answer'
        : 'AWS_ENDPOINT_URL = a loopback stub in the benchmark process answering 200 {} at once: the 401 path writes one audit record (DynamoDB PutItem), so the first answer includes the SDK first-request setup and one loopback round trip (see awsRequests)',
      targets: `(c) minified bundle ≤ ${MAX_MINIFIED_BYTES} bytes; (c) median process start → first answer ≤ (b) + ${MAX_INIT_OVER_BASELINE_MS} ms`,
    },
    functions,
  };

  if (options.settings ?? true) result.settings = await settingsAb(runner, deployed, env, runs);

  if (options.profile ?? true) {
    try {
      await bundle(
        entryFor('credentials', 'c'),
        path.join(WORK, 'dist', 'credentials-c.map.cjs'),
        deployed,
        deployed.minify,
        true,
      );
      result.initProfile = {
        function: 'credentials',
        variant: 'c',
        note: 'one node --cpu-prof --cpu-prof-interval 100 run each, on a sourcemapped (c) bundle; self time grouped by the npm package (or our folder) the source map points to; (node) frames are Node internals (wrapSafe = compiling the bundle source), (esbuild runtime) the bundle glue; (garbage collector) is a V8 pseudo-frame; absolute ms are inflated by the profiler',
        init: await profileRun(runner, 'credentials', env, 'init-only'),
        initAndFirstAnswer: await profileRun(runner, 'credentials', env, 'first-answer'),
      };
    } catch (error) {
      console.warn(`profile skipped: ${(error as Error).message}`);
    }
  }

  if (!closedPort) stub.close();
  writeFileSync(path.join(RESULTS, 'cold-start.json'), `${toJson(result)}\n`);
  writeFileSync(path.join(RESULTS, 'cold-start.svg'), svgChart(result));
  return result;
}

function printTable(result: ColdStartResult): void {
  const rows = result.functions.flatMap((f) =>
    f.variants.map((v) => ({
      function: f.function,
      variant: `(${v.variant}) ${v.label}`,
      bytes: v.bundleBytes,
      'map bytes': v.sourceMapBytes,
      'unmin bytes': v.unminifiedBytes,
      'eval med': v.moduleEvaluatedMs.median,
      'eval p90': v.moduleEvaluatedMs.p90,
      'answer med': v.firstAnswerMs.median,
      'answer p90': v.firstAnswerMs.p90,
      status: v.statusCodes.join(','),
    })),
  );
  console.table(rows);
  for (const f of result.functions) {
    const t = f.targets;
    console.log(
      `${f.function}: (c) − (b) = ${t.moduleEvaluatedOverBaselineMs} ms to module evaluated, ${t.firstAnswerOverBaselineMs} ms to first answer (target ≤ ${t.initOverBaselineMaxMs}: ${t.initMet ? 'met' : 'NOT met'}); minified ${t.minifiedBytes} B (target ≤ ${t.minifiedBytesMax}: ${t.minifiedMet ? 'met' : 'NOT met'})`,
    );
  }
  for (const f of result.settings?.functions ?? []) {
    for (const v of f.variants) {
      console.log(
        `settings, ${f.function}: ${v.label}: ${v.bundleBytes} B + map ${v.sourceMapBytes} B, evaluated ${v.moduleEvaluatedMs.median} ms, first answer ${v.firstAnswerMs.median} ms`,
      );
    }
  }
  if (result.initProfile) {
    const parts = [
      ['require only', result.initProfile.init],
      ['require + first answer', result.initProfile.initAndFirstAnswer],
    ] as const;
    for (const [name, part] of parts) {
      console.log(
        `cpu profile, credentials (c), ${name}: ${part.sampledMs} ms sampled; top self time`,
      );
      for (const m of [...part.topSelfTime, ...part.topModules]) {
        console.log(`  ${m.module}: ${m.selfMs} ms (${(m.share * 100).toFixed(1)} %)`);
      }
    }
  }
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  const result = await runColdStart();
  printTable(result);
  console.log(`wrote ${path.relative(ROOT, RESULTS)}/cold-start.json and cold-start.svg`);
}
