/**
 * Mapping checks against STS and IAM: role and policy ARNs, session tags, session names, the
 * ExternalId, durations, native-mode SAML, and the mapping's policy, templates and match tree.
 */
import type { PathSegment } from '#shared/config/path.ts';
import type { Mapping, Provider } from '#shared/config/schema.ts';
import {
  EXTERNAL_ID_CHARACTERS_PATTERN,
  POLICY_ARN_PATTERN,
  RESERVED_TAG_KEY_PATTERN,
  ROLE_ARN_PATTERN,
  SESSION_NAME_CHARACTERS_PATTERN,
  STS_LIMITS,
  TAG_CHARACTERS_PATTERN,
  TAG_CLAIM_CHARACTER_PATTERN,
} from '#shared/config/sts.ts';
import { hasTemplateSyntax, maxRenderedLength, templateLimits } from '#shared/config/templates.ts';
import { checkMatchTree } from './match.ts';
import {
  closest,
  disallowedCharacters,
  formatNumber,
  plural,
  quoteList,
  type Report,
} from './messages.ts';
import { checkSessionPolicy } from './policy.ts';
import {
  checkTemplate,
  checkTemplateBoundaries,
  type TemplateScope,
  variableLengths,
} from './templates.ts';

function checkRoleArn(value: string, path: readonly PathSegment[], report: Report): void {
  if (hasTemplateSyntax(value) || ROLE_ARN_PATTERN.test(value)) return;
  report(
    path,
    `${JSON.stringify(value)} is not an IAM role ARN; expected arn:aws:iam::<12-digit account id>:role/<optional/path/>name, with a name of 1–64 characters from letters, digits and +=,.@_-`,
  );
}

function checkPolicyArns(
  arns: readonly string[],
  path: readonly PathSegment[],
  report: Report,
): void {
  if (arns.length > STS_LIMITS.policyArns) {
    report(
      path,
      `lists ${formatNumber(arns.length)} managed policies; STS accepts at most ${STS_LIMITS.policyArns} policyArns per session`,
    );
  }
  const seen = new Set<string>();
  arns.forEach((arn, index) => {
    if (hasTemplateSyntax(arn)) return;
    if (!POLICY_ARN_PATTERN.test(arn)) {
      report(
        [...path, index],
        `${JSON.stringify(arn)} is not an IAM policy ARN; expected arn:aws:iam::<12-digit account id or "aws">:policy/<optional/path/>name`,
      );
    }
    if (seen.has(arn)) report([...path, index], `duplicates policy ARN ${JSON.stringify(arn)}`);
    seen.add(arn);
  });
}

function checkSessionTags(
  mapping: Mapping,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
): void {
  const tagsPath = [...path, 'sessionTags'];
  const entries = Object.entries(mapping.sessionTags);
  if (entries.length > STS_LIMITS.sessionTags) {
    report(
      tagsPath,
      `has ${entries.length} session tags; STS accepts at most ${STS_LIMITS.sessionTags}`,
    );
  }
  const keysByLowerCase = new Map<string, string>();
  for (const [key, value] of entries) {
    const tagPath = [...tagsPath, key];
    if (!hasTemplateSyntax(key)) {
      if (key.length < 1 || key.length > STS_LIMITS.tagKeyChars) {
        report(
          tagPath,
          `tag key is ${plural(key.length, 'character')}; STS allows 1–${STS_LIMITS.tagKeyChars}`,
        );
      }
      if (!TAG_CHARACTERS_PATTERN.test(key)) {
        report(
          tagPath,
          `tag key contains ${disallowedCharacters(key, TAG_CHARACTERS_PATTERN)}; STS allows only letters, digits, spaces and _ . : / = + - @`,
        );
      }
      if (RESERVED_TAG_KEY_PATTERN.test(key)) {
        report(tagPath, `tag key "${key}" starts with "aws:", which AWS reserves`);
      }
      const other = keysByLowerCase.get(key.toLowerCase());
      if (other !== undefined) {
        report(
          tagPath,
          `tag key "${key}" duplicates "${other}": STS tag keys are case-insensitive`,
        );
      } else keysByLowerCase.set(key.toLowerCase(), key);
    }
    if (hasTemplateSyntax(value)) {
      const parts = checkTemplate(value, tagPath, scope, report, {
        pattern: TAG_CHARACTERS_PATTERN,
        what: 'an STS tag value',
      });
      if (parts !== undefined) {
        checkTemplateBoundaries(parts, TAG_CLAIM_CHARACTER_PATTERN, tagPath, report);
      }
      if (parts !== undefined && scope.limitOf !== undefined) {
        const length = maxRenderedLength(value, scope.limitOf);
        if (length > STS_LIMITS.tagValueChars) {
          report(
            tagPath,
            `tag value is ${formatNumber(length)} characters when rendered with the longest allowed claim values (${variableLengths(parts, scope.limitOf)}); the STS limit is ${STS_LIMITS.tagValueChars}`,
          );
        }
      }
    } else {
      if (value.length > STS_LIMITS.tagValueChars) {
        report(
          tagPath,
          `tag value is ${formatNumber(value.length)} characters; the STS limit is ${STS_LIMITS.tagValueChars}`,
        );
      }
      if (!TAG_CHARACTERS_PATTERN.test(value)) {
        report(
          tagPath,
          `tag value contains ${disallowedCharacters(value, TAG_CHARACTERS_PATTERN)}; STS allows only letters, digits, spaces and _ . : / = + - @`,
        );
      }
    }
  }
  const transitivePath = [...path, 'transitiveTagKeys'];
  const seen = new Set<string>();
  mapping.transitiveTagKeys.forEach((key, index) => {
    if (!Object.hasOwn(mapping.sessionTags, key)) {
      const keys = Object.keys(mapping.sessionTags);
      report(
        [...transitivePath, index],
        `"${key}" is not a sessionTags key; transitive tag keys must name session tags (${keys.length > 0 ? `keys: ${quoteList(keys)}` : 'this mapping has none'})`,
      );
    }
    if (seen.has(key)) report([...transitivePath, index], `lists "${key}" twice`);
    seen.add(key);
  });
}

function checkSessionName(
  value: string | undefined,
  path: readonly PathSegment[],
  field: 'roleSessionName' | 'sourceIdentity',
  scope: TemplateScope,
  report: Report,
): void {
  if (value === undefined) return;
  if (hasTemplateSyntax(value)) {
    // Rendered values longer than 64 characters are shortened at runtime, so only the static
    // text and the variables are checked here.
    checkTemplate(value, path, scope, report, {
      pattern: SESSION_NAME_CHARACTERS_PATTERN,
      what: field,
    });
    return;
  }
  const { sessionNameMinChars: min, sessionNameMaxChars: max } = STS_LIMITS;
  if (value.length < min || value.length > max) {
    report(path, `is ${plural(value.length, 'character')}; STS requires ${min}–${max}`);
  }
  if (!SESSION_NAME_CHARACTERS_PATTERN.test(value)) {
    report(
      path,
      `contains ${disallowedCharacters(value, SESSION_NAME_CHARACTERS_PATTERN)}; ${field} allows only letters, digits and _+=,.@-`,
    );
  }
}

function checkExternalId(
  value: string | undefined,
  path: readonly PathSegment[],
  report: Report,
): void {
  if (value === undefined || hasTemplateSyntax(value)) return;
  const { externalIdMinChars: min, externalIdMaxChars: max } = STS_LIMITS;
  if (value.length < min || value.length > max) {
    report(
      path,
      `is ${plural(value.length, 'character')}; STS requires ${min}–${formatNumber(max)}`,
    );
  }
  if (!EXTERNAL_ID_CHARACTERS_PATTERN.test(value)) {
    report(
      path,
      `contains ${disallowedCharacters(value, EXTERNAL_ID_CHARACTERS_PATTERN)}; ExternalId allows only letters, digits and _+=,.@:/-`,
    );
  }
}
function checkNativeSamlMapping(
  mapping: Mapping,
  path: readonly PathSegment[],
  report: Report,
): void {
  // AssumeRoleWithSAML takes only Policy, PolicyArns and DurationSeconds from the caller; tags,
  // SourceIdentity and the session name come from the assertion's attributes.
  const unsupported: [string, boolean][] = [
    ['sessionTags', Object.keys(mapping.sessionTags).length > 0],
    ['transitiveTagKeys', mapping.transitiveTagKeys.length > 0],
    ['sourceIdentity', mapping.sourceIdentity !== undefined],
    ['roleSessionName', mapping.roleSessionName !== undefined],
    ['externalId', mapping.externalId !== undefined],
  ];
  for (const [field, present] of unsupported) {
    if (present) {
      report(
        [...path, field],
        `is not supported for a provider in "native" mode: AssumeRoleWithSAML does not accept it (the assertion's attributes set it); use mode "chained" or remove the field`,
      );
    }
  }
}

export function checkMapping(
  mapping: Mapping,
  path: readonly PathSegment[],
  providers: ReadonlyMap<string, Provider>,
  providerIds: ReadonlySet<string>,
  report: Report,
): void {
  if (!providerIds.has(mapping.provider)) {
    const known = [...providerIds];
    const suggestion = closest(mapping.provider, known);
    report(
      [...path, 'provider'],
      `unknown provider "${mapping.provider}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; defined providers: ${known.length > 0 ? quoteList(known) : 'none'}`,
    );
  }
  const provider = providers.get(mapping.provider);
  const scope: TemplateScope = {
    provider,
    limitOf: provider === undefined ? undefined : templateLimits(provider, mapping.id),
  };
  checkRoleArn(mapping.roleArn, [...path, 'roleArn'], report);
  checkPolicyArns(mapping.policyArns, [...path, 'policyArns'], report);
  checkSessionTags(mapping, path, scope, report);
  if (mapping.sessionPolicy !== undefined) {
    checkSessionPolicy(mapping.sessionPolicy, [...path, 'sessionPolicy'], scope, report);
  }
  checkSessionName(
    mapping.sourceIdentity,
    [...path, 'sourceIdentity'],
    'sourceIdentity',
    scope,
    report,
  );
  checkSessionName(
    mapping.roleSessionName,
    [...path, 'roleSessionName'],
    'roleSessionName',
    scope,
    report,
  );
  checkExternalId(mapping.externalId, [...path, 'externalId'], report);
  if (mapping.reuse !== undefined && mapping.reuse.minRemainingSeconds >= mapping.durationSeconds) {
    report(
      [...path, 'reuse', 'minRemainingSeconds'],
      `must be less than the mapping's durationSeconds (${mapping.durationSeconds}); otherwise nothing could ever be reused`,
    );
  }
  checkMatchTree(mapping.match, [...path, 'match'], provider, report);
  const native = provider?.type === 'saml' && provider.mode === 'native';
  if (native) checkNativeSamlMapping(mapping, path, report);
  if (!native && mapping.durationSeconds > STS_LIMITS.maxDurationSeconds) {
    report(
      [...path, 'durationSeconds'],
      'must be at most 3,600 seconds: the TVM calls AssumeRole with role credentials (role chaining), which STS caps at 1 hour (only a SAML provider in native mode allows up to 43,200)',
    );
  }
}
