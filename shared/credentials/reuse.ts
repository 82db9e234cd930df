import { createHash } from 'node:crypto';
import type { Identity } from '#shared/auth/identity.ts';
import { canonicalJson } from '#shared/config/store.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import { assumeRoleInput, type VendedCredentials } from '#shared/sts/vend.ts';

/**
 * Credentials this Lambda instance vended, kept in process memory only (never DynamoDB, never
 * logs), for mappings that opt in with `reuse`. The key covers the principal and every
 * AssumeRole parameter (role, session name, SourceIdentity, tags, policy, policy ARNs,
 * duration, external id), so a reuse can never cross subjects, mappings, policies or tags.
 */
export class CredentialReuseCache {
  readonly #entries = new Map<string, VendedCredentials>();
  readonly #maxEntries: number;

  constructor(options: { maxEntries: number }) {
    this.#maxEntries = options.maxEntries;
  }

  static key(identity: Identity, decision: Decision): string {
    return createHash('sha256')
      .update(
        canonicalJson({
          // The principal, not the provider entry: the mapping id already pins the entry.
          issuer: identity.issuer,
          subject: identity.subject,
          mapping: decision.mapping.id,
          assumeRole: assumeRoleInput(decision),
        }),
      )
      .digest('hex');
  }

  /** Credentials with more than `minRemainingSeconds` left at `now`, if this instance has some. */
  find(key: string, now: Date, minRemainingSeconds: number): VendedCredentials | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiration.getTime() - now.getTime() <= minRemainingSeconds * 1000) {
      this.#entries.delete(key);
      return undefined;
    }
    // Map order is insertion order: re-inserting marks it most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  store(key: string, credentials: VendedCredentials): void {
    this.#entries.delete(key);
    this.#entries.set(key, credentials);
    // Bounded memory: drop the least recently used entries past the cap.
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
