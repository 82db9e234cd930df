/**
 * `npm run bench`: the JWT-path, warm-vend-handler, cold-start and credential-reuse benchmarks.
 * Writes bench/results/{jwt,handler,cold-start,reuse}.json, summary.svg and cold-start.svg.
 * Numbers are reported, never asserted; only accept/reject decisions are asserted.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSummarySvg } from './chart.ts';
import { runColdStart } from './cold-start.ts';
import { runHandlerBench } from './handler.ts';
import { runJwtBench } from './jwt.ts';
import { runLoopbackBench } from './loopback.ts';
import { runMemoryBench } from './memory.ts';
import { runReuseBenchmark } from './reuse.ts';
import { machineInfo } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'bench/results');
/** JSON as Biome formats it: two-space indent, arrays of numbers on one line. */
function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g,
    (_match, items: string) => `[${items.split(/,\s*/).join(', ')}]`,
  );
}

const log = (line: string) => process.stderr.write(`${line}\n`);

const started = Date.now();
const machine = machineInfo();
log(`bench: Node ${machine.node} on ${machine.cpus} × ${machine.cpuModel}`);

const jwt = await runJwtBench(log);
const handler = await runHandlerBench(log);

await mkdir(outDir, { recursive: true });
// Other work on the machine skews timings: the load at the end is recorded beside the start.
const loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
const write = (name: string, data: unknown) =>
  writeFile(
    path.join(outDir, name),
    `${toJson({ machine: { ...machine, loadAverageAtEnd }, ...(data as object) })}\n`,
  );
await write('jwt.json', jwt);
await write('handler.json', handler);
await writeFile(path.join(outDir, 'summary.svg'), renderSummarySvg(jwt, handler));
log(
  `bench: wrote ${path.relative(root, outDir)}/{jwt.json,handler.json,summary.svg} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
await runColdStart();
runReuseBenchmark();
await runLoopbackBench(log);
await runMemoryBench(log);
log(`bench: all done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
