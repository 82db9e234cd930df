/**
 * Evaluates a mapping's match tree against an identity's typed claims (docs/configuration.md,
 * "Match trees"). Every evaluation yields a trace, so `tvm explain` shows exactly what decide()
 * saw: there is one evaluator, not a second one for explaining.
 *
 * Each operator means one thing per declared claim type, and a condition on a malformed claim
 * makes the whole tree `malformed`, whatever `not`s surround it: it never reads as missing.
 */

import type { Claims } from '#shared/auth/identity.ts';
import { type ClaimTypes, readClaim } from '#shared/config/claims.ts';
import type { Condition, MatchNode } from '#shared/config/schema.ts';

/** What a condition found under its claim name. */
export type ClaimKind = 'missing' | 'string' | 'list' | 'malformed';

/** A tree is true, false, or malformed (a claim it reads is not of its declared type). */
export type MatchResult = boolean | 'malformed';

export type MatchTrace =
  | { kind: 'all' | 'any'; result: MatchResult; children: MatchTrace[] }
  | { kind: 'not'; result: MatchResult; child: MatchTrace }
  | {
      kind: 'condition';
      result: MatchResult;
      condition: Condition;
      claim: ClaimKind;
      /** Malformed claims: what was found instead of the declared type. */
      found?: string;
      /** List claims: how many elements the list has. */
      length?: number;
      /** List claims: the index of the element that decided the result. */
      element?: number;
    };

/**
 * `*` is any run of characters (also none), `?` exactly one (a Unicode code point); everything
 * else is literal and the whole value must match. A hand-written matcher rather than a RegExp,
 * so no pattern can inject regex syntax or backtrack exponentially: at worst O(pattern × value).
 */
export function globMatches(pattern: string, value: string): boolean {
  const p = Array.from(pattern);
  const v = Array.from(value);
  let pi = 0;
  let vi = 0;
  let star = -1;
  let resume = 0;
  while (vi < v.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi;
      pi += 1;
      resume = vi;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === v[vi])) {
      pi += 1;
      vi += 1;
    } else if (star !== -1) {
      // Let the last `*` swallow one more character and retry from there.
      pi = star + 1;
      resume += 1;
      vi = resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi += 1;
  return pi === p.length;
}

/** A string claim against a string operator; undefined when the operator is not a string one. */
function testString(condition: Condition, text: string): boolean | undefined {
  switch (condition.op) {
    case 'equals':
      return text === condition.value;
    case 'notEquals':
      return text !== condition.value;
    case 'startsWith':
      return text.startsWith(condition.value);
    case 'includesSubstring':
      return text.includes(condition.value);
    case 'glob':
      return globMatches(condition.value, text);
    case 'in':
      return condition.value.includes(text);
    default:
      return undefined;
  }
}

/** A list claim against a list operator (element equality, never substrings); undefined for a string operator. */
function testList(
  condition: Condition,
  list: readonly string[],
): { result: boolean; element?: number } | undefined {
  switch (condition.op) {
    case 'contains': {
      const element = list.indexOf(condition.value);
      return element === -1 ? { result: false } : { result: true, element };
    }
    case 'containsAny': {
      const values = condition.value;
      const element = list.findIndex((item) => values.includes(item));
      return element === -1 ? { result: false } : { result: true, element };
    }
    case 'containsAll':
      return { result: condition.value.every((value) => list.includes(value)) };
    default:
      return undefined;
  }
}

function evaluateCondition(condition: Condition, claims: Claims, typeOf: ClaimTypes): MatchTrace {
  const read = readClaim(claims, condition.claim, typeOf(condition.claim));
  const base = { kind: 'condition' as const, condition };
  if (read === undefined) {
    // A missing claim fails every operator but `exists: false`, notEquals included.
    return { ...base, claim: 'missing', result: condition.op === 'exists' && !condition.value };
  }
  if (read.state === 'malformed') {
    return { ...base, claim: 'malformed', found: read.found, result: 'malformed' };
  }
  if (condition.op === 'exists') return { ...base, claim: read.state, result: condition.value };
  if (read.state === 'string') {
    const result = testString(condition, read.value);
    // A list operator on a string claim: validation refuses it; refuse here too.
    return { ...base, claim: 'string', result: result ?? 'malformed' };
  }
  const tested = testList(condition, read.value);
  if (tested === undefined) return { ...base, claim: 'list', result: 'malformed' };
  return { ...base, claim: 'list', length: read.value.length, ...tested };
}

function combine(results: readonly MatchResult[], all: boolean): MatchResult {
  if (results.includes('malformed')) return 'malformed';
  return all
    ? results.every((result) => result === true)
    : results.some((result) => result === true);
}

/** Evaluates the whole tree (no short-circuit: at most 64 conditions, and explain shows them all). */
export function traceMatch(node: MatchNode, claims: Claims, typeOf: ClaimTypes): MatchTrace {
  if ('all' in node) {
    const children = node.all.map((child) => traceMatch(child, claims, typeOf));
    return {
      kind: 'all',
      result: combine(
        children.map((child) => child.result),
        true,
      ),
      children,
    };
  }
  if ('any' in node) {
    const children = node.any.map((child) => traceMatch(child, claims, typeOf));
    return {
      kind: 'any',
      result: combine(
        children.map((child) => child.result),
        false,
      ),
      children,
    };
  }
  if ('not' in node) {
    const child = traceMatch(node.not, claims, typeOf);
    return {
      kind: 'not',
      result: child.result === 'malformed' ? 'malformed' : !child.result,
      child,
    };
  }
  return evaluateCondition(node, claims, typeOf);
}

export function evaluateMatch(node: MatchNode, claims: Claims, typeOf: ClaimTypes): MatchResult {
  return traceMatch(node, claims, typeOf).result;
}
