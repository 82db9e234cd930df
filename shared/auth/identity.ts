/**
 * Who the caller is, as proven by a verified token or assertion. OIDC and SAML both produce
 * this, and everything after authentication (decide, vend, audit) reads only this.
 */

/**
 * A claim as the IdP sent it (any JSON value). It is read against the provider's declared type
 * only when a mapping uses it (shared/config/claims.ts): a wrong-typed value is malformed, never
 * dropped, so it can never pass for a missing claim.
 */
export type ClaimValue = unknown;

/** A null-prototype record: `__proto__` or `constructor` claims are plain keys, never inherited. */
export type Claims = Readonly<Record<string, ClaimValue>>;

export interface Identity {
  /** The provider id from config that verified the credential. */
  provider: string;
  /**
   * Who vouches for the subject: the OIDC provider's `issuer` (jose verified `iss` equals it), or
   * the SAML IdP `entityId` (the ACS verified the assertion Issuer). Issuer + subject is the
   * principal (shared/auth/principal.ts), whichever provider entry matched.
   */
  issuer: string;
  /** `sub` for OIDC, the NameID for SAML. */
  subject: string;
  /** SAML: the NameID's Format, when it has one. Recorded, never part of the principal key. */
  nameIdFormat?: string;
  claims: Claims;
}

/** Why authentication failed: one vocabulary of reasons, owned by the errors module. */
export type { AuthFailureReason } from '#shared/errors.ts';

/** Deeply frozen, so no later step can change what authentication proved. */
function frozen(value: unknown): unknown {
  if (Array.isArray(value)) return Object.freeze(value.map(frozen));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = Object.create(null);
    for (const [key, item] of Object.entries(value)) copy[key] = frozen(item);
    return Object.freeze(copy);
  }
  return value;
}

/** Copies every claim, whatever its type, into a frozen null-prototype object. */
export function toClaims(payload: Readonly<Record<string, unknown>>): Claims {
  return frozen(payload) as Claims;
}
