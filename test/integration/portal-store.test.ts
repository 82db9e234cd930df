/**
 * The portal's action tokens against moto: a token works once even when two posts race, only
 * hashes are stored, and a page past its expiry (TTL deletion is lazy) answers nothing.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '#shared/login/store.ts';
import { DynamoPortalStore, SIGN_OUT } from '#shared/portal/store.ts';
import { freshTable } from '../support/local-table.ts';

type Table = Awaited<ReturnType<typeof freshTable>>;

const NOW = new Date('2026-01-01T00:01:00Z');
const EXPIRES = Math.floor(NOW.getTime() / 1000) + 900;

describe('DynamoPortalStore against moto', () => {
  let table: Table;
  let store: DynamoPortalStore;
  const page = sha256Hex('page');
  const reader = sha256Hex('token-reader');
  const admin = sha256Hex('token-admin');
  const signOut = sha256Hex('token-sign-out');

  beforeEach(async () => {
    table = await freshTable();
    store = new DynamoPortalStore(table.documentClient, table.tableName);
    await store.savePage(page, {
      sessionHash: sha256Hex('tvms_session'),
      actions: { [reader]: 'corp-reader', [admin]: 'corp-admin', [signOut]: SIGN_OUT },
      expiresAt: EXPIRES,
    });
  });

  it("spends each token once and leaves the page's other tokens usable", async () => {
    expect(await store.consumeAction(page, reader, NOW)).toEqual({
      sessionHash: sha256Hex('tvms_session'),
      target: 'corp-reader',
    });
    expect(await store.consumeAction(page, reader, NOW)).toBeUndefined();
    expect(await store.consumeAction(page, admin, NOW)).toMatchObject({ target: 'corp-admin' });
    expect(await store.consumeAction(page, signOut, NOW)).toMatchObject({ target: SIGN_OUT });
  });

  it('two posts racing with one token: exactly one gets it', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.consumeAction(page, admin, NOW)),
    );
    expect(results.filter((result) => result !== undefined)).toHaveLength(1);
  });

  it('an unknown page or token, or a page past its expiry, answers nothing', async () => {
    expect(await store.consumeAction(sha256Hex('other'), reader, NOW)).toBeUndefined();
    expect(await store.consumeAction(page, sha256Hex('made-up'), NOW)).toBeUndefined();
    const later = new Date((EXPIRES + 1) * 1000);
    expect(await store.consumeAction(page, reader, later)).toBeUndefined();
  });

  it('stores only hashes, with the TTL attribute', async () => {
    const { Items = [] } = await table.documentClient.send(
      new ScanCommand({ TableName: table.tableName }),
    );
    const item = Items.find((candidate) => String(candidate.pk).startsWith('PORTALPAGE#'));
    expect(item).toMatchObject({ pk: `PORTALPAGE#${page}`, sk: 'PORTALPAGE', expiresAt: EXPIRES });
    expect(JSON.stringify(Items)).not.toContain('token-reader');
  });
});
