import type { IdentityOwner, IdentityStore } from '#shared/cognito/identity-store.ts';
import { identityKey, principalKey } from '#shared/cognito/identity-store.ts';

/** In-memory twin of DynamoIdentityStore: same keys, same first-writer-wins creation. */
export class MemoryIdentityStore implements IdentityStore {
  readonly items = new Map<string, Record<string, string>>();
  /** Reads, as DynamoDB GetItem/BatchGetItem calls: lookups must stay one round trip. */
  reads = 0;

  async findId(poolId: string, principalHash: string) {
    this.reads += 1;
    return this.items.get(principalKey(poolId, principalHash).pk)?.identityId;
  }

  async createId(poolId: string, principalHash: string, identityId: string) {
    const principal = principalKey(poolId, principalHash).pk;
    const existing = this.items.get(principal)?.identityId;
    if (existing !== undefined) return existing;
    this.items.set(principal, { identityId });
    this.items.set(identityKey(poolId, identityId).pk, { principalHash });
    return identityId;
  }

  async createGuestId(poolId: string, principalHash: string, identityId: string) {
    const key = identityKey(poolId, identityId).pk;
    if (this.items.has(key)) throw new Error('ConditionalCheckFailed: identity id exists');
    this.items.set(key, { principalHash, guest: 'true' });
  }

  async ownerOf(poolIds: readonly string[], identityId: string) {
    if (poolIds.length === 0) return undefined;
    this.reads += 1;
    for (const poolId of poolIds) {
      const item = this.items.get(identityKey(poolId, identityId).pk);
      if (item?.principalHash !== undefined) {
        return {
          poolId,
          principalHash: item.principalHash,
          guest: item.guest === 'true',
        } satisfies IdentityOwner;
      }
    }
    return undefined;
  }
}
