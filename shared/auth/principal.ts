/**
 * A principal is one issuer plus one subject (DESIGN.md §2): OIDC `iss` + `sub`, or the SAML IdP
 * entity id + NameID. The deny list, rate limits, revocation, reuse keys, audit hashes and the
 * default SourceIdentity key on it, never on the provider entry that matched: several entries may
 * share an issuer (two app clients of one user pool), and the client picks the entry.
 *
 * A SAML NameID's Format is recorded but is not part of the key: an operator denies `alice@corp`
 * without knowing the format, and an IdP that switches format must not escape a deny.
 */
import { createHash } from 'node:crypto';
import type { Provider } from '#shared/config/schema.ts';

/** Guests have no IdP: the TVM vouches for their IdentityIds, under one issuer per guest provider. */
export function guestIssuer(providerId: string): string {
  return `urn:tvm:guest:${providerId}`;
}

/**
 * The issuer whose subjects a provider entry authenticates: OIDC `issuer`, SAML IdP `entityId`,
 * or the guest provider's own issuer (a guest's subject is its IdentityId).
 */
export function principalIssuer(provider: Provider): string {
  switch (provider.type) {
    case 'oidc':
      return provider.issuer;
    case 'saml':
      return provider.entityId;
    case 'guest':
      return guestIssuer(provider.id);
  }
}

/** Every provider entry whose principals belong to `issuer`, in config order. */
export function providersOfIssuer(providers: readonly Provider[], issuer: string): Provider[] {
  return providers.filter((provider) => principalIssuer(provider) === issuer);
}

/** Hex characters of SHA-256(issuer) that tell issuers apart in the default SourceIdentity. */
export const ISSUER_TAG_CHARS = 8;

/** `1a2b3c4d`: short enough to keep a SourceIdentity readable, checked unique per config. */
export function issuerTag(issuer: string): string {
  return createHash('sha256').update(issuer, 'utf8').digest('hex').slice(0, ISSUER_TAG_CHARS);
}
