/**
 * Session policy checks: exactly one of Action/NotAction and Resource/NotResource, no template
 * choosing an action, the boundary rule on every templated value, and the 2,048-character limit
 * computed with the longest allowed claim values.
 */
import { formatConfigPath, type PathSegment } from '#shared/config/path.ts';
import type { SessionPolicy } from '#shared/config/schema.ts';
import { POLICY_CLAIM_CHARACTER_PATTERN, STS_LIMITS } from '#shared/config/sts.ts';
import {
  hasTemplateSyntax,
  renderAtMaxLength,
  type TemplatePart,
} from '#shared/config/templates.ts';
import { formatNumber, isRecord, type Report } from './messages.ts';
import {
  checkTemplate,
  checkTemplateBoundaries,
  type TemplateScope,
  variableLengths,
} from './templates.ts';

/** Every string value of a policy (never its keys), with its path. */
function policyStrings(
  value: unknown,
  path: readonly PathSegment[],
): { text: string; path: readonly PathSegment[] }[] {
  if (typeof value === 'string') return [{ text: value, path }];
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => policyStrings(item, [...path, index]));
  }
  if (isRecord(value)) {
    return Object.entries(value).flatMap(([key, item]) => policyStrings(item, [...path, key]));
  }
  return [];
}

/** The policy with every string replaced by `render(string)`. */
function mapPolicyStrings(value: unknown, render: (text: string) => string): unknown {
  if (typeof value === 'string') return render(value);
  if (Array.isArray(value)) return value.map((item) => mapPolicyStrings(item, render));
  if (isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, mapPolicyStrings(item, render)]),
    );
  }
  return value;
}

export function checkSessionPolicy(
  policy: SessionPolicy,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
): void {
  const statements = Array.isArray(policy.Statement)
    ? policy.Statement.map((statement, index) => ({
        statement,
        path: [...path, 'Statement', index],
      }))
    : [{ statement: policy.Statement, path: [...path, 'Statement'] }];
  const actionPaths = new Set<string>();
  for (const { statement, path: statementPath } of statements) {
    for (const [positive, negative] of [
      ['Action', 'NotAction'],
      ['Resource', 'NotResource'],
    ] as const) {
      const count =
        Number(statement[positive] !== undefined) + Number(statement[negative] !== undefined);
      if (count !== 1) {
        report(statementPath, `needs exactly one of ${positive} and ${negative} (it has ${count})`);
      }
    }
    for (const field of ['Action', 'NotAction'] as const) {
      for (const action of policyStrings(statement[field], [...statementPath, field])) {
        actionPaths.add(formatConfigPath(action.path));
        if (hasTemplateSyntax(action.text)) {
          report(
            action.path,
            `templates are not allowed in ${field}: a claim must never choose which API calls are allowed`,
          );
        }
      }
    }
  }

  const templated = policyStrings(policy, path).filter(({ text }) => hasTemplateSyntax(text));
  let bounded = true;
  const parts: TemplatePart[] = [];
  for (const { text, path: valuePath } of templated) {
    const checked = actionPaths.has(formatConfigPath(valuePath))
      ? undefined
      : checkTemplate(text, valuePath, scope, report);
    if (checked !== undefined) {
      checkTemplateBoundaries(checked, POLICY_CLAIM_CHARACTER_PATTERN, valuePath, report);
    }
    if (checked === undefined) bounded = false;
    else parts.push(...checked);
  }
  const { limitOf } = scope;
  if (!bounded || (templated.length > 0 && limitOf === undefined)) return;

  const rendered =
    limitOf === undefined
      ? policy
      : mapPolicyStrings(policy, (text) =>
          hasTemplateSyntax(text) ? renderAtMaxLength(text, limitOf) : text,
        );
  const length = JSON.stringify(rendered).length;
  if (length <= STS_LIMITS.sessionPolicyChars) return;
  const limit = formatNumber(STS_LIMITS.sessionPolicyChars);
  report(
    path,
    templated.length === 0 || limitOf === undefined
      ? `session policy is ${formatNumber(length)} characters as minified JSON; the STS limit is ${limit}`
      : `session policy is ${formatNumber(length)} characters when rendered with the longest allowed claim values (${variableLengths(parts, limitOf)}); the STS limit is ${limit}`,
  );
}
