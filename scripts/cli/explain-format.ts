/**
 * `tvm explain` as terminal lines: the match traces, the chosen mapping's rendered values, or
 * why the decision refused. Presentation only; shared/admin/explain.ts computes the explanation.
 */

import type { Explanation } from '#shared/admin/explain.ts';
import type { Claims, Identity } from '#shared/auth/identity.ts';
import type { Provider } from '#shared/config/schema.ts';
import {
  POLICY_CLAIM_VALUE_PATTERN,
  STS_LIMITS,
  TAG_CHARACTERS_PATTERN,
  TAG_CLAIM_VALUE_PATTERN,
} from '#shared/config/sts.ts';
import type { Selection } from '#shared/mapping/decide.ts';
import type { Decision, DecisionRequest } from '#shared/mapping/decision.ts';
import type { MatchTrace } from '#shared/mapping/match.ts';
import type { ClaimRejection } from '#shared/mapping/render.ts';

/** The colours the formatter uses; picocolors' `createColors()` provides them. */
export interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const formatNumber = (value: number): string => value.toLocaleString('en-US');

/** A claim or config value in quotes, shortened so one long claim cannot flood the terminal. */
function quote(value: string, max = 80): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…" (${value.length} chars)` : text;
}

function plural(count: number, noun: string): string {
  return `${formatNumber(count)} ${noun}${count === 1 ? '' : 's'}`;
}

function describeCondition(
  trace: Extract<MatchTrace, { kind: 'condition' }>,
  claims: Claims,
): string {
  const { condition, claim } = trace;
  const raw = Object.hasOwn(claims, condition.claim) ? claims[condition.claim] : undefined;
  const scalar = raw === undefined || Array.isArray(raw) ? undefined : String(raw);
  const value =
    condition.op === 'exists'
      ? ''
      : ` ${Array.isArray(condition.value) ? `[${condition.value.map((v) => quote(v, 40)).join(', ')}]` : quote(String(condition.value))}`;
  const test =
    condition.op === 'exists' && !condition.value
      ? `${condition.claim} exists false`
      : `${condition.claim} ${condition.op}${value}`;
  return `${test}: ${trace.result}${whyCondition(trace, claim, scalar)}`;
}

function whyCondition(
  trace: Extract<MatchTrace, { kind: 'condition' }>,
  claim: string,
  value: string | undefined,
): string {
  if (claim === 'missing') return ' (claim missing)';
  if (claim === 'malformed')
    return ` (malformed: ${trace.found ?? 'wrong type'}; refuses the decision)`;
  if (trace.condition.op === 'exists') {
    return claim === 'list' ? ` (list of ${trace.length})` : ` (${claim})`;
  }
  if (claim === 'list') {
    const of = `of ${trace.length}`;
    if (trace.element === undefined) {
      return trace.length === 0 ? ' (empty list)' : ` (no element ${of} matches)`;
    }
    return ` (element ${trace.element + 1} ${of})`;
  }
  const shown = value === undefined ? '' : ` ${quote(value, 60)}`;
  return ` (claim is${shown})`;
}

function traceLines(trace: MatchTrace, claims: Claims, paint: Paint, indent: string): string[] {
  const mark =
    trace.result === 'malformed'
      ? paint.yellow('!')
      : trace.result
        ? paint.green('✓')
        : paint.red('✗');
  if (trace.kind === 'condition') return [`${indent}${mark} ${describeCondition(trace, claims)}`];
  if (trace.kind === 'not') {
    return [
      `${indent}${mark} not: ${trace.result}`,
      ...traceLines(trace.child, claims, paint, `${indent}  `),
    ];
  }
  return [
    `${indent}${mark} ${trace.kind}: ${trace.result}`,
    ...trace.children.flatMap((child) => traceLines(child, claims, paint, `${indent}  `)),
  ];
}

function describeSelection(decision: Decision, selection: Selection, provider: Provider): string {
  const priority = `priority ${decision.mapping.priority}`;
  if (selection === 'requested') return `requested by id (${priority})`;
  if (selection === 'highest_priority') return `highest ${priority}`;
  return `first in file order of the mappings tied at ${priority} (ambiguity "${provider.ambiguity}")`;
}

function disallowedCharacters(value: string, pattern: RegExp): string {
  if (value === '') return 'is empty';
  const bad = [...new Set(Array.from(value).filter((c) => !pattern.test(c)))];
  return `contains ${bad.map((c) => JSON.stringify(c)).join(', ')}`;
}

const RULES = {
  tag: 'tag claims allow letters, digits, space and _ . : = + - @ (no "/", not empty)',
  policy: 'session policy claims allow A-Z a-z 0-9 and _ . @ : + = , - (not empty)',
  tagValue: 'STS tag values allow letters, digits, spaces and _ . : / = + - @',
};

function describeRejection(rejection: ClaimRejection, identity: Identity): string {
  const where = `mapping "${rejection.mapping}", ${rejection.field}`;
  const variable =
    rejection.variable === undefined ? 'the rendered value' : `{{${rejection.variable}}}`;
  const claimName = rejection.variable?.startsWith('claims.')
    ? rejection.variable.slice('claims.'.length)
    : undefined;
  const claim =
    claimName !== undefined && Object.hasOwn(identity.claims, claimName)
      ? identity.claims[claimName]
      : undefined;
  switch (rejection.problem) {
    case 'missing':
      return `${where}: ${variable} has no value (the claim is missing)`;
    case 'not_string':
      return `${where}: ${variable} is not a string (lists, numbers and booleans cannot be rendered)`;
    case 'too_long':
      return `${where}: ${variable} is ${rejection.length ?? '?'} characters; its maxLength is ${rejection.limit ?? '?'}`;
    case 'rendered_too_long':
      return `${where}: the rendered value is ${rejection.length ?? '?'} characters; the STS limit is ${rejection.limit ?? '?'}`;
    case 'disallowed_characters': {
      const isTag = rejection.field.startsWith('sessionTags');
      const rule =
        rejection.variable === undefined ? RULES.tagValue : isTag ? RULES.tag : RULES.policy;
      const pattern =
        rejection.variable === undefined
          ? TAG_CHARACTERS_PATTERN
          : isTag
            ? TAG_CLAIM_VALUE_PATTERN
            : POLICY_CLAIM_VALUE_PATTERN;
      const detail = typeof claim === 'string' ? ` ${disallowedCharacters(claim, pattern)};` : '';
      return `${where}: ${variable}${detail} ${rule}`;
    }
  }
}

function describeDenial(reason: string, cause: unknown, explanation: Explanation): string {
  const { provider, request } = explanation;
  const detail = (cause ?? {}) as Record<string, unknown>;
  switch (reason) {
    case 'no_matching_mapping':
      return `no mapping of provider "${provider.id}" matched these claims`;
    case 'mapping_not_allowed': {
      const matched = explanation.mappings.filter((m) => m.matched).map((m) => m.mapping.id);
      return `mapping "${request.mappingId}" is not among the matched mappings of provider "${provider.id}" (matched: ${matched.join(', ') || 'none'})`;
    }
    case 'ambiguous_mapping': {
      const candidates = (detail.candidates as string[] | undefined) ?? [];
      return `${candidates.length} mappings tie at the highest priority (${candidates.join(', ')}) and provider "${provider.id}" has ambiguity "${provider.ambiguity}"; name one with --mapping`;
    }
    case 'claim_malformed':
      return detail.claim === undefined
        ? `a match tree of mapping "${String(detail.mapping)}" reads a claim provider "${provider.id}" does not declare`
        : `claim "${String(detail.claim)}" is declared as ${String(detail.expected)} but the token carries ${String(detail.found)}; a malformed claim refuses the whole decision`;
    case 'claim_value_rejected':
      return describeRejection(cause as ClaimRejection, explanation.identity);
    case 'policy_too_large':
      return `the rendered session policy of mapping "${String(detail.mapping)}" is ${formatNumber(Number(detail.length))} / ${formatNumber(STS_LIMITS.sessionPolicyChars)} characters`;
    default:
      return reason;
  }
}

function decisionLines(decision: Decision, request: DecisionRequest, paint: Paint): string[] {
  const field = (label: string, value: string) => `  ${paint.dim(label.padEnd(16))} ${value}`;
  const none = paint.dim('(none)');
  const requested =
    request.durationSeconds === undefined
      ? 'none requested'
      : `requested ${formatNumber(request.durationSeconds)} s`;
  const lines = [
    field('role', decision.roleArn),
    field('session name', decision.roleSessionName),
    field('source identity', decision.sourceIdentity),
    field(
      'duration',
      `${formatNumber(decision.durationSeconds)} s (mapping ${formatNumber(decision.mapping.durationSeconds)} s, ${requested})`,
    ),
    field('external id', decision.externalId ?? none),
    field('policy ARNs', decision.policyArns.length === 0 ? none : decision.policyArns.join(', ')),
  ];
  if (decision.tags.length === 0) lines.push(field('session tags', none));
  decision.tags.forEach((tag, index) => {
    const transitive = decision.transitiveTagKeys.includes(tag.Key)
      ? paint.dim(' (transitive)')
      : '';
    lines.push(
      field(
        index === 0 ? 'session tags' : '',
        `${tag.Key} = ${quote(tag.Value, 300)}${transitive}`,
      ),
    );
  });
  if (decision.policy === undefined) {
    lines.push(field('session policy', none));
  } else {
    const size = `${formatNumber(decision.policy.length)} / ${formatNumber(STS_LIMITS.sessionPolicyChars)} characters`;
    lines.push(field('session policy', `${size} (minified), sha256 ${decision.policySha256}`));
    const pretty = JSON.stringify(JSON.parse(decision.policy), null, 2);
    lines.push(...pretty.split('\n').map((line) => `    ${line}`));
  }
  return lines;
}

/** The explanation as terminal lines. */
export function formatExplanation(explanation: Explanation, paint: Paint): string[] {
  const { provider, mappings, outcome, identity } = explanation;
  const claimNames = Object.keys(identity.claims).map((name) => {
    const value = identity.claims[name];
    return Array.isArray(value) ? `${name}[${value.length}]` : name;
  });
  const matchedCount = mappings.filter((m) => m.matched).length;
  const lines = [
    `${paint.bold('Provider')} ${provider.id} (${provider.type}, ambiguity "${provider.ambiguity}")`,
    `${paint.bold('Claims')}   ${claimNames.length === 0 ? '(none)' : claimNames.join(', ')}`,
    '',
    paint.bold(
      `Mappings: ${plural(mappings.length, 'mapping')}, ${formatNumber(matchedCount)} matched (highest priority first, ties in file order)`,
    ),
  ];
  if (mappings.length === 0)
    lines.push(`  ${paint.dim(`provider "${provider.id}" has no mappings`)}`);
  const chosen = outcome.kind === 'chosen' ? outcome.decision.mapping.id : undefined;
  for (const { mapping, matched, trace } of mappings) {
    const mark = matched ? paint.green('✓') : paint.red('✗');
    const status = matched ? 'matched' : 'no match';
    const isChosen = mapping.id === chosen ? paint.green('  ← chosen') : '';
    lines.push(
      `  ${mark} ${paint.bold(mapping.id)}  priority ${mapping.priority}  ${status}${isChosen}`,
    );
    lines.push(...traceLines(trace, identity.claims, paint, '      '));
  }
  lines.push('');
  if (outcome.kind === 'chosen') {
    const { decision, selection } = outcome;
    lines.push(
      `${paint.green(paint.bold('Chosen:'))} ${paint.bold(decision.mapping.id)}, ${describeSelection(decision, selection, provider)}`,
    );
    lines.push(...decisionLines(decision, explanation.request, paint));
    if (provider.type === 'saml' && provider.mode === 'native') {
      // AssumeRoleWithSAML takes neither value from the TVM: the assertion's attributes set them.
      lines.push(
        paint.yellow(
          '  native mode: the session name and source identity above are not sent; the IdP sets them (RoleSessionName, SourceIdentity attributes)',
        ),
      );
    }
    lines.push('', paint.dim('No STS call was made.'));
  } else if (outcome.kind === 'denied') {
    lines.push(
      `${paint.red(paint.bold('Denied:'))} 403 ${outcome.reason}: ${describeDenial(outcome.reason, outcome.cause, explanation)}`,
    );
  } else {
    lines.push(`${paint.red(paint.bold('Invalid request:'))} 400 ${outcome.detail}`);
  }
  return lines;
}
