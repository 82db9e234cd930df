/**
 * Renders a chosen mapping into AssumeRole parameters. Every claim value that reaches a tag, the
 * session policy, the session name or the source identity is checked against its field's pattern
 * here, and a value that fails refuses the request (403 `claim_value_rejected`): nothing is
 * dropped or escaped silently, so a claim can never widen a policy or break its JSON.
 */
import { createHash } from 'node:crypto';
import type { Identity } from '#shared/auth/identity.ts';
import { ISSUER_TAG_CHARS, issuerTag } from '#shared/auth/principal.ts';
import { formatConfigPath, type PathSegment } from '#shared/config/path.ts';
import type { Mapping, Provider, SessionPolicy } from '#shared/config/schema.ts';
import {
  POLICY_CLAIM_VALUE_PATTERN,
  SESSION_NAME_CHARACTERS_PATTERN,
  SESSION_NAME_PATTERN,
  STS_LIMITS,
  TAG_CHARACTERS_PATTERN,
  TAG_CLAIM_VALUE_PATTERN,
} from '#shared/config/sts.ts';
import {
  type LimitOf,
  parseTemplate,
  renderTemplate,
  type TemplateContext,
  templateLimits,
} from '#shared/config/templates.ts';
import { ForbiddenError } from '#shared/errors.ts';

/** Hex characters of SHA-256 appended to every RoleSessionName (64 bits: collisions are negligible). */
export const SESSION_NAME_HASH_CHARS = 16;

/** The prefix of a SourceIdentity that did not fit the STS pattern and was hashed instead. */
export const HASHED_SOURCE_IDENTITY_PREFIX = 'sha256-';

/** The readable default SourceIdentity's tail: `@` and the issuer tag (see defaultSourceIdentity). */
const DEFAULT_SOURCE_IDENTITY_TAIL = new RegExp(`@[0-9a-f]{${ISSUER_TAG_CHARS}}$`);

/** Where a rendered value goes, and the rule each claim inside it must pass. */
interface Sink {
  /** Config path of the templated field, e.g. `sessionTags.tenant`; never the value. */
  field: string;
  /** Undefined: any string the template renderer accepts (the result is hashed or sanitised). */
  claimPattern: RegExp | undefined;
}

export type RejectionProblem =
  | 'missing'
  | 'not_string'
  | 'too_long'
  | 'disallowed_characters'
  | 'rendered_too_long';

/** The `cause` of a `claim_value_rejected` ForbiddenError. It names the variable, never the value. */
export interface ClaimRejection {
  mapping: string;
  field: string;
  variable: string | undefined;
  problem: RejectionProblem;
  length?: number;
  limit?: number;
}

export function claimRejected(rejection: ClaimRejection): ForbiddenError {
  return new ForbiddenError('claim_value_rejected', { cause: rejection });
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface RenderScope {
  context: TemplateContext;
  limitOf: LimitOf;
}

export function renderScope(identity: Identity, provider: Provider, mapping: Mapping): RenderScope {
  return {
    context: {
      claims: identity.claims,
      provider: { id: provider.id },
      mapping: { id: mapping.id },
    },
    limitOf: templateLimits(provider, mapping.id),
  };
}

/**
 * Renders one template, checking every variable's value against the sink's rule. The shared
 * renderer refuses missing, non-string and over-long claims; those become claim_value_rejected too.
 */
function renderChecked(template: string, sink: Sink, scope: RenderScope, mapping: string): string {
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new Error(`${sink.field}: ${parsed.message}`);
  return parsed.parts
    .map((part) => {
      if (part.kind === 'text') return part.text;
      let value: string;
      try {
        value = renderTemplate(`{{${part.name}}}`, scope.context, scope.limitOf);
      } catch (error) {
        if (!(error instanceof ForbiddenError)) throw error;
        const cause = error.cause as {
          problem: 'missing' | 'not_string' | 'too_long';
          length?: number;
          limit?: number;
        };
        // Length and limit (never the value) let `explain` say what to raise or shorten.
        throw claimRejected({
          mapping,
          field: sink.field,
          variable: part.name,
          problem: cause.problem,
          ...(cause.length === undefined ? {} : { length: cause.length }),
          ...(cause.limit === undefined ? {} : { limit: cause.limit }),
        });
      }
      if (sink.claimPattern !== undefined && !sink.claimPattern.test(value)) {
        throw claimRejected({
          mapping,
          field: sink.field,
          variable: part.name,
          problem: 'disallowed_characters',
        });
      }
      return value;
    })
    .join('');
}

export function renderSessionTags(
  mapping: Mapping,
  scope: RenderScope,
): { Key: string; Value: string }[] {
  return Object.entries(mapping.sessionTags).map(([key, template]) => {
    const field = formatConfigPath(['sessionTags', key]);
    const value = renderChecked(
      template,
      { field, claimPattern: TAG_CLAIM_VALUE_PATTERN },
      scope,
      mapping.id,
    );
    // Claims passed their own rule; the whole value (with its static text) must fit STS's.
    if (!TAG_CHARACTERS_PATTERN.test(value)) {
      throw claimRejected({
        mapping: mapping.id,
        field,
        variable: undefined,
        problem: 'disallowed_characters',
      });
    }
    if (value.length > STS_LIMITS.tagValueChars) {
      throw claimRejected({
        mapping: mapping.id,
        field,
        variable: undefined,
        problem: 'rendered_too_long',
        length: value.length,
        limit: STS_LIMITS.tagValueChars,
      });
    }
    return { Key: key, Value: value };
  });
}

function renderPolicyValue(
  value: unknown,
  path: readonly PathSegment[],
  scope: RenderScope,
  mapping: string,
): unknown {
  if (typeof value === 'string') {
    const sink = { field: formatConfigPath(path), claimPattern: POLICY_CLAIM_VALUE_PATTERN };
    return renderChecked(value, sink, scope, mapping);
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => renderPolicyValue(item, [...path, index], scope, mapping));
  }
  if (typeof value === 'object' && value !== null) {
    // Keys are never rendered: templates are refused in keys by config validation.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        renderPolicyValue(item, [...path, key], scope, mapping),
      ]),
    );
  }
  return value;
}

/** The session policy as minified JSON, re-checked against the STS limit after rendering. */
export function renderSessionPolicy(
  policy: SessionPolicy,
  mapping: Mapping,
  scope: RenderScope,
): string {
  const rendered = JSON.stringify(renderPolicyValue(policy, ['sessionPolicy'], scope, mapping.id));
  // AssumeRole `Policy`: the plaintext can't exceed 2,048 characters.
  if (rendered.length > STS_LIMITS.sessionPolicyChars) {
    throw new ForbiddenError('policy_too_large', {
      cause: {
        mapping: mapping.id,
        length: rendered.length,
        limit: STS_LIMITS.sessionPolicyChars,
      },
    });
  }
  return rendered;
}

/** The verified subject for a default name; empty never comes from a verifier, and refuses. */
function subjectOf(identity: Identity, mapping: Mapping, field: string): string {
  if (identity.subject === '') {
    throw claimRejected({ mapping: mapping.id, field, variable: undefined, problem: 'missing' });
  }
  return identity.subject;
}

/**
 * The SourceIdentity of a mapping without a `sourceIdentity` template: `<subject>@<issuer tag>`
 * (8 hex of SHA-256 of the issuer) when it fits STS's `[\w+=,.@-]{2,64}`, else `sha256-` + 40 hex
 * of SHA-256 of `[issuer, subject]` as JSON. Readable in CloudTrail, one value per principal
 * whichever provider entry matched, and different for the same subject from two issuers (the
 * fixed-length tag read from the right is unambiguous; validation keeps tags unique per config).
 * It reads the verified subject itself, so no claim length limit applies (OIDC allows 255).
 */
export function defaultSourceIdentity(issuer: string, subject: string): string {
  const readable = `${subject}@${issuerTag(issuer)}`;
  if (SESSION_NAME_PATTERN.test(readable)) return readable;
  return `${HASHED_SOURCE_IDENTITY_PREFIX}${sha256Hex(JSON.stringify([issuer, subject])).slice(0, 40)}`;
}

/**
 * SourceIdentity: the default above, or the mapping's template, kept as rendered when it fits
 * STS's pattern, else `sha256-` + 40 hex of SHA-256 of `[value]` as JSON (a one-element array, so
 * it can never equal the default's two-element hash input). A rendered value that looks like
 * either generated form (`sha256-…`, or ending in `@` + 8 hex) is hashed too, so no claim value
 * can pose as another principal's SourceIdentity.
 */
export function renderSourceIdentity(
  mapping: Mapping,
  identity: Identity,
  scope: RenderScope,
): string {
  if (mapping.sourceIdentity === undefined) {
    return defaultSourceIdentity(identity.issuer, subjectOf(identity, mapping, 'sourceIdentity'));
  }
  const value = renderChecked(
    mapping.sourceIdentity,
    { field: 'sourceIdentity', claimPattern: undefined },
    scope,
    mapping.id,
  );
  if (
    SESSION_NAME_PATTERN.test(value) &&
    !value.startsWith(HASHED_SOURCE_IDENTITY_PREFIX) &&
    !DEFAULT_SOURCE_IDENTITY_TAIL.test(value)
  ) {
    return value;
  }
  return `${HASHED_SOURCE_IDENTITY_PREFIX}${sha256Hex(JSON.stringify([value])).slice(0, 40)}`;
}

/**
 * RoleSessionName (default: the verified subject itself, whatever its length): every character
 * outside `[\w+=,.@-]` becomes `-`, the result is cut to leave room, and a hash of (issuer,
 * subject, unsanitised value) is always appended: two principals never share a session name, even
 * when their values sanitise to the same text or the template is static, and one principal gets
 * the same name through every provider entry of its issuer. Always 17–64 characters.
 */
export function renderRoleSessionName(
  mapping: Mapping,
  identity: Identity,
  scope: RenderScope,
): string {
  // Only an explicit template is held to the claim length limits; the default is cut and hashed.
  const value =
    mapping.roleSessionName === undefined
      ? subjectOf(identity, mapping, 'roleSessionName')
      : renderChecked(
          mapping.roleSessionName,
          { field: 'roleSessionName', claimPattern: undefined },
          scope,
          mapping.id,
        );
  const sanitised = Array.from(value, (character) =>
    SESSION_NAME_CHARACTERS_PATTERN.test(character) ? character : '-',
  ).join('');
  const hash = sha256Hex(JSON.stringify([identity.issuer, identity.subject, value])).slice(
    0,
    SESSION_NAME_HASH_CHARS,
  );
  // RoleSessionName: at most 64 characters, including the `-` and the hash.
  const prefix = sanitised.slice(0, STS_LIMITS.sessionNameMaxChars - SESSION_NAME_HASH_CHARS - 1);
  return prefix === '' ? hash : `${prefix}-${hash}`;
}
