import type { Identity } from '#shared/auth/identity.ts';
import { providersOfIssuer } from '#shared/auth/principal.ts';
import type { Provider } from '#shared/config/schema.ts';
import { AppError, ForbiddenError, UpstreamError } from '#shared/errors.ts';
import type { DenyList } from './deny-list.ts';
import type { RateLimiter, RateLimitRule } from './rate-limit.ts';

/** Checks that run after authentication and before any decision or STS call. */
export interface AccessGuard {
  /**
   * `providers` is the whole current config's list: a principal's controls come from every
   * provider entry that shares its issuer, not only from the entry the client picked.
   */
  check(
    identity: Identity,
    providers: readonly Provider[],
    context: { sourceIp?: string; now: Date },
  ): Promise<void>;
}

type Window = { limit: number; windowSeconds: number };

/**
 * The union of the entries' windows, one per window length, keeping the strictest limit: two
 * rules on one window would count each request twice against one counter.
 */
function strictestPerWindow(rules: readonly (Window | undefined)[]): Window[] {
  const byWindow = new Map<number, Window>();
  for (const rule of rules) {
    if (rule === undefined) continue;
    const known = byWindow.get(rule.windowSeconds);
    if (known === undefined || rule.limit < known.limit) byWindow.set(rule.windowSeconds, rule);
  }
  return [...byWindow.values()].sort((a, b) => a.windowSeconds - b.windowSeconds);
}

/**
 * The rate-limit rules for this caller: those of every provider entry sharing its issuer, so that
 * switching to an entry without limits escapes nothing. Keyed on the principal (issuer + subject)
 * and on issuer + source IP, never on the entry's id.
 */
export function rateLimitRules(
  identity: Identity,
  providers: readonly Provider[],
  sourceIp: string | undefined,
): RateLimitRule[] {
  const sharing = providersOfIssuer(providers, identity.issuer);
  // JSON arrays: no choice of issuer, subject or IP can make two keys equal.
  const key = (kind: string, ...parts: (string | number)[]) => JSON.stringify([kind, ...parts]);
  const rules: RateLimitRule[] = [];
  for (const window of strictestPerWindow(sharing.map((p) => p.rateLimits?.perPrincipal))) {
    rules.push({
      key: key('principal', identity.issuer, identity.subject, window.windowSeconds),
      ...window,
      reason: 'rate_limited_principal',
    });
  }
  if (sourceIp !== undefined) {
    for (const window of strictestPerWindow(sharing.map((p) => p.rateLimits?.perSourceIp))) {
      rules.push({
        key: key('ip', identity.issuer, sourceIp, window.windowSeconds),
        ...window,
        reason: 'rate_limited_ip',
      });
    }
  }
  return rules;
}

/**
 * One round trip: the deny read and the rate counters run side by side, and the answer is
 * decided only once both settled. A denied principal is refused (403) whatever the counters
 * said, even when they failed; otherwise any store error refuses with a 503 (fail closed), then
 * a full window with a 429. Because the counters are written before the deny read is known, a
 * denied request still spends rate budget (docs/operations.md, "Rate limits"). Both read
 * DynamoDB on every request, so a deny takes effect at the next request. Not one
 * TransactWriteItems: transactions on one hot counter cancel each other under the very bursts
 * the limits exist for.
 */
export function createAccessGuard(denyList: DenyList, limiter: RateLimiter): AccessGuard {
  return {
    async check(identity, providers, context) {
      const findDeny = async () => {
        // Entries written before deny keys moved to the issuer live under each entry's id.
        const legacy = providersOfIssuer(providers, identity.issuer).map((p) => p.id);
        return denyList.find(identity.issuer, identity.subject, legacy, context.now);
      };
      const countRequest = async () => {
        const rules = rateLimitRules(identity, providers, context.sourceIp);
        if (rules.length > 0) await limiter.consume(rules, context.now);
      };
      const [denied, counted] = await Promise.allSettled([findDeny(), countRequest()]);
      if (denied.status === 'fulfilled' && denied.value !== undefined) {
        throw new ForbiddenError('denied_principal');
      }
      for (const settled of [denied, counted]) {
        if (settled.status === 'fulfilled' || settled.reason instanceof AppError) continue;
        // The deny list or a counter could not be read: refuse (fail closed), as a 503.
        throw new UpstreamError(settled.reason, 2, 'guard_unavailable');
      }
      if (denied.status === 'rejected') throw denied.reason;
      if (counted.status === 'rejected') throw counted.reason;
    },
  };
}
