/**
 * The device flow's DynamoDB state against moto: every transition single use under a race
 * (redeem, decide, confirm token, ref), a live user code never reused, only hashes as keys.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { type DeviceGrant, DynamoDeviceStore } from '#shared/login/device-store.ts';
import { freshTable } from '../support/local-table.ts';

type Table = Awaited<ReturnType<typeof freshTable>>;

const NOW = new Date('2026-06-01T12:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);
const ALICE = {
  provider: 'corp',
  issuer: 'https://idp',
  subject: 'alice',
  claims: { sub: 'alice' },
};

function grant(overrides: Partial<DeviceGrant> = {}): DeviceGrant {
  return {
    provider: 'corp',
    status: 'pending',
    createdAt: NOW.toISOString(),
    expiresAt: nowSeconds + 600,
    interval: 5,
    requestedFrom: '192.0.2.1',
    ...overrides,
  };
}

describe('DynamoDeviceStore against moto', () => {
  let table: Table;
  let store: DynamoDeviceStore;

  beforeEach(async () => {
    table = await freshTable('tvm-device');
    store = new DynamoDeviceStore(table.documentClient, table.tableName);
  });

  it('a live user code is never given to a second device; an expired one is', async () => {
    expect(await store.createDevice('d1', 'u1', grant())).toBe(true);
    expect(await store.createDevice('d2', 'u1', grant())).toBe(false);
    const later = new Date(NOW.getTime() + 601_000);
    expect(
      await store.createDevice(
        'd3',
        'u1',
        grant({ createdAt: later.toISOString(), expiresAt: nowSeconds + 1201 }),
      ),
    ).toBe(true);
    expect((await store.findByUserCode('u1', later))?.deviceHash).toBe('d3');
  });

  it('decides once; redeems once among five racing pollers; keeps no principal after', async () => {
    await store.createDevice('d1', 'u1', grant());
    const decisions = await Promise.all([
      store.decide('d1', { status: 'approved', principal: ALICE }, NOW),
      store.decide('d1', { status: 'denied' }, NOW),
    ]);
    expect(decisions.filter(Boolean)).toHaveLength(1);
    await store.createDevice('d2', 'u2', grant());
    expect(await store.decide('d2', { status: 'approved', principal: ALICE }, NOW)).toBe(true);
    const redeemed = await Promise.all([1, 2, 3, 4, 5].map(() => store.redeem('d2')));
    expect(redeemed.filter((r) => r !== undefined)).toHaveLength(1);
    expect(redeemed.find((r) => r !== undefined)?.principal).toEqual(ALICE);
    expect(await store.getDevice('d2')).toMatchObject({ status: 'used' });
    expect((await store.getDevice('d2'))?.principal).toBeUndefined();
    // After expiry nothing can be decided.
    await store.createDevice('d3', 'u3', grant());
    expect(await store.decide('d3', { status: 'denied' }, new Date(NOW.getTime() + 600_000))).toBe(
      false,
    );
  });

  it('counts a poll only against the last one it saw', async () => {
    await store.createDevice('d1', 'u1', grant());
    expect(await store.recordPoll('d1', undefined, 1, 5)).toBe(true);
    expect(await store.recordPoll('d1', undefined, 2, 5)).toBe(false);
    expect(await store.recordPoll('d1', 1, 3, 10)).toBe(true);
    expect(await store.getDevice('d1')).toMatchObject({ lastPollAt: 3, interval: 10 });
  });

  it('refs and confirm tokens are single use and refused once expired', async () => {
    const ref = {
      deviceHash: 'd1',
      provider: 'corp',
      userCode: 'BCDF-GHJK',
      expiresAt: nowSeconds + 60,
    };
    await store.saveRef('r1', ref);
    const raced = await Promise.all([store.consumeRef('r1', NOW), store.consumeRef('r1', NOW)]);
    expect(raced.filter((r) => r !== undefined)).toHaveLength(1);
    await store.saveRef('r2', ref);
    expect(await store.consumeRef('r2', new Date(NOW.getTime() + 60_000))).toBeUndefined();
    const confirm = {
      ...ALICE,
      deviceHash: 'd1',
      userCode: 'BCDF-GHJK',
      browserHash: 'b',
      expiresAt: nowSeconds + 60,
    };
    await store.saveConfirm('c1', confirm);
    expect(await store.consumeConfirm('c1', NOW)).toMatchObject({ deviceHash: 'd1' });
    expect(await store.consumeConfirm('c1', NOW)).toBeUndefined();
    const { Items = [] } = await table.documentClient.send(
      new ScanCommand({ TableName: table.tableName }),
    );
    expect(Items.every((item) => typeof item.expiresAt === 'number')).toBe(true);
  });
});
