/**
 * Provider checks: https URLs (loopback http only in the local stage), exact OIDC issuers, pinned
 * X.509 certificates and SAML metadata as the ACS reads them, attribute maps, declared claims,
 * and issuer tags that tell every issuer apart.
 */
import { X509Certificate } from 'node:crypto';
import { ISSUER_TAG_CHARS, issuerTag, principalIssuer } from '#shared/auth/principal.ts';
import { IMPLICIT_STRING_CLAIMS } from '#shared/config/claims.ts';
import type { PathSegment } from '#shared/config/path.ts';
import type { Provider, SamlProvider } from '#shared/config/schema.ts';
import { hasTemplateSyntax } from '#shared/config/templates.ts';
import { metadataSigningCertificates } from '#shared/xml/saml-metadata.ts';
import { quoteList, type Report } from './messages.ts';

/** SAML claims that always exist: the assertion Subject's NameID, under both names. */
export const SAML_NAME_ID_CLAIMS = ['sub', 'nameId'] as const;

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function checkUrl(
  value: string,
  path: readonly PathSegment[],
  stage: string,
  report: Report,
  { exactIssuer = false } = {},
): void {
  if (hasTemplateSyntax(value)) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    report(path, `is not an absolute URL: ${JSON.stringify(value)}`);
    return;
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      report(
        path,
        'must use https; http:// is allowed only for loopback hosts (localhost, 127.0.0.0/8, [::1]) in the "local" stage',
      );
    } else if (stage !== 'local') {
      report(
        path,
        `uses http:// on a loopback host, which is allowed only in the "local" stage (this is stage "${stage}"); use https`,
      );
    }
  } else if (url.protocol !== 'https:') {
    report(path, `must be an https:// URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    report(path, 'must not contain a user name or password');
  }
  if (exactIssuer) {
    if (value.trim() !== value) {
      report(path, 'has leading or trailing whitespace; the issuer is compared as an exact string');
    }
    if (url.search !== '' || url.hash !== '') {
      report(path, 'must not have a query or fragment (OpenID Connect Discovery 1.0, §3)');
    }
  }
}

function checkCertificate(
  pem: string,
  path: readonly PathSegment[],
  label: string,
  now: Date,
  report: Report,
): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks === 0) {
    report(path, `${label} is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
    return;
  }
  if (blocks > 1) {
    report(path, `${label} holds ${blocks} certificates; list each certificate as its own entry`);
    return;
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    report(path, `${label} does not parse as an X.509 certificate (${(error as Error).message})`);
    return;
  }
  if (certificate.validToDate.getTime() < now.getTime()) {
    report(
      path,
      `${label} expired on ${certificate.validToDate.toISOString()} (notAfter); pin the IdP's current signing certificate`,
    );
  }
  if (certificate.validFromDate.getTime() > now.getTime()) {
    report(
      path,
      `${label} is not valid before ${certificate.validFromDate.toISOString()} (notBefore)`,
    );
  }
  const key = certificate.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  // NIST SP 800-131A: RSA keys under 2,048 bits are disallowed for signatures.
  if (
    (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
    bits !== undefined &&
    bits < 2048
  ) {
    report(path, `${label} has a ${bits}-bit RSA key; at least 2,048 bits are required`);
  }
}

/** Read with the ACS's own metadata reader: what validates here is what verifies responses. */
function checkMetadataXml(
  provider: SamlProvider,
  path: readonly PathSegment[],
  now: Date,
  report: Report,
): void {
  let read: ReturnType<typeof metadataSigningCertificates>;
  try {
    read = metadataSigningCertificates(provider.metadataXml ?? '', provider.entityId);
  } catch (error) {
    report(path, `is not well-formed XML: ${(error as Error).message.split('\n')[0]}`);
    return;
  }
  const { entityIds, certificates } = read;
  if (entityIds.length === 0) {
    report(path, 'is not SAML metadata: it has no EntityDescriptor element');
    return;
  }
  if (!entityIds.includes(provider.entityId)) {
    report(
      path,
      `describes entity ${quoteList(entityIds)}, but entityId is ${JSON.stringify(provider.entityId)}`,
    );
    return;
  }
  if (certificates.length === 0) {
    report(
      path,
      'has no X509Certificate in a signing KeyDescriptor of its IDPSSODescriptor; the IdP signing certificate is needed to verify assertions',
    );
  }
  certificates.forEach((pem, index) => {
    checkCertificate(pem, path, `certificate ${index + 1} in the metadata`, now, report);
  });
}

/** The claims a SAML provider can produce: the NameID and every attributeMap target. */
function samlClaimNames(provider: SamlProvider): string[] {
  return [...new Set([...SAML_NAME_ID_CLAIMS, ...Object.values(provider.attributeMap)])];
}

function checkSamlProvider(
  provider: SamlProvider,
  path: readonly PathSegment[],
  stage: string,
  now: Date,
  report: Report,
): void {
  checkUrl(provider.ssoUrl, [...path, 'ssoUrl'], stage, report);
  // Entity ids are names, not locations: IdPs such as Okta and ADFS use http:// ids legitimately,
  // so only our own SP entity id, which we choose, is held to the https rule.
  if (/^https?:/i.test(provider.spEntityId)) {
    checkUrl(provider.spEntityId, [...path, 'spEntityId'], stage, report);
  }
  const hasCertificates = provider.certificates !== undefined;
  const hasMetadata = provider.metadataXml !== undefined;
  if (hasCertificates && hasMetadata) {
    report(path, 'has both certificates and metadataXml; set exactly one of them');
  } else if (!hasCertificates && !hasMetadata) {
    report(
      path,
      'needs the IdP signing key: set exactly one of certificates (PEM) and metadataXml',
    );
  }
  provider.certificates?.forEach((pem, index) => {
    checkCertificate(pem, [...path, 'certificates', index], 'certificate', now, report);
  });
  if (hasMetadata) checkMetadataXml(provider, [...path, 'metadataXml'], now, report);
  // AWS, not the TVM, reads a native-mode assertion, and it would get the ciphertext.
  if (provider.decryptAssertions && provider.mode === 'native') {
    report(
      [...path, 'decryptAssertions'],
      'is not supported for a provider in "native" mode: AssumeRoleWithSAML receives the assertion as posted; use mode "chained"',
    );
  }

  const attributeOf = new Map<string, string>();
  for (const [attribute, claim] of Object.entries(provider.attributeMap)) {
    const attributePath = [...path, 'attributeMap', attribute];
    if ((SAML_NAME_ID_CLAIMS as readonly string[]).includes(claim)) {
      report(attributePath, `claim name "${claim}" is reserved for the assertion's NameID`);
    }
    const other = attributeOf.get(claim);
    if (other !== undefined) {
      report(
        attributePath,
        `attributes "${other}" and "${attribute}" both map to claim "${claim}"; map each claim from one attribute`,
      );
    } else attributeOf.set(claim, attribute);
  }
  const available = samlClaimNames(provider);
  for (const claim of Object.keys(provider.claims)) {
    if (!available.includes(claim)) {
      report(
        [...path, 'claims', claim],
        `declares claim "${claim}", but no attributeMap entry produces it (available: ${available.join(', ')})`,
      );
    }
  }
}

export function checkProvider(
  provider: Provider,
  path: readonly PathSegment[],
  stage: string,
  now: Date,
  report: Report,
): void {
  if (provider.type === 'oidc') {
    checkUrl(provider.issuer, [...path, 'issuer'], stage, report, { exactIssuer: true });
    if (provider.jwksUri !== undefined) {
      checkUrl(provider.jwksUri, [...path, 'jwksUri'], stage, report);
    }
  } else if (provider.type === 'saml') {
    checkSamlProvider(provider, path, stage, now, report);
  }
  // The subject is a string by construction: declaring it a list would make every rule on it refuse.
  for (const name of IMPLICIT_STRING_CLAIMS[provider.type]) {
    if (Object.hasOwn(provider.claims, name) && provider.claims[name]?.type !== 'string') {
      report(
        [...path, 'claims', name, 'type'],
        `must be "string": "${name}" is the subject, always one string`,
      );
    }
  }
}

/**
 * The default SourceIdentity tells issuers apart by 8 hex of SHA-256 of the issuer (shared/auth/
 * principal.ts): two issuers with one tag would give their users each other's values.
 */
export function checkIssuerTags(
  providers: { index: number; value: Provider }[],
  report: Report,
): void {
  const byTag = new Map<string, { index: number; issuer: string }>();
  for (const { index, value } of providers) {
    const issuer = principalIssuer(value);
    const tag = issuerTag(issuer);
    const earlier = byTag.get(tag);
    if (earlier === undefined) byTag.set(tag, { index, issuer });
    else if (earlier.issuer !== issuer) {
      report(
        [
          'providers',
          index,
          value.type === 'saml' ? 'entityId' : value.type === 'guest' ? 'id' : 'issuer',
        ],
        `its issuer tag "${tag}" (first ${ISSUER_TAG_CHARS} hex of SHA-256, used in default SourceIdentity values) equals that of providers[${earlier.index}], another issuer; their users could not be told apart in CloudTrail or by revoke. Please report this collision`,
      );
    }
  }
}
