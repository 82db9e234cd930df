/**
 * The SAML login state against moto's DynamoDB: every item is single use, also when two
 * requests race for it (the replay guard and the AuthnRequest are the ACS's defences against a
 * response posted twice in parallel).
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoSamlStateStore, sha256Hex } from '#shared/saml/state.ts';
import { freshTable } from '../support/local-table.ts';

type Table = Awaited<ReturnType<typeof freshTable>>;

describe('saml-state (DynamoDB)', () => {
  let table: Table;
  let store: DynamoSamlStateStore;
  const now = new Date('2026-11-29T03:00:00Z');
  const inTenMinutes = Math.floor(now.getTime() / 1000) + 600;

  beforeEach(async () => {
    table = await freshTable('tvm-saml');
    store = new DynamoSamlStateStore(table.documentClient, table.tableName);
  });

  it('claims an assertion id once, even when 10 claims race, with a TTL', async () => {
    // Act
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.claimAssertion('corp', '_assert-1', inTenMinutes)),
    );
    // Assess
    expect(results.filter(Boolean)).toHaveLength(1);
    const { Item } = await table.documentClient.send(
      new GetCommand({
        TableName: table.tableName,
        // Keyed on the IdP (hashed: an entity id may hold `#`), not on a provider entry.
        Key: { pk: `REPLAY#${sha256Hex('corp')}#_assert-1`, sk: 'REPLAY' },
      }),
    );
    expect(Item?.expiresAt).toBe(inTenMinutes);
    expect(await store.claimAssertion('other', '_assert-1', inTenMinutes)).toBe(true);
  });

  it('hands a pending login to exactly one of 10 racing consumers, and only for its provider', async () => {
    // Prepare
    const login = {
      provider: 'corp',
      target: 'console' as const,
      relayStateHash: sha256Hex('relay'),
      browserHash: sha256Hex('browser'),
      expiresAt: inTenMinutes,
    };
    await store.saveLogin('_req-1', login);
    expect(await store.consumeLogin('_req-1', 'other', now)).toBeUndefined();
    // Act
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.consumeLogin('_req-1', 'corp', now)),
    );
    // Assess
    const won = results.filter((result) => result !== undefined);
    expect(won).toHaveLength(1);
    expect(won[0]).toMatchObject(login);
  });

  it('refuses an expired login even before DynamoDB TTL removed it', async () => {
    await store.saveLogin('_req-old', {
      provider: 'corp',
      target: 'console',
      relayStateHash: 'x',
      browserHash: 'y',
      expiresAt: Math.floor(now.getTime() / 1000) - 1,
    });
    expect(await store.consumeLogin('_req-old', 'corp', now)).toBeUndefined();
  });

  it('stores a selection under its token hash and gives it back once', async () => {
    // Prepare
    const hash = sha256Hex('token');
    await store.saveSelection(hash, {
      provider: 'corp',
      issuer: 'https://idp.corp.example/saml',
      subject: 'alice@corp.example',
      claims: { sub: 'alice@corp.example', groups: ['a', 'b'] },
      target: 'credentials',
      mappingIds: ['corp-admin', 'corp-reader'],
      browserHash: sha256Hex('browser'),
      assertionId: '_assert-1',
      expiresAt: inTenMinutes,
    });
    // Act
    const [first, second] = await Promise.all([
      store.consumeSelection(hash, now),
      store.consumeSelection(hash, now),
    ]);
    // Assess
    const got = first ?? second;
    expect([first, second].filter((value) => value !== undefined)).toHaveLength(1);
    expect(got?.claims).toEqual({ sub: 'alice@corp.example', groups: ['a', 'b'] });
    expect(got?.mappingIds).toEqual(['corp-admin', 'corp-reader']);
  });
});
