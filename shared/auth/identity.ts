/**
 * Who the caller is, as proven by a verified token or assertion. OIDC and SAML both produce
 * this, and everything after authentication (decide, vend, audit) reads only this.
 */

/** The claim types matching and templates understand; anything else counts as absent. */
export type ClaimValue = string | number | boolean | readonly string[];

/** A null-prototype record: `__proto__` or `constructor` claims are plain keys, never inherited. */
export type Claims = Readonly<Record<string, ClaimValue>>;

export interface Identity {
  /** The provider id from config that verified the credential. */
  provider: string;
  /** `sub` for OIDC, the NameID for SAML. */
  subject: string;
  claims: Claims;
}

/**
 * Why authentication failed, for the audit record and the log. Never sent to the client: every
 * authentication failure answers the same generic 401.
 */
export type AuthFailureReason =
  | 'missing_token'
  | 'token_too_large'
  | 'malformed_token'
  | 'unsupported_token_type'
  | 'embedded_key_header'
  | 'unsupported_crit_header'
  | 'invalid_kid'
  | 'algorithm_not_allowed'
  | 'unknown_issuer'
  | 'provider_mismatch'
  | 'unknown_kid'
  | 'signature_invalid'
  | 'typ_mismatch'
  | 'audience_mismatch'
  | 'azp_mismatch'
  | 'token_use_mismatch'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'token_too_old'
  | 'invalid_claims'
  | 'missing_subject';

/** Copies only well-typed claims into a null-prototype object (a wrong type counts as absent). */
export function toClaims(payload: Readonly<Record<string, unknown>>): Claims {
  const claims: Record<string, ClaimValue> = Object.create(null);
  for (const [name, value] of Object.entries(payload)) {
    if (typeof value === 'string' || typeof value === 'boolean') claims[name] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) claims[name] = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      claims[name] = Object.freeze([...value]);
    }
  }
  return Object.freeze(claims);
}
