/**
 * Evaluates a mapping's match tree against an identity's claims (docs/configuration.md, "Match
 * trees"). Every evaluation yields a trace, so `tvm explain` shows exactly what decide() saw:
 * there is one evaluator, not a second one for explaining.
 */

import type { Claims } from '#shared/auth/identity.ts';
import type { Condition, MatchNode } from '#shared/config/schema.ts';

/** What a condition found under its claim name. */
export type ClaimKind = 'missing' | 'string' | 'number' | 'boolean' | 'list';

export type MatchTrace =
  | { kind: 'all' | 'any'; result: boolean; children: MatchTrace[] }
  | { kind: 'not'; result: boolean; child: MatchTrace }
  | {
      kind: 'condition';
      result: boolean;
      condition: Condition;
      claim: ClaimKind;
      /** List claims: how many elements the list has. */
      length?: number;
      /** List claims: the index of the element that decided the result (matched, or equalled for notEquals). */
      element?: number;
    };

type Operand = string | readonly string[];

/**
 * The claim as a matching operand. Own properties only, so `__proto__` or `constructor` are
 * absent unless the token literally carries them; numbers and booleans compare as their JSON
 * text (`true`, `42`); any other type counts as absent, like a wrong-typed claim in toClaims.
 */
function readClaim(claims: Claims, name: string): { kind: ClaimKind; operand?: Operand } {
  if (!Object.hasOwn(claims, name)) return { kind: 'missing' };
  const value: unknown = claims[name];
  if (typeof value === 'string') return { kind: 'string', operand: value };
  if (typeof value === 'boolean') return { kind: 'boolean', operand: String(value) };
  if (typeof value === 'number' && Number.isFinite(value)) {
    return { kind: 'number', operand: String(value) };
  }
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return { kind: 'list', operand: value as readonly string[] };
  }
  return { kind: 'missing' };
}

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

/** One string against the condition (list claims call it once per element). */
function testString(condition: Condition, text: string): boolean {
  switch (condition.op) {
    case 'equals':
    case 'notEquals':
      return text === condition.value;
    case 'startsWith':
      return text.startsWith(condition.value);
    case 'contains':
      return text.includes(condition.value);
    case 'glob':
      return globMatches(condition.value, text);
    case 'in':
      return condition.value.includes(text);
    case 'exists':
      return true;
  }
}

function evaluateCondition(condition: Condition, claims: Claims): MatchTrace {
  const { kind, operand } = readClaim(claims, condition.claim);
  const trace = { kind: 'condition' as const, condition, claim: kind };
  if (condition.op === 'exists') {
    return { ...trace, result: (kind !== 'missing') === condition.value };
  }
  // A missing claim fails every other operator, notEquals included: absence is not a value.
  if (operand === undefined) return { ...trace, result: false };
  if (typeof operand === 'string') {
    const equal = testString(condition, operand);
    return { ...trace, result: condition.op === 'notEquals' ? !equal : equal };
  }
  const length = operand.length;
  // `contains` on a list means "has an element equal to", not a substring of some element.
  const test =
    condition.op === 'contains'
      ? (item: string) => item === condition.value
      : (item: string) => testString(condition, item);
  const element = operand.findIndex(test);
  const found = element === -1 ? {} : { element };
  // A list is "not equal" only when no element equals the value (docs/configuration.md).
  const result = condition.op === 'notEquals' ? element === -1 : element !== -1;
  return { ...trace, result, length, ...found };
}

/** Evaluates the whole tree (no short-circuit: at most 64 conditions, and explain shows them all). */
export function traceMatch(node: MatchNode, claims: Claims): MatchTrace {
  if ('all' in node) {
    const children = node.all.map((child) => traceMatch(child, claims));
    return { kind: 'all', result: children.every((child) => child.result), children };
  }
  if ('any' in node) {
    const children = node.any.map((child) => traceMatch(child, claims));
    return { kind: 'any', result: children.some((child) => child.result), children };
  }
  if ('not' in node) {
    const child = traceMatch(node.not, claims);
    return { kind: 'not', result: !child.result, child };
  }
  return evaluateCondition(node, claims);
}

export function evaluateMatch(node: MatchNode, claims: Claims): boolean {
  return traceMatch(node, claims).result;
}
