/**
 * Shared helpers for the benchmarks: statistics, forced GC, machine description, A/B rounds.
 * Benchmarks report numbers; they never assert on timing.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Quantile by nearest rank on a copy (q in [0, 1]). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

let cachedGc: (() => void) | undefined;

/**
 * A forced full GC without starting node with --expose-gc: the flag is set at runtime and the
 * `gc` function is picked up from a fresh context (V8 installs it on contexts created afterwards).
 */
export function forceGc(): void {
  if (cachedGc === undefined) {
    v8.setFlagsFromString('--expose-gc');
    cachedGc = vm.runInNewContext('gc') as () => void;
  }
  cachedGc();
}

export interface MachineInfo {
  node: string;
  v8: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  totalMemoryMiB: number;
  /** 1/5/15-minute load averages when the run started: other work on the machine skews timings. */
  loadAverage: number[];
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    loadAverage: os.loadavg().map((x) => round(x, 2)),
    date: new Date().toISOString(),
  };
}

/** One variant under test: `op(i)` performs the i-th operation once. */
export interface Variant {
  name: string;
  op: (i: number) => Promise<unknown>;
  /** Runs between rounds, outside the timed window (e.g. to drop harness-only history). */
  between?: () => void;
}

export interface VariantSamples {
  /** Every operation's latency, in µs. */
  latenciesUs: number[];
  /** Per round: operations per second of wall time. */
  opsPerSec: number[];
  /** Per round: process CPU (user + system, all threads) per operation, in µs. */
  cpuUsPerOp: number[];
}

export interface RoundOptions {
  warmupOps: number;
  rounds: number;
  opsPerRound: number;
}

/**
 * A/B interleaved: a warm-up of every variant first, then `rounds` rounds in which every variant
 * runs `opsPerRound` operations back to back; the order rotates each round so that no variant
 * always runs right after the same neighbour (or always first, after the GC).
 */
export async function interleaved(
  variants: readonly Variant[],
  options: RoundOptions,
): Promise<Map<string, VariantSamples>> {
  for (const variant of variants) {
    for (let i = 0; i < options.warmupOps; i += 1) await variant.op(i);
    variant.between?.();
  }
  const samples = new Map<string, VariantSamples>(
    variants.map((v) => [v.name, { latenciesUs: [], opsPerSec: [], cpuUsPerOp: [] }]),
  );
  for (let r = 0; r < options.rounds; r += 1) {
    for (let k = 0; k < variants.length; k += 1) {
      const variant = variants[(r + k) % variants.length] as Variant;
      const out = samples.get(variant.name) as VariantSamples;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < options.opsPerRound; i += 1) {
        const start = performance.now();
        await variant.op(i);
        out.latenciesUs.push((performance.now() - start) * 1000);
      }
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      out.opsPerSec.push((options.opsPerRound / wallMs) * 1000);
      out.cpuUsPerOp.push((cpu.user + cpu.system) / options.opsPerRound);
      variant.between?.();
    }
  }
  return samples;
}

export interface Summary {
  opsPerSecMedian: number;
  latencyMedianUs: number;
  latencyP99Us: number;
  cpuUsPerOpMedian: number;
}

export function summarize(samples: VariantSamples): Summary {
  return {
    opsPerSecMedian: round(median(samples.opsPerSec), 0),
    latencyMedianUs: round(median(samples.latenciesUs)),
    latencyP99Us: round(quantile(samples.latenciesUs, 0.99)),
    cpuUsPerOpMedian: round(median(samples.cpuUsPerOp)),
  };
}

/** Rate limits that are checked on every request (so the guard's cost is measured) but never hit. */
export const UNREACHED_RATE_LIMITS = {
  perPrincipal: { limit: 1_000_000, windowSeconds: 60 },
  perSourceIp: { limit: 1_000_000, windowSeconds: 60 },
};

/** JSON as Biome formats it: two-space indent, arrays of numbers on one line. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g,
    (_match, items: string) => `[${items.split(/,\s*/).join(', ')}]`,
  );
}
