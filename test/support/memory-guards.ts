import { RateLimitedError } from '#shared/errors.ts';
import { type DenyEntry, type DenyList, inForce } from '#shared/guard/deny-list.ts';
import { fixedWindow, type RateLimiter } from '#shared/guard/rate-limit.ts';
import type { PendingLogin, PendingSelection, SamlStateStore } from '#shared/saml/state.ts';

/** In-memory twins of the DynamoDB guards, with the same semantics, for in-process tests. */
export class MemoryDenyList implements DenyList {
  readonly entries = new Map<string, DenyEntry>();
  async find(provider: string, subject: string, now: Date): Promise<DenyEntry | undefined> {
    const entry = this.entries.get(`${provider}\u0000${subject}`);
    return entry !== undefined && inForce(entry, now) ? entry : undefined;
  }
  async add(entry: DenyEntry): Promise<void> {
    this.entries.set(`${entry.provider}\u0000${entry.subject}`, entry);
  }
  async remove(provider: string, subject: string): Promise<boolean> {
    return this.entries.delete(`${provider}\u0000${subject}`);
  }
  async list(provider: string): Promise<DenyEntry[]> {
    return [...this.entries.values()].filter((entry) => entry.provider === provider);
  }
}

export class MemoryRateLimiter implements RateLimiter {
  readonly counts = new Map<string, number>();
  async consume(
    rules: readonly { key: string; limit: number; windowSeconds: number; reason: string }[],
    now: Date,
  ): Promise<void> {
    for (const rule of rules) {
      const { start, retryAfter } = fixedWindow(now, rule.windowSeconds);
      const key = `${rule.key}@${start}`;
      const count = this.counts.get(key) ?? 0;
      if (count >= rule.limit) throw new RateLimitedError(retryAfter, rule.reason);
      this.counts.set(key, count + 1);
    }
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

  async claimAssertion(provider: string, assertionId: string, expiresAt: number) {
    const key = `${provider}#${assertionId}`;
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
