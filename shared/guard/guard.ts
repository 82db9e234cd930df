import type { Identity } from '#shared/auth/identity.ts';
import type { Provider } from '#shared/config/schema.ts';
import { AppError, ForbiddenError, UpstreamError } from '#shared/errors.ts';
import type { DenyList } from './deny-list.ts';
import type { RateLimiter, RateLimitRule } from './rate-limit.ts';

/** Checks that run after authentication and before any decision or STS call. */
export interface AccessGuard {
  check(
    identity: Identity,
    provider: Provider,
    context: { sourceIp?: string; now: Date },
  ): Promise<void>;
}

/** The rate-limit rules a provider configures for this caller. */
export function rateLimitRules(
  identity: Identity,
  provider: Provider,
  sourceIp: string | undefined,
): RateLimitRule[] {
  const rules: RateLimitRule[] = [];
  const limits = provider.rateLimits;
  if (limits?.perPrincipal !== undefined) {
    rules.push({
      key: `principal#${identity.provider}#${identity.subject}`,
      ...limits.perPrincipal,
      reason: 'rate_limited_principal',
    });
  }
  if (limits?.perSourceIp !== undefined && sourceIp !== undefined) {
    rules.push({
      key: `ip#${identity.provider}#${sourceIp}`,
      ...limits.perSourceIp,
      reason: 'rate_limited_ip',
    });
  }
  return rules;
}

/**
 * Deny list first (a denied principal must not even use up rate budget), then the rate limits.
 * Both read DynamoDB on every request, so a deny takes effect at the next request.
 */
export function createAccessGuard(denyList: DenyList, limiter: RateLimiter): AccessGuard {
  return {
    async check(identity, provider, context) {
      try {
        const entry = await denyList.find(identity.provider, identity.subject, context.now);
        if (entry !== undefined) throw new ForbiddenError('denied_principal');
        const rules = rateLimitRules(identity, provider, context.sourceIp);
        if (rules.length > 0) await limiter.consume(rules, context.now);
      } catch (error) {
        if (error instanceof AppError) throw error;
        // The deny list or the counters could not be read: refuse (fail closed), as a 503.
        throw Object.assign(new UpstreamError(error, 2), { reason: 'guard_unavailable' });
      }
    },
  };
}
