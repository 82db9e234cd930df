import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { CachedConfigStore, configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ConfigConflictError, ConfigInvalidError, ValidationError } from '#shared/errors.ts';
import { sampleConfig } from '../support/config-fixtures.ts';
import { freshTable } from '../support/local-table.ts';

function valid(raw: unknown): TvmConfig {
  const result = validateConfig(raw, { stage: 'local' });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

describe('config-store (DynamoDB adapter against moto)', () => {
  let table: Awaited<ReturnType<typeof freshTable>>;
  let store: DynamoConfigStore;

  beforeEach(async () => {
    table = await freshTable();
    store = new DynamoConfigStore(table.documentClient, table.tableName);
  });

  it('applies a first generation and loads it back exactly', async () => {
    // Prepare
    const config = valid(sampleConfig(3));

    // Act
    const result = await store.apply(config, { appliedBy: 'alice' });
    const current = await store.current();

    // Assess
    expect(result.status).toBe('applied');
    expect(current?.generation).toBe(1);
    expect(current?.config).toEqual(config);
    expect(current?.hash).toBe(configHash(config));
    expect(current?.createdBy).toBe('alice');
    expect(await store.history()).toMatchObject([
      { revision: 1, action: 'apply', generation: 1, fromGeneration: null, by: 'alice' },
    ]);
  });

  it('keeps the file order of providers and mappings, while the sort key orders by priority', async () => {
    const config = valid({
      ...sampleConfig(0),
      mappings: sampleConfig(3).mappings.map((m, i) => ({ ...m, priority: [5, 500, 50][i] })),
    });
    await store.apply(config, { appliedBy: 'alice' });
    expect((await store.current())?.config.mappings.map((m) => m.id)).toEqual(['m0', 'm1', 'm2']);
  });

  it('does not write a new generation when the config is unchanged', async () => {
    const config = valid(sampleConfig(2));
    await store.apply(config, { appliedBy: 'alice' });

    const again = await store.apply(valid(sampleConfig(2)), { appliedBy: 'bob' });

    expect(again.status).toBe('unchanged');
    expect((await store.pointer())?.revision).toBe(1);
    expect(await store.history()).toHaveLength(1);
  });

  it('rollback restores the previous generation exactly, and a second rollback undoes it', async () => {
    // Prepare
    const first = valid(sampleConfig(2, 'v1'));
    const second = valid(sampleConfig(4, 'v2'));
    await store.apply(first, { appliedBy: 'alice' });
    await store.apply(second, { appliedBy: 'alice' });

    // Act
    const back = await store.rollback({ appliedBy: 'bob' });
    const restored = await store.current();

    // Assess
    expect(back).toMatchObject({
      generation: 1,
      previousGeneration: 2,
      action: 'rollback',
      revision: 3,
    });
    expect(restored?.config).toEqual(first);
    expect(restored?.hash).toBe(configHash(first));
    const forward = await store.rollback({ appliedBy: 'bob' });
    expect(forward.generation).toBe(2);
    expect((await store.current())?.config).toEqual(second);
    expect((await store.history()).map((entry) => [entry.action, entry.generation])).toEqual([
      ['rollback', 2],
      ['rollback', 1],
      ['apply', 2],
      ['apply', 1],
    ]);
  });

  it('rollback with nothing to roll back to is a clear error and changes nothing', async () => {
    await expect(store.rollback({ appliedBy: 'bob' })).rejects.toBeInstanceOf(ValidationError);
    await store.apply(valid(sampleConfig(1)), { appliedBy: 'alice' });
    await expect(store.rollback({ appliedBy: 'bob' })).rejects.toMatchObject({
      detail: expect.stringMatching(/first one applied/),
    });
    await expect(store.rollback({ appliedBy: 'bob', toGeneration: 7 })).rejects.toBeInstanceOf(
      ConfigInvalidError,
    );
    expect((await store.pointer())?.revision).toBe(1);
  });

  it('lets exactly one of two concurrent applies win; the other fails with a conflict and changes nothing', async () => {
    // Prepare: both applies read the same pointer and write their generations before either flips.
    await store.apply(valid(sampleConfig(1, 'base')), { appliedBy: 'setup' });
    let arrived = 0;
    let release: () => void = () => {};
    const bothWritten = new Promise<void>((resolve) => {
      release = resolve;
    });
    const barrier = async () => {
      arrived += 1;
      const second = arrived === 2;
      if (second) release();
      await bothWritten;
      // Both read the pointer and wrote their generations before either flips. The second flip
      // then starts a moment later: moto does not isolate two TransactWriteItems that arrive at
      // the same instant (the cancelled one's rollback can undo the winner's writes to the same
      // keys), which DynamoDB itself serializes.
      if (second) await new Promise((resolve) => setTimeout(resolve, 250));
    };
    const a = valid(sampleConfig(2, 'a'));
    const b = valid(sampleConfig(3, 'b'));

    // Act
    const results = await Promise.allSettled([
      store.apply(a, { appliedBy: 'alice', beforeFlip: barrier }),
      store.apply(b, { appliedBy: 'bob', beforeFlip: barrier }),
    ]);

    // Assess
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(ConfigConflictError);
    expect(String(lost[0]?.reason.message)).toMatch(
      /changed while this apply was running.*changed nothing/,
    );
    const current = await store.current();
    const winner = results[0]?.status === 'fulfilled' ? a : b;
    expect(current?.config).toEqual(winner);
    expect((await store.pointer())?.revision).toBe(2);
    expect(await store.history()).toHaveLength(2);
  });

  it('refuses to load a generation whose items were tampered with (fail closed)', async () => {
    await store.apply(valid(sampleConfig(2)), { appliedBy: 'alice' });
    const { Items = [] } = await table.documentClient.send(
      new ScanCommand({ TableName: table.tableName }),
    );
    const mappingItem = Items.find((item) => String(item.sk).startsWith('MAPPING#'));
    await table.documentClient.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...mappingItem,
          data: { ...mappingItem?.data, roleArn: 'arn:aws:iam::999999999999:role/tvm/evil' },
        },
      }),
    );

    await expect(store.current()).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      problems: [
        { path: 'generation 1', message: expect.stringMatching(/hash .* does not match META/) },
      ],
    });
  });

  it('the Lambda-side cache reads only the pointer within its TTL and reloads when it moves', async () => {
    // Prepare
    let now = 0;
    const cached = new CachedConfigStore(store, { ttlMs: 10_000, now: () => now });
    await store.apply(valid(sampleConfig(1, 'v1')), { appliedBy: 'alice' });
    const first = await cached.current();

    // Act: a new apply is not seen within the TTL, and is seen after it.
    await store.apply(valid(sampleConfig(2, 'v2')), { appliedBy: 'alice' });
    const withinTtl = await cached.current();
    now = 10_001;
    const afterTtl = await cached.current();

    // Assess
    expect(first?.generation).toBe(1);
    expect(withinTtl?.generation).toBe(1);
    expect(afterTtl?.generation).toBe(2);
  });
});
