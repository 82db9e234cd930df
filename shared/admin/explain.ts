/**
 * `tvm explain`: what decide() does with a given set of claims, and why. It runs the real
 * decide() (so it can never disagree with the TVM) plus the match traces, and makes no STS call.
 * Admin-only: the CLI formats the result (scripts/cli/explain-format.ts).
 */
import type { Identity } from '#shared/auth/identity.ts';
import { claimTypes } from '#shared/config/claims.ts';
import type { Mapping, Provider, TvmConfig } from '#shared/config/schema.ts';
import { ForbiddenError, ValidationError } from '#shared/errors.ts';
import {
  candidateMappings,
  decide,
  findProvider,
  type Selection,
  selectMapping,
} from '#shared/mapping/decide.ts';
import type { Decision, DecisionRequest } from '#shared/mapping/decision.ts';
import { type MatchTrace, traceMatch } from '#shared/mapping/match.ts';

export interface MappingExplanation {
  mapping: Mapping;
  matched: boolean;
  trace: MatchTrace;
}

export type ExplainOutcome =
  | { kind: 'chosen'; decision: Decision; selection: Selection }
  | { kind: 'denied'; reason: string; cause: unknown }
  | { kind: 'invalid'; detail: string };

export interface Explanation {
  identity: Identity;
  provider: Provider;
  request: DecisionRequest;
  /** Every mapping of the provider, in decision order: highest priority first, ties in file order. */
  mappings: MappingExplanation[];
  outcome: ExplainOutcome;
}

/** Throws ValidationError for an identity whose provider the config does not have. */
export function explainDecision(
  identity: Identity,
  config: TvmConfig,
  request: DecisionRequest,
): Explanation {
  const provider = findProvider(config, identity.provider);
  if (provider === undefined) {
    const known = config.providers.map((p) => `"${p.id}"`).join(', ') || 'none';
    throw new ValidationError(`unknown provider "${identity.provider}"; providers: ${known}`);
  }
  const typeOf = claimTypes(provider);
  const mappings = candidateMappings(identity, config).map((mapping) => {
    const trace = traceMatch(mapping.match, identity.claims, typeOf);
    return { mapping, matched: trace.result === true, trace };
  });
  let outcome: ExplainOutcome;
  try {
    const decision = decide(identity, config, request);
    const matched = mappings.filter((m) => m.matched).map((m) => m.mapping);
    outcome = {
      kind: 'chosen',
      decision,
      selection: selectMapping(provider, matched, request).selection,
    };
  } catch (error) {
    if (error instanceof ForbiddenError) {
      outcome = { kind: 'denied', reason: error.reason, cause: error.cause };
    } else if (error instanceof ValidationError) {
      outcome = { kind: 'invalid', detail: error.detail ?? error.message };
    } else throw error;
  }
  return { identity, provider, request, mappings, outcome };
}
