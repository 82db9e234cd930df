import { RateLimitedError } from '#shared/errors.ts';
import {
  type DenyEntry,
  type DenyList,
  denyPartition,
  inForce,
  legacyDenyPartition,
} from '#shared/guard/deny-list.ts';
import {
  fixedWindow,
  type RateLimiter,
  type RateLimitRule,
  throwFirstFailure,
} from '#shared/guard/rate-limit.ts';
import type { PendingLogin, PendingSelection, SamlStateStore } from '#shared/saml/state.ts';

/** In-memory twins of the DynamoDB guards, with the same semantics, for in-process tests. */
export class MemoryDenyList implements DenyList {
  /** Keyed like the table: `<pk>\0<sk>`, so legacy `DENY#<provider>` entries can be planted. */
  readonly entries = new Map<string, DenyEntry>();
  async find(issuer: string, subject: string, legacy: readonly string[], now: Date) {
    return partitions(issuer, legacy)
      .map((pk) => this.entries.get(`${pk}\u0000${subject}`))
      .find((entry) => entry !== undefined && inForce(entry, now));
  }
  async add(entry: DenyEntry & { issuer: string }): Promise<void> {
    this.entries.set(`${denyPartition(entry.issuer)}\u0000${entry.subject}`, entry);
  }
  /** Writes an entry the way deny lists did before they keyed on the issuer. */
  addLegacy(entry: Omit<DenyEntry, 'issuer'>): void {
    this.entries.set(`${legacyDenyPartition(entry.provider)}\u0000${entry.subject}`, entry);
  }
  async remove(
    issuer: string | undefined,
    subject: string,
    legacy: readonly string[],
  ): Promise<boolean> {
    const removed = partitions(issuer, legacy).map((pk) =>
      this.entries.delete(`${pk}\u0000${subject}`),
    );
    return removed.some(Boolean);
  }
  async list(issuer: string | undefined, legacy: readonly string[]): Promise<DenyEntry[]> {
    const wanted = new Set(partitions(issuer, legacy));
    return [...this.entries].flatMap(([key, entry]) =>
      wanted.has(key.slice(0, key.indexOf('\u0000'))) ? [entry] : [],
    );
  }
}

function partitions(issuer: string | undefined, legacy: readonly string[]): string[] {
  return [
    ...(issuer === undefined ? [] : [denyPartition(issuer)]),
    ...legacy.map(legacyDenyPartition),
  ];
}

export class MemoryRateLimiter implements RateLimiter {
  readonly counts = new Map<string, number>();
  async consume(rules: readonly RateLimitRule[], now: Date): Promise<void> {
    // As DynamoRateLimiter: every rule with room counts the request, then the first full one refuses.
    const settled = await Promise.allSettled(
      rules.map(async (rule) => {
        const { start, retryAfter } = fixedWindow(now, rule.windowSeconds);
        const key = `${rule.key}@${start}`;
        const count = this.counts.get(key) ?? 0;
        if (count >= rule.limit) throw new RateLimitedError(retryAfter, rule.reason);
        this.counts.set(key, count + 1);
      }),
    );
    throwFirstFailure(settled);
  }
}

/** In-memory twin of the SAML login state for in-process tests; same single-use semantics. */
export class MemorySamlStateStore implements SamlStateStore {
  readonly logins = new Map<string, PendingLogin>();
  readonly replays = new Map<string, number>();
  readonly selections = new Map<string, PendingSelection>();

  async saveLogin(requestId: string, login: PendingLogin): Promise<void> {
    if (this.logins.has(requestId)) throw new Error('duplicate AuthnRequest id');
    this.logins.set(requestId, login);
  }

  async consumeLogin(requestId: string, provider: string, now: Date) {
    const login = this.logins.get(requestId);
    if (login === undefined || login.provider !== provider) return undefined;
    this.logins.delete(requestId);
    return login.expiresAt * 1000 > now.getTime() ? login : undefined;
  }

  async claimAssertion(issuer: string, assertionId: string, expiresAt: number) {
    const key = JSON.stringify([issuer, assertionId]);
    if (this.replays.has(key)) return false;
    this.replays.set(key, expiresAt);
    return true;
  }

  async saveSelection(tokenHash: string, selection: PendingSelection): Promise<void> {
    this.selections.set(tokenHash, selection);
  }

  async consumeSelection(tokenHash: string, now: Date) {
    const selection = this.selections.get(tokenHash);
    this.selections.delete(tokenHash);
    return selection !== undefined && selection.expiresAt * 1000 > now.getTime()
      ? selection
      : undefined;
  }
}
