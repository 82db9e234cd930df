import { describe, expect, it } from 'vitest';
import type { TvmConfig } from '#shared/config/schema.ts';
import { CachedConfigStore, type ConfigGeneration, canonicalJson } from '#shared/config/store.ts';
import { ConfigMissingError } from '#shared/errors.ts';

function fakeSource(generation: { value: number | undefined }) {
  const calls = { pointer: 0, load: 0 };
  return {
    calls,
    source: {
      pointer: async () => {
        calls.pointer += 1;
        return generation.value === undefined
          ? undefined
          : ({ generation: generation.value } as never);
      },
      load: async (n: number): Promise<ConfigGeneration> => {
        calls.load += 1;
        await new Promise((r) => setTimeout(r, 5));
        return {
          generation: n,
          hash: `h${n}`,
          createdAt: '',
          createdBy: '',
          config: {} as TvmConfig,
        };
      },
    },
  };
}

describe('CachedConfigStore', () => {
  it('serves from memory within the TTL, re-reads only the pointer after it, and reloads when it moved', async () => {
    const generation = { value: 1 as number | undefined };
    const { source, calls } = fakeSource(generation);
    let now = 0;
    const cache = new CachedConfigStore(source, { ttlMs: 1_000, now: () => now });

    await cache.current();
    await cache.current();
    expect(calls).toEqual({ pointer: 1, load: 1 });

    now = 1_500;
    await cache.current();
    expect(calls).toEqual({ pointer: 2, load: 1 });

    generation.value = 2;
    now = 3_000;
    expect((await cache.current())?.generation).toBe(2);
    expect(calls).toEqual({ pointer: 3, load: 2 });
  });

  it('shares one load between concurrent callers (one cold start, one Query)', async () => {
    const { source, calls } = fakeSource({ value: 4 });
    const cache = new CachedConfigStore(source, { ttlMs: 1_000 });
    const results = await Promise.all([cache.current(), cache.current(), cache.current()]);
    expect(results.map((r) => r?.generation)).toEqual([4, 4, 4]);
    expect(calls).toEqual({ pointer: 1, load: 1 });
  });

  it('fails closed when no config was ever applied', async () => {
    const { source } = fakeSource({ value: undefined });
    const cache = new CachedConfigStore(source, { ttlMs: 1_000 });
    await expect(cache.require()).rejects.toBeInstanceOf(ConfigMissingError);
  });

  it('does not cache errors', async () => {
    const { source, calls } = fakeSource({ value: 1 });
    let failing = true;
    const flaky = {
      ...source,
      pointer: async () => {
        if (failing) throw new Error('DynamoDB down');
        return source.pointer();
      },
    };
    const cache = new CachedConfigStore(flaky, { ttlMs: 1_000 });
    await expect(cache.current()).rejects.toThrow('DynamoDB down');
    failing = false;
    expect((await cache.current())?.generation).toBe(1);
    expect(calls.load).toBe(1);
  });
});

describe('canonicalJson', () => {
  it('does not depend on key order, but does on array order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(
      canonicalJson({ a: { c: 3, d: 2 }, b: 1 }),
    );
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});
