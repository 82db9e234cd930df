/**
 * What the TVM derives from a SAML provider's config: its URLs, its pinned signing certificates,
 * and the Identity an assertion proves.
 */
import type { Claims, ClaimValue, Identity } from '#shared/auth/identity.ts';
import type { SamlProvider } from '#shared/config/schema.ts';
import { ROLE_ARN_PATTERN, SAML_PROVIDER_ARN_PATTERN } from '#shared/config/sts.ts';
import { metadataSigningCertificates } from '#shared/xml/saml-metadata.ts';
import type { VerifiedAssertion } from './response.ts';

/** The attribute AWS-integrated IdPs send: `role ARN,provider ARN` pairs (native mode). */
export const AWS_ROLE_ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/Role';
export const AWS_SESSION_DURATION_ATTRIBUTE =
  'https://aws.amazon.com/SAML/Attributes/SessionDuration';
/** Native mode: AssumeRoleWithSAML names the session after this attribute (AWS requires it). */
export const AWS_ROLE_SESSION_NAME_ATTRIBUTE =
  'https://aws.amazon.com/SAML/Attributes/RoleSessionName';
/** Native mode: the session's SourceIdentity, when the IdP sends one. */
export const AWS_SOURCE_IDENTITY_ATTRIBUTE =
  'https://aws.amazon.com/SAML/Attributes/SourceIdentity';
/** AWS's own SAML endpoint: in native mode the IdP addresses its assertion to AWS. */
export const AWS_SAML_ENDPOINT = 'https://signin.aws.amazon.com/saml';

export interface SpUrls {
  metadata: string;
  login: string;
  acs: string;
  select: string;
}

/** Our endpoints for a provider, under the deployment's public base URL. */
export function spUrls(baseUrl: string, provider: Pick<SamlProvider, 'id'>): SpUrls {
  const root = `${baseUrl.replace(/\/+$/, '')}/v1/saml/${encodeURIComponent(provider.id)}`;
  return {
    metadata: `${root}/metadata`,
    login: `${root}/login`,
    acs: `${root}/acs`,
    select: `${root}/select`,
  };
}

const certificateCache = new WeakMap<SamlProvider, readonly string[]>();

/**
 * The IdP signing certificates pinned in config: `certificates`, or those of the IdP's
 * signing KeyDescriptors in `metadataXml`. Never anything from a posted document.
 */
export function pinnedCertificates(provider: SamlProvider): readonly string[] {
  const cached = certificateCache.get(provider);
  if (cached !== undefined) return cached;
  const certificates =
    provider.certificates !== undefined
      ? provider.certificates.map((pem) => pem.trim())
      : metadataSigningCertificates(provider.metadataXml ?? '', provider.entityId).certificates;
  const frozen = Object.freeze(certificates);
  certificateCache.set(provider, frozen);
  return frozen;
}

/**
 * The Identity a verified assertion proves: `sub` and `nameId` are the NameID, and each mapped
 * attribute becomes a claim (one value → a string, several → an array, none → absent). decide()
 * then reads it against its declared type: one value of a `list` claim is a one-element list,
 * several values of a `string` claim are malformed (shared/config/claims.ts).
 */
export function samlIdentity(provider: SamlProvider, assertion: VerifiedAssertion): Identity {
  const claims: Record<string, ClaimValue> = Object.create(null);
  for (const [name, claim] of Object.entries(provider.attributeMap)) {
    const values = Object.hasOwn(assertion.attributes, name)
      ? assertion.attributes[name]
      : undefined;
    if (values === undefined || values.length === 0) continue;
    claims[claim] = values.length === 1 ? (values[0] as string) : Object.freeze([...values]);
  }
  claims.sub = assertion.nameId;
  claims.nameId = assertion.nameId;
  return {
    provider: provider.id,
    // validateSamlResponse refused any assertion whose Issuer is not this entity id.
    issuer: provider.entityId,
    subject: assertion.nameId,
    ...(assertion.nameIdFormat === undefined ? {} : { nameIdFormat: assertion.nameIdFormat }),
    claims: Object.freeze(claims) as Claims,
  };
}

/**
 * Native mode: what AssumeRoleWithSAML names the session, read from the verified assertion (the
 * TVM cannot set either). An attribute with several values is ambiguous and counts as unknown.
 */
export function nativeSession(assertion: VerifiedAssertion): {
  roleSessionName?: string;
  sourceIdentity?: string;
} {
  const single = (name: string) => {
    const values = Object.hasOwn(assertion.attributes, name) ? assertion.attributes[name] : [];
    return values?.length === 1 ? values[0] : undefined;
  };
  const roleSessionName = single(AWS_ROLE_SESSION_NAME_ATTRIBUTE);
  const sourceIdentity = single(AWS_SOURCE_IDENTITY_ATTRIBUTE);
  return {
    ...(roleSessionName === undefined ? {} : { roleSessionName }),
    ...(sourceIdentity === undefined ? {} : { sourceIdentity }),
  };
}

export interface AssertedRole {
  roleArn: string;
  principalArn: string;
}

/** Native mode: the `role,provider` pairs of the AWS Role attribute (either order, as AWS allows). */
export function assertedRoles(assertion: VerifiedAssertion): AssertedRole[] {
  const values = Object.hasOwn(assertion.attributes, AWS_ROLE_ATTRIBUTE)
    ? (assertion.attributes[AWS_ROLE_ATTRIBUTE] ?? [])
    : [];
  const roles: AssertedRole[] = [];
  for (const value of values) {
    const parts = value.split(',').map((part) => part.trim());
    if (parts.length !== 2) continue;
    const role = parts.find((part) => ROLE_ARN_PATTERN.test(part));
    const principal = parts.find((part) => SAML_PROVIDER_ARN_PATTERN.test(part));
    if (role !== undefined && principal !== undefined) {
      roles.push({ roleArn: role, principalArn: principal });
    }
  }
  return roles;
}
