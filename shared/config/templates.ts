/**
 * `{{claims.<name>}}`, `{{provider.id}}` and `{{mapping.id}}` templates. Validation and the
 * runtime renderer share this module, so the length bound computed when a config is applied is
 * the bound the renderer enforces: a claim longer than its declared maximum is refused, never cut.
 * Lengths are UTF-16 code units (`string.length`), which never undercount what STS counts.
 */
import { CLAIM_NAME_PATTERN } from '#shared/config/limits.ts';
import type { Provider } from '#shared/config/schema.ts';
import { ForbiddenError } from '#shared/errors.ts';

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'variable'; name: string };

export type TemplateParseResult =
  | { ok: true; parts: TemplatePart[] }
  | { ok: false; message: string };

/** Maximum rendered length of one variable, e.g. `claims.tenant` → 64. */
export type LimitOf = (variable: string) => number;

/** What a template can read at request time. */
export interface TemplateContext {
  claims: Readonly<Record<string, unknown>>;
  provider: { id: string };
  mapping: { id: string };
}

export class TemplateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const VARIABLE_PATTERN = new RegExp(
  `^(?:claims\\.${CLAIM_NAME_PATTERN.source.slice(1, -1)}|provider\\.id|mapping\\.id)$`,
);

/** True when the string contains template syntax (or a stray half of it). */
export function hasTemplateSyntax(value: string): boolean {
  return value.includes('{{') || value.includes('}}');
}

export function parseTemplate(template: string): TemplateParseResult {
  const parts: TemplatePart[] = [];
  let position = 0;
  while (position < template.length) {
    const open = template.indexOf('{{', position);
    const close = template.indexOf('}}', position);
    if (close !== -1 && (open === -1 || close < open)) {
      return { ok: false, message: `"}}" at character ${close + 1} has no matching "{{"` };
    }
    if (open === -1) {
      parts.push({ kind: 'text', text: template.slice(position) });
      break;
    }
    if (open > position) parts.push({ kind: 'text', text: template.slice(position, open) });
    const end = template.indexOf('}}', open + 2);
    if (end === -1) {
      return { ok: false, message: `"{{" at character ${open + 1} is never closed with "}}"` };
    }
    const expression = template.slice(open + 2, end).trim();
    if (!VARIABLE_PATTERN.test(expression)) {
      return {
        ok: false,
        message: `unsupported template expression "${template.slice(open, end + 2)}"; use {{claims.<name>}}, {{provider.id}} or {{mapping.id}}`,
      };
    }
    parts.push({ kind: 'variable', name: expression });
    position = end + 2;
  }
  return { ok: true, parts };
}

function partsOf(template: string): TemplatePart[] {
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new TemplateSyntaxError(parsed.message);
  return parsed.parts;
}

/** The variables a template reads, in order of appearance, without repeats. */
export function templateVariables(template: string): string[] {
  const names = partsOf(template).flatMap((part) => (part.kind === 'variable' ? [part.name] : []));
  return [...new Set(names)];
}

/** The longest string `renderTemplate` can return for this template under these limits. */
export function maxRenderedLength(template: string, limitOf: LimitOf): number {
  return partsOf(template).reduce(
    (total, part) => total + (part.kind === 'text' ? part.text.length : limitOf(part.name)),
    0,
  );
}

/** Replace every variable with a run of `filler` of its maximum length (for size checks). */
export function renderAtMaxLength(template: string, limitOf: LimitOf, filler = 'x'): string {
  return partsOf(template)
    .map((part) => (part.kind === 'text' ? part.text : filler.repeat(limitOf(part.name))))
    .join('');
}

function lookup(variable: string, context: TemplateContext): unknown {
  if (variable === 'provider.id') return context.provider.id;
  if (variable === 'mapping.id') return context.mapping.id;
  const claim = variable.slice('claims.'.length);
  return Object.hasOwn(context.claims, claim) ? context.claims[claim] : undefined;
}

/**
 * Render a template. Fails closed with a ForbiddenError (403, reason audited) when a variable is
 * missing, is not a string, or is longer than its limit: truncating would break the size bound.
 */
export function renderTemplate(
  template: string,
  context: TemplateContext,
  limitOf: LimitOf,
): string {
  return partsOf(template)
    .map((part) => {
      if (part.kind === 'text') return part.text;
      const value = lookup(part.name, context);
      if (value === undefined || value === null) {
        throw new ForbiddenError('claim_value_rejected', {
          cause: { variable: part.name, problem: 'missing' },
        });
      }
      if (typeof value !== 'string') {
        throw new ForbiddenError('claim_value_rejected', {
          cause: { variable: part.name, problem: 'not_string' },
        });
      }
      const limit = limitOf(part.name);
      if (value.length > limit) {
        throw new ForbiddenError('claim_value_rejected', {
          cause: { variable: part.name, problem: 'too_long', length: value.length, limit },
        });
      }
      return value;
    })
    .join('');
}

/**
 * The limits of one mapping's templates: a claim's declared `maxLength`, else the provider's
 * `defaultClaimMaxLength`; `provider.id` and `mapping.id` are their own (fixed) lengths.
 */
export function templateLimits(provider: Provider, mappingId: string): LimitOf {
  return (variable) => {
    if (variable === 'provider.id') return provider.id.length;
    if (variable === 'mapping.id') return mappingId.length;
    const claim = variable.slice('claims.'.length);
    const declared = Object.hasOwn(provider.claims, claim) ? provider.claims[claim] : undefined;
    return declared?.maxLength ?? provider.defaultClaimMaxLength;
  };
}
