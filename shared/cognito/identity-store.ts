/**
 * Where Cognito-compatible identity ids live (DESIGN.md §6 style, one table):
 *   COGNITO#<poolId>#P#<principalHash>  → the principal's identity id in that pool
 *   COGNITO#<poolId>#ID#<identityId>    → the principal hash that owns the id (`guest: true` for a
 *                                          guest, whose principal is the id itself)
 * A user's two items are written in one transaction, each conditional on not existing, so two
 * racing GetIds of one principal agree on one id and an id never exists without its owner. A
 * guest has only the ID item: every guest GetId makes a new identity, as Cognito's does.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';

export interface IdentityOwner {
  poolId: string;
  principalHash: string;
  /** An unauthenticated identity: never linked to a login, never given a user's mappings. */
  guest: boolean;
}

export interface IdentityStore {
  /** The principal's identity id in the pool, or undefined (one read). */
  findId(poolId: string, principalHash: string): Promise<string | undefined>;
  /**
   * Stores `identityId` for the principal unless it already has one; returns the id that won
   * (ours, or the one a racing call stored first).
   */
  createId(poolId: string, principalHash: string, identityId: string): Promise<string>;
  /** Stores a new guest identity (one conditional write: a random id never overwrites another). */
  createGuestId(poolId: string, principalHash: string, identityId: string): Promise<void>;
  /** Who owns an identity id, among the candidate pools (one read; a batch when several). */
  ownerOf(poolIds: readonly string[], identityId: string): Promise<IdentityOwner | undefined>;
}

export const principalKey = (poolId: string, principalHash: string) => ({
  pk: `COGNITO#${poolId}#P#${principalHash}`,
  sk: 'IDENTITY',
});
export const identityKey = (poolId: string, identityId: string) => ({
  pk: `COGNITO#${poolId}#ID#${identityId}`,
  sk: 'IDENTITY',
});

export class DynamoIdentityStore implements IdentityStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => Date;

  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    now: () => Date = () => new Date(),
  ) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  async findId(poolId: string, principalHash: string, consistent = false) {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: principalKey(poolId, principalHash),
        ConsistentRead: consistent,
      }),
    );
    return typeof Item?.identityId === 'string' ? Item.identityId : undefined;
  }

  async createId(poolId: string, principalHash: string, identityId: string): Promise<string> {
    const createdAt = this.#now().toISOString();
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: { ...principalKey(poolId, principalHash), identityId, createdAt },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.#table,
                Item: { ...identityKey(poolId, identityId), principalHash, createdAt },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return identityId;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // A racing GetId of the same principal stored its id first: everyone answers with that one.
      const winner = await this.findId(poolId, principalHash, true);
      if (winner === undefined) throw error;
      return winner;
    }
  }

  async createGuestId(poolId: string, principalHash: string, identityId: string): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...identityKey(poolId, identityId),
          principalHash,
          guest: true,
          createdAt: this.#now().toISOString(),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async ownerOf(poolIds: readonly string[], identityId: string) {
    if (poolIds.length === 0) return undefined;
    if (poolIds.length === 1) {
      const poolId = poolIds[0] as string;
      const { Item } = await this.#client.send(
        new GetCommand({ TableName: this.#table, Key: identityKey(poolId, identityId) }),
      );
      return typeof Item?.principalHash === 'string'
        ? { poolId, principalHash: Item.principalHash, guest: Item.guest === true }
        : undefined;
    }
    // Several pools accept these Logins: one BatchGetItem (at most 100 keys; pools are few).
    const keys = poolIds.slice(0, 100).map((poolId) => identityKey(poolId, identityId));
    let pending: Record<string, unknown>[] = keys;
    const found: Record<string, unknown>[] = [];
    for (let attempt = 0; pending.length > 0 && attempt < 4; attempt += 1) {
      const { Responses, UnprocessedKeys } = await this.#client.send(
        new BatchGetCommand({ RequestItems: { [this.#table]: { Keys: pending } } }),
      );
      found.push(...(Responses?.[this.#table] ?? []));
      pending = (UnprocessedKeys?.[this.#table]?.Keys ?? []) as Record<string, unknown>[];
    }
    if (pending.length > 0) throw new Error('DynamoDB kept returning unprocessed keys');
    const item = found.find((candidate) => typeof candidate.principalHash === 'string');
    if (item === undefined) return undefined;
    const poolId = poolIds.find((id) => identityKey(id, identityId).pk === item.pk) as string;
    return { poolId, principalHash: item.principalHash as string, guest: item.guest === true };
  }
}
