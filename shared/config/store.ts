import { createHash } from 'node:crypto';
import { ConfigMissingError } from '#shared/errors.ts';
import type { Metrics } from '#shared/metrics.ts';
import type { TvmConfig } from './schema.ts';

/** One applied, immutable generation of the config. */
export interface ConfigGeneration {
  generation: number;
  /** SHA-256 of the canonical JSON of `config`: identical files give identical hashes. */
  hash: string;
  createdAt: string;
  createdBy: string;
  config: TvmConfig;
}

/** The CURRENT pointer: which generation the TVM serves, and how it got there. */
export interface ConfigPointer {
  generation: number;
  hash: string;
  /** Bumped by every apply and rollback; flips are conditional on it, so they cannot interleave. */
  revision: number;
  previousGeneration: number | null;
  updatedAt: string;
  updatedBy: string;
  action: 'apply' | 'rollback';
}

export interface HistoryEntry {
  revision: number;
  action: 'apply' | 'rollback';
  generation: number;
  fromGeneration: number | null;
  hash: string;
  at: string;
  by: string;
}

export type ApplyResult =
  | { status: 'unchanged'; pointer: ConfigPointer }
  | { status: 'applied'; pointer: ConfigPointer; previous: ConfigPointer | null };

export interface ApplyOptions {
  appliedBy: string;
  /** Test seam: runs after the generation is written and before the pointer flips. */
  beforeFlip?: () => Promise<void>;
}

/** What the Lambda side needs: the config it must serve right now. */
export interface ConfigStore {
  /** The current generation, or undefined when no config was ever applied. */
  current(): Promise<ConfigGeneration | undefined>;
}

/** What the admin CLI needs on top. */
export interface ConfigAdmin extends ConfigStore {
  pointer(): Promise<ConfigPointer | undefined>;
  load(generation: number): Promise<ConfigGeneration>;
  apply(config: TvmConfig, options: ApplyOptions): Promise<ApplyResult>;
  rollback(options: { appliedBy: string; toGeneration?: number }): Promise<ConfigPointer>;
  history(limit?: number): Promise<HistoryEntry[]>;
}

/** JSON with object keys sorted, so that the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(
        Object.entries(inner as Record<string, unknown>).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0,
        ),
      );
    }
    return inner;
  });
}

/**
 * An empty `identityPools` (or `accounts`) is left out of the hash: generations applied before they existed
 * keep their hash, and re-applying such a file reports "unchanged".
 */
export function configHash(config: TvmConfig): string {
  const { identityPools, accounts, ...rest } = config;
  const hashed = {
    ...rest,
    ...(identityPools === undefined || identityPools.length === 0 ? {} : { identityPools }),
    ...(accounts === undefined || Object.keys(accounts).length === 0 ? {} : { accounts }),
  };
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex');
}

/**
 * The Lambda-side cache. Within `ttlMs` it answers from memory. After that it re-reads only the
 * CURRENT pointer and reloads the generation when the pointer moved, so a warm Lambda picks up
 * an apply or rollback within one TTL at the cost of one GetItem. Concurrent callers share one
 * load. Errors are not cached: the next call tries again.
 */
export class CachedConfigStore implements ConfigStore {
  readonly #pointer: () => Promise<{ generation: number } | undefined>;
  readonly #load: (generation: number) => Promise<ConfigGeneration>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #metrics: Metrics | undefined;
  #cached: ConfigGeneration | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<ConfigGeneration | undefined> | undefined;

  constructor(
    source: Pick<ConfigAdmin, 'pointer' | 'load'>,
    options: { ttlMs: number; now?: () => number; metrics?: Metrics },
  ) {
    this.#pointer = () => source.pointer();
    this.#load = (generation) => source.load(generation);
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#metrics = options.metrics;
  }

  async current(): Promise<ConfigGeneration | undefined> {
    if (this.#cached !== undefined && this.#now() - this.#checkedAt < this.#ttlMs) {
      return this.#cached;
    }
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** Like current(), but a TVM without config fails closed. */
  async require(): Promise<ConfigGeneration> {
    let generation: ConfigGeneration | undefined;
    try {
      generation = await this.current();
    } catch (error) {
      this.#metrics?.count('ConfigUnavailable', {});
      throw error;
    }
    if (generation === undefined) {
      this.#metrics?.count('ConfigUnavailable', {});
      throw new ConfigMissingError();
    }
    return generation;
  }

  async #refresh(): Promise<ConfigGeneration | undefined> {
    const pointer = await this.#pointer();
    if (pointer === undefined) {
      this.#cached = undefined;
      return undefined;
    }
    if (this.#cached?.generation !== pointer.generation) {
      this.#cached = await this.#load(pointer.generation);
    }
    this.#checkedAt = this.#now();
    return this.#cached;
  }
}
