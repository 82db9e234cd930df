/**
 * Templates in a config: where one may appear, which variables it may read (the provider's string
 * claims), and the boundary rule that keeps a rendered claim from widening a tag or policy value.
 */
import { IMPLICIT_STRING_CLAIMS } from '#shared/config/claims.ts';
import type { PathSegment } from '#shared/config/path.ts';
import type { Provider } from '#shared/config/schema.ts';
import {
  hasTemplateSyntax,
  type LimitOf,
  parseTemplate,
  type TemplatePart,
} from '#shared/config/templates.ts';
import { closest, disallowedCharacters, type Finding, isRecord, type Report } from './messages.ts';

const TEMPLATE_FIELDS =
  'sessionTags values, roleSessionName, sourceIdentity and sessionPolicy string values';

function templateAllowedAt(path: readonly PathSegment[]): boolean {
  if (path[0] !== 'mappings' || typeof path[1] !== 'number') return false;
  const field = path[2];
  if (field === 'sessionTags') return path.length === 4;
  if (field === 'roleSessionName' || field === 'sourceIdentity') return path.length === 3;
  return field === 'sessionPolicy';
}

/** Free text that is never rendered, so `{{` there is not a template. */
function isFreeText(path: readonly PathSegment[]): boolean {
  return (
    (path[0] === 'mappings' && path[2] === 'description' && path.length === 3) ||
    (path[0] === 'providers' && path[2] === 'metadataXml' && path.length === 3)
  );
}

/** Template syntax anywhere else, keys included, is a mistake: nothing renders it there. */
export function misplacedTemplates(input: unknown): Finding[] {
  const findings: Finding[] = [];
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: input, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PathSegment[] };
    if (typeof value === 'string') {
      if (hasTemplateSyntax(value) && !templateAllowedAt(path) && !isFreeText(path)) {
        findings.push({
          path,
          message: `templates are not allowed here; they are only allowed in ${TEMPLATE_FIELDS}`,
        });
      }
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        stack.push({ value: item, path: [...path, index] });
      }
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        if (hasTemplateSyntax(key)) {
          findings.push({
            path: [...path, key],
            message: `templates are not allowed in keys (tag keys, policy keys); they are only allowed in ${TEMPLATE_FIELDS}`,
          });
        }
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return findings.reverse();
}

/** What a mapping's templates may read: undefined when its provider is unknown. */
export interface TemplateScope {
  provider: Provider | undefined;
  limitOf: LimitOf | undefined;
}

/** The claims a provider's templates may read, without the `claims.` prefix: its string claims. */
export function templateClaimNames(provider: Provider): string[] {
  const declared = Object.entries(provider.claims).flatMap(([name, declaration]) =>
    declaration.type === 'string' ? [name] : [],
  );
  return [...new Set([...IMPLICIT_STRING_CLAIMS[provider.type], ...declared])];
}

/**
 * Checks one templated value: syntax, known variables and (optionally) the characters of its
 * static text. Returns the parts when the value is sound and its length can be bounded.
 */
export function checkTemplate(
  value: string,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
  staticText?: { pattern: RegExp; what: string },
): TemplatePart[] | undefined {
  const parsed = parseTemplate(value);
  if (!parsed.ok) {
    report(path, `invalid template: ${parsed.message}`);
    return undefined;
  }
  if (staticText !== undefined) {
    const text = parsed.parts.flatMap((part) => (part.kind === 'text' ? [part.text] : [])).join('');
    if (!staticText.pattern.test(text)) {
      report(
        path,
        `static text contains ${disallowedCharacters(text, staticText.pattern)}, which ${staticText.what} does not allow`,
      );
    }
  }
  const { provider } = scope;
  if (provider === undefined) return undefined;
  const claims = templateClaimNames(provider);
  let known = true;
  for (const part of parsed.parts) {
    if (part.kind !== 'variable' || part.name === 'provider.id' || part.name === 'mapping.id') {
      continue;
    }
    const claim = part.name.slice('claims.'.length);
    if (claims.includes(claim)) continue;
    known = false;
    const offered = ['provider.id', 'mapping.id', ...claims.map((name) => `claims.${name}`)];
    const suggestion = closest(part.name, offered);
    const declaredAs = Object.hasOwn(provider.claims, claim)
      ? provider.claims[claim]?.type
      : undefined;
    if (declaredAs === 'list') {
      report(
        path,
        `template variable "${part.name}" reads claim "${claim}", which is declared as a list; only string claims can be rendered (match on a list with "contains", or render a string claim)`,
      );
      continue;
    }
    const hint =
      provider.type === 'oidc'
        ? 'declare it under providers[].claims as { type: string }'
        : 'map a SAML attribute to it in attributeMap and declare it under providers[].claims as { type: string }';
    report(
      path,
      `unknown template variable "${part.name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''} — provider "${provider.id}" offers: ${offered.join(', ')}; to use another claim, ${hint}`,
    );
  }
  return known ? parsed.parts : undefined;
}

/** `(claims.tenant: 64, claims.email: 128)`: which variables made a rendered value long. */
export function variableLengths(parts: readonly TemplatePart[], limitOf: LimitOf): string {
  const names = [
    ...new Set(parts.flatMap((part) => (part.kind === 'variable' ? [part.name] : []))),
  ];
  return names.map((name) => `${name}: ${limitOf(name)}`).join(', ');
}

/** Characters that widen a match in an IAM value: wildcards, and `$` (a policy variable). */
const WIDENING = new Set(['*', '?', '$']);

/**
 * A claim rendered into a policy value or a tag cannot widen it past a delimiter (DESIGN.md §7,
 * invariant 6): the character after a claim template must end the value or be one the claim's
 * alphabet excludes and that is no wildcard, and no wildcard may reach the claim from the left.
 * Otherwise `data/{{claims.tenant}}*` lets tenant "acme" read "acme-corp/…", and
 * `{{claims.a}}{{claims.b}}` renders "ab"+"c" and "a"+"bc" alike.
 */
export function checkTemplateBoundaries(
  parts: readonly TemplatePart[],
  claimPattern: RegExp,
  path: readonly PathSegment[],
  report: Report,
): void {
  const inAlphabet = (character: string) => claimPattern.test(character);
  // One character per position: a claim is \u0000; provider.id and mapping.id are fixed id text.
  const shape: string[] = parts.flatMap((part) =>
    part.kind === 'text'
      ? Array.from(part.text)
      : part.name.startsWith('claims.')
        ? ['\u0000']
        : ['a'],
  );
  const variables = parts.flatMap((part) =>
    part.kind === 'variable' && part.name.startsWith('claims.') ? [part.name] : [],
  );
  let seen = 0;
  shape.forEach((character, index) => {
    if (character !== '\u0000') return;
    const variable = `{{${variables[seen] ?? ''}}}`;
    seen += 1;
    const next = shape[index + 1];
    if (next !== undefined && (next === '\u0000' || inAlphabet(next) || WIDENING.has(next))) {
      const what = next === '\u0000' ? 'another claim template' : JSON.stringify(next);
      report(
        path,
        `${variable} is followed by ${what}, so one claim value could reach another's resources (tenant "acme" would match "acme-corp…"); end the value after the template, or follow it with "/"`,
      );
    }
    let before = index - 1;
    while (before >= 0 && shape[before] !== '\u0000' && inAlphabet(shape[before] as string))
      before -= 1;
    const previous = shape[before];
    if (previous !== undefined && WIDENING.has(previous)) {
      report(
        path,
        `${variable} comes after ${JSON.stringify(previous)} with no delimiter in between, so one claim value could reach another's resources ("*acme" matches "notacme"); put a "/" between the wildcard and the template`,
      );
    }
  });
}
