/**
 * The mapping decision: a pure function of (identity, config, request) that picks one mapping
 * and renders it into exactly the parameters of one AssumeRole call. The role comes only from a
 * mapping: a request may name a mapping id, never a role ARN (DESIGN.md §7, invariant 3).
 */
import type { Identity } from '#shared/auth/identity.ts';
import { claimTypes, firstMalformedClaim } from '#shared/config/claims.ts';
import type { Mapping, Provider, TvmConfig } from '#shared/config/schema.ts';
import { STS_LIMITS } from '#shared/config/sts.ts';
import { ForbiddenError, ValidationError } from '#shared/errors.ts';
import type { Decision, DecisionRequest } from '#shared/mapping/decision.ts';
import { evaluateMatch } from '#shared/mapping/match.ts';
import {
  renderRoleSessionName,
  renderScope,
  renderSessionPolicy,
  renderSessionTags,
  renderSourceIdentity,
  sha256Hex,
} from '#shared/mapping/render.ts';

/** How the chosen mapping was picked (for explain and the audit log). */
export type Selection = 'requested' | 'highest_priority' | 'first_of_tie';

export function findProvider(config: TvmConfig, id: string): Provider | undefined {
  return config.providers.find((provider) => provider.id === id);
}

/** The identity's provider's mappings, highest priority first; ties keep their file order. */
export function candidateMappings(identity: Identity, config: TvmConfig): Mapping[] {
  // Array.prototype.sort is stable, so equal priorities stay in config (file) order.
  return config.mappings
    .filter((mapping) => mapping.provider === identity.provider)
    .sort((a, b) => b.priority - a.priority);
}

/**
 * Refuses the whole decision when a declared claim is malformed (a number inside a list, an
 * object, a list for a string): such a value never reads as missing, so no `not` can turn it
 * into a match (DESIGN.md §7, invariant 6).
 */
export function refuseMalformedClaims(identity: Identity, provider: Provider): void {
  const malformed = firstMalformedClaim(provider, identity.claims);
  if (malformed !== undefined) {
    throw new ForbiddenError('claim_malformed', { cause: { provider: provider.id, ...malformed } });
  }
}

/**
 * Every mapping that matches the identity, highest priority first, ties in file order (the SAML
 * chooser lists these). A tree that reads a malformed claim refuses everything.
 */
export function matchMappings(identity: Identity, config: TvmConfig): Mapping[] {
  const provider = findProvider(config, identity.provider);
  if (provider === undefined) return [];
  refuseMalformedClaims(identity, provider);
  const typeOf = claimTypes(provider);
  return candidateMappings(identity, config).filter((mapping) => {
    const result = evaluateMatch(mapping.match, identity.claims, typeOf);
    if (result === 'malformed') {
      // Only an undeclared claim gets here (validation refuses it): fail closed all the same.
      throw new ForbiddenError('claim_malformed', {
        cause: { provider: provider.id, mapping: mapping.id },
      });
    }
    return result;
  });
}

/** Refuses a duration below the AssumeRole minimum; longer ones are capped by the mapping later. */
function checkRequest(request: DecisionRequest): void {
  const { durationSeconds } = request;
  if (durationSeconds === undefined) return;
  if (!Number.isSafeInteger(durationSeconds) || durationSeconds < STS_LIMITS.minDurationSeconds) {
    throw new ValidationError(
      `durationSeconds must be an integer of at least ${STS_LIMITS.minDurationSeconds} (the AssumeRole minimum)`,
    );
  }
}

/** Picks one of the matched mappings, or refuses with the audit reason. */
export function selectMapping(
  provider: Provider,
  matched: readonly Mapping[],
  request: DecisionRequest,
): { mapping: Mapping; selection: Selection } {
  if (request.mappingId !== undefined) {
    // Unknown ids, other providers' ids and unmatched ids are all the same refusal.
    const mapping = matched.find((candidate) => candidate.id === request.mappingId);
    if (mapping === undefined) {
      throw new ForbiddenError('mapping_not_allowed', {
        cause: { provider: provider.id, matched: matched.map((m) => m.id) },
      });
    }
    return { mapping, selection: 'requested' };
  }
  const [top] = matched;
  if (top === undefined) {
    throw new ForbiddenError('no_matching_mapping', { cause: { provider: provider.id } });
  }
  const tied = matched.filter((mapping) => mapping.priority === top.priority);
  if (tied.length === 1) return { mapping: top, selection: 'highest_priority' };
  if (provider.ambiguity === 'first') return { mapping: top, selection: 'first_of_tie' };
  // `deny`, and `choose` until the SAML chooser page asks the user (it uses matchMappings).
  throw new ForbiddenError('ambiguous_mapping', {
    cause: {
      provider: provider.id,
      ambiguity: provider.ambiguity,
      candidates: tied.map((m) => m.id),
    },
  });
}

/** Renders the chosen mapping into AssumeRole parameters; throws claim_value_rejected or policy_too_large. */
export function renderDecision(
  identity: Identity,
  provider: Provider,
  mapping: Mapping,
  request: DecisionRequest,
  matched: readonly Mapping[],
): Decision {
  const scope = renderScope(identity, provider, mapping);
  const tags = renderSessionTags(mapping, scope);
  const policy =
    mapping.sessionPolicy === undefined
      ? undefined
      : renderSessionPolicy(mapping.sessionPolicy, mapping, scope);
  return {
    mapping,
    roleArn: mapping.roleArn,
    roleSessionName: renderRoleSessionName(mapping, identity, scope),
    sourceIdentity: renderSourceIdentity(mapping, identity, scope),
    tags,
    transitiveTagKeys: [...mapping.transitiveTagKeys],
    policy,
    policySha256: policy === undefined ? undefined : sha256Hex(policy),
    policyArns: [...mapping.policyArns],
    // The mapping's duration is a ceiling: a client may ask for less, never more.
    durationSeconds: Math.min(
      request.durationSeconds ?? mapping.durationSeconds,
      mapping.durationSeconds,
    ),
    externalId: mapping.externalId,
    matched: matched.map((m) => m.id),
  };
}

/**
 * Decide which mapping applies and render it. Throws ValidationError (400) for a malformed
 * request, and ForbiddenError (403) whose `reason` is a DenyReason for every refusal.
 */
export function decide(identity: Identity, config: TvmConfig, request: DecisionRequest): Decision {
  checkRequest(request);
  const provider = findProvider(config, identity.provider);
  if (provider === undefined) {
    // Authentication used a provider the current config no longer has: nothing can match.
    throw new ForbiddenError('no_matching_mapping', {
      cause: { provider: identity.provider, problem: 'unknown_provider' },
    });
  }
  const matched = matchMappings(identity, config);
  const { mapping } = selectMapping(provider, matched, request);
  return renderDecision(identity, provider, mapping, request, matched);
}
