/**
 * Match tree checks: bounded depth and size, no empty substring test, and every condition reads
 * a claim its provider declares with an operator of that claim's type, with the fix named.
 */

import { type ClaimType, claimTypes, OPERATORS_BY_TYPE } from '#shared/config/claims.ts';
import { MATCH_LIMITS } from '#shared/config/limits.ts';
import type { PathSegment } from '#shared/config/path.ts';
import type { Condition, MatchNode, Provider } from '#shared/config/schema.ts';
import { quoteList, type Report } from './messages.ts';

const STRING_OPERATORS: readonly string[] = OPERATORS_BY_TYPE.string;
const LIST_OPERATORS: readonly string[] = OPERATORS_BY_TYPE.list;

/** The fix for an operator used on the wrong claim type, named in the message. */
function operatorFix(op: Condition['op'], claim: string, type: ClaimType): string {
  if (type === 'string') {
    if (op === 'contains') {
      return `"contains" tests list membership, but claim "${claim}" is declared as a string; use "equals" for equality, "includesSubstring" for a substring test, or declare the claim as { type: list }`;
    }
    return `"${op}" compares a list claim, but claim "${claim}" is declared as a string; use "in" to test against several values, or declare the claim as { type: list }`;
  }
  const instead =
    op === 'in' ? '"containsAny"' : '"contains" (element equality), "containsAny" or "containsAll"';
  return `"${op}" compares one string, but claim "${claim}" is declared as a list; use ${instead}, or declare the claim as { type: string }`;
}

/** Every condition reads a declared claim with an operator of its type (DESIGN.md §5). */
function checkCondition(
  condition: Condition,
  path: readonly PathSegment[],
  provider: Provider | undefined,
  report: Report,
): void {
  if (
    (condition.op === 'startsWith' || condition.op === 'includesSubstring') &&
    condition.value === ''
  ) {
    report(
      [...path, 'value'],
      `"${condition.op}" with an empty value matches every value; use "exists"`,
    );
  }
  if (provider === undefined) return;
  const type = claimTypes(provider)(condition.claim);
  if (type === undefined) {
    const declared = Object.keys(provider.claims);
    report(
      [...path, 'claim'],
      `claim "${condition.claim}" is not declared by provider "${provider.id}"; declare it under providers[].claims with its type (string or list)${declared.length > 0 ? ` (declared: ${quoteList(declared)})` : ''}`,
    );
    return;
  }
  const allowed = type === 'string' ? STRING_OPERATORS : LIST_OPERATORS;
  if (!allowed.includes(condition.op))
    report([...path, 'op'], operatorFix(condition.op, condition.claim, type));
}

export function checkMatchTree(
  match: MatchNode,
  path: readonly PathSegment[],
  provider: Provider | undefined,
  report: Report,
): void {
  const stack: { node: MatchNode; path: readonly PathSegment[]; depth: number }[] = [
    { node: match, path, depth: 1 },
  ];
  let conditions = 0;
  let tooDeep: readonly PathSegment[] | undefined;
  while (stack.length > 0) {
    const { node, path: nodePath, depth } = stack.pop() as (typeof stack)[number];
    if (depth > MATCH_LIMITS.maxDepth) {
      tooDeep ??= nodePath;
      continue;
    }
    const children = 'all' in node ? node.all : 'any' in node ? node.any : undefined;
    const key = 'all' in node ? 'all' : 'any';
    if (children !== undefined) {
      for (const [index, child] of children.entries()) {
        stack.push({ node: child, path: [...nodePath, key, index], depth: depth + 1 });
      }
    } else if ('not' in node) {
      stack.push({ node: node.not, path: [...nodePath, 'not'], depth: depth + 1 });
    } else {
      conditions += 1;
      checkCondition(node as Condition, nodePath, provider, report);
    }
  }
  if (tooDeep !== undefined) {
    report(
      tooDeep,
      `match tree is nested more than ${MATCH_LIMITS.maxDepth} levels deep here; the limit is ${MATCH_LIMITS.maxDepth} levels`,
    );
  }
  if (conditions > MATCH_LIMITS.maxConditions) {
    report(
      path,
      `match tree has ${conditions} conditions; the limit is ${MATCH_LIMITS.maxConditions}`,
    );
  }
}
