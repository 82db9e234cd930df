/**
 * `npm run bench`: the JWT-path, warm-vend-handler, cold-start, credential-reuse, loopback,
 * memory, SAML ACS and Cognito-compatible route benchmarks. Writes bench/results/{jwt,handler,
 * cold-start,reuse,loopback,memory,saml-acs,cognito}.json, summary.svg, cold-start.svg,
 * loopback.svg and saml-acs.svg.
 * `npm run bench -- <name>` (`npx tsx scripts/bench/run.ts <name>`) runs one alone, e.g.
 * `npm run bench -- loopback --stub-delay-ms 20`; most also run as `npx tsx scripts/bench/<name>.ts`.
 * Numbers are reported, never asserted; only accept/reject decisions are asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSummarySvg } from './chart.ts';
import { runCognitoBench } from './cognito.ts';
import { runColdStart } from './cold-start.ts';
import { runHandlerBench } from './handler.ts';
import { runJwtBench } from './jwt.ts';
import { loopbackOptions, runLoopbackBench } from './loopback.ts';
import { runMemoryBench } from './memory.ts';
import { runReuseBenchmark } from './reuse.ts';
import { renderSamlAcsSvg, runSamlAcsBench } from './saml-acs.ts';
import { type MachineInfo, machineInfo, toJson } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'bench/results');

const log = (line: string) => process.stderr.write(`${line}\n`);

const only = process.argv[2];

const started = Date.now();
const machine = machineInfo();
log(`bench: Node ${machine.node} on ${machine.cpus} × ${machine.cpuModel}`);

/** Writes bench/results/<name> with the machine as it was at `start`, and the load now. */
async function write(name: string, data: unknown, start: MachineInfo = machine): Promise<void> {
  await mkdir(outDir, { recursive: true });
  // Other work on the machine skews timings: the load at the end is recorded beside the start.
  const loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  await writeFile(
    path.join(outDir, name),
    `${toJson({ machine: { ...start, loadAverageAtEnd }, ...(data as object) })}\n`,
  );
}

async function samlAcs(): Promise<void> {
  const start = machineInfo();
  const results = await runSamlAcsBench(log);
  await write('saml-acs.json', results, start);
  await writeFile(path.join(outDir, 'saml-acs.svg'), renderSamlAcsSvg(results));
  log(`bench: wrote ${path.relative(root, outDir)}/{saml-acs.json,saml-acs.svg}`);
}

async function jwtAndHandler(): Promise<void> {
  const jwt = await runJwtBench(log);
  const handler = await runHandlerBench(log);
  await write('jwt.json', jwt);
  await write('handler.json', handler);
  await writeFile(path.join(outDir, 'summary.svg'), renderSummarySvg(jwt, handler));
  log(
    `bench: wrote ${path.relative(root, outDir)}/{jwt.json,handler.json,summary.svg} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
}

/** Every benchmark, in the order `npm run bench` runs them; `npm run bench -- <name>` runs one. */
const BENCHMARKS: Record<string, () => Promise<unknown>> = {
  'jwt-handler': jwtAndHandler,
  'cold-start': () => runColdStart(),
  reuse: async () => runReuseBenchmark(),
  loopback: () => runLoopbackBench(log, loopbackOptions(process.argv.slice(3))),
  memory: () => runMemoryBench(log),
  'saml-acs': samlAcs,
  cognito: () => runCognitoBench(log, loopbackOptions(process.argv.slice(3))),
};

if (only !== undefined && !Object.hasOwn(BENCHMARKS, only)) {
  throw new Error(`bench: no benchmark "${only}" (one of: ${Object.keys(BENCHMARKS).join(', ')})`);
}
for (const [name, run] of Object.entries(BENCHMARKS)) {
  if (only === undefined || only === name) await run();
}
log(`bench: all done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
