/**
 * Typed claims (DESIGN.md §2): a provider declares each claim a mapping reads as `string` or
 * `list`. What the IdP sent is read against that declaration once, here, so that every operator
 * means one thing per type and a wrong-typed value can never pass for a missing one.
 */
import type { Claims } from '#shared/auth/identity.ts';
import type { Condition, Provider } from '#shared/config/schema.ts';

export type ClaimType = 'string' | 'list';

/** The operators of each claim type; config validation refuses any other pairing. */
export const OPERATORS_BY_TYPE = {
  string: ['equals', 'notEquals', 'in', 'startsWith', 'includesSubstring', 'glob', 'exists'],
  list: ['contains', 'containsAny', 'containsAll', 'exists'],
} as const satisfies Record<ClaimType, readonly Condition['op'][]>;

/** A declared claim as read from the token or assertion; `undefined` means missing. */
export type TypedClaim =
  | { state: 'string'; value: string }
  | { state: 'list'; value: readonly string[] }
  /** Present, but not of its declared type: refuses the whole decision, never reads as missing. */
  | { state: 'malformed'; expected: ClaimType | 'declared'; found: string };

/** The declared type of a claim name, or undefined when the provider does not declare it. */
export type ClaimTypes = (name: string) => ClaimType | undefined;

/**
 * Claims every identity carries without a declaration: the subject (`sub`; SAML also `nameId`),
 * which authentication itself guarantees to be a non-empty string.
 */
export const IMPLICIT_STRING_CLAIMS: Readonly<Record<Provider['type'], readonly string[]>> = {
  oidc: ['sub'],
  saml: ['sub', 'nameId'],
  // A guest's subject is its IdentityId.
  guest: ['sub'],
};

export function claimTypes(provider: Provider): ClaimTypes {
  return (name) => {
    if (Object.hasOwn(provider.claims, name)) return provider.claims[name]?.type;
    return IMPLICIT_STRING_CLAIMS[provider.type].includes(name) ? 'string' : undefined;
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}

/**
 * Reads one claim against its declared type:
 * - `string`: a string; a boolean or finite number counts as its JSON text (`true`, `42`), as
 *   IdPs differ on `email_verified`. A list, an object or null is malformed.
 * - `list`: a list of strings; a single string is a one-element list (the common IdP shape for a
 *   user in one group). A list with any non-string element, an object or null is malformed.
 * - undeclared: malformed, present or not, so a rule validation should have refused fails closed.
 * Own properties only: `__proto__` or `constructor` are missing unless the token carries them.
 */
export function readClaim(
  claims: Claims,
  name: string,
  type: ClaimType | undefined,
): TypedClaim | undefined {
  // An undeclared claim (validation refuses rules on one) fails closed even when it is absent.
  if (type === undefined) {
    const found = Object.hasOwn(claims, name) ? describe(claims[name]) : 'an undeclared claim';
    return { state: 'malformed', expected: 'declared', found };
  }
  if (!Object.hasOwn(claims, name)) return undefined;
  const value: unknown = claims[name];
  if (type === 'string') {
    if (typeof value === 'string') return { state: 'string', value };
    if (typeof value === 'boolean') return { state: 'string', value: String(value) };
    if (typeof value === 'number' && Number.isFinite(value)) {
      return { state: 'string', value: String(value) };
    }
    return { state: 'malformed', expected: type, found: describe(value) };
  }
  if (typeof value === 'string') return { state: 'list', value: [value] };
  if (Array.isArray(value)) {
    const bad = value.find((item) => typeof item !== 'string');
    if (bad === undefined && value.every((item) => typeof item === 'string')) {
      return { state: 'list', value: value as readonly string[] };
    }
    return { state: 'malformed', expected: type, found: `list with a ${describe(bad)} element` };
  }
  return { state: 'malformed', expected: type, found: describe(value) };
}

/** The first declared claim of the provider whose value is malformed, if any. */
export function firstMalformedClaim(
  provider: Provider,
  claims: Claims,
): { claim: string; expected: string; found: string } | undefined {
  const typeOf = claimTypes(provider);
  for (const name of Object.keys(provider.claims)) {
    const read = readClaim(claims, name, typeOf(name));
    if (read?.state === 'malformed')
      return { claim: name, expected: read.expected, found: read.found };
  }
  return undefined;
}
