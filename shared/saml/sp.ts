/**
 * Our side of SAML as the IdP sees it: SP metadata and SP-initiated AuthnRequests (HTTP-Redirect
 * binding). Both are small fixed documents whose only variable parts come from config, so they are
 * written here with every value escaped; the redirect is deflated and, when the provider asks, signed
 * with node:crypto (bindings §3.4.4.1). Validation of responses (the parsing side, where a library
 * matters) is ./response.ts on xml-crypto.
 *
 * This replaced node-saml in the Lambda: it brought xml2js, xmlbuilder and xml-encryption into a
 * bundle Node must compile at every cold start (about 380 KB and 12–20 ms of init).
 */
import { sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import type { SamlProvider } from '#shared/config/schema.ts';
import type { SpUrls } from './provider.ts';

/** What we accept as a NameID: the IdP decides, these are listed as supported in metadata. */
export const NAME_ID_FORMATS = [
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
] as const;

/** The SP's request-signing key pair (PEM), when a provider sets `signAuthnRequests`. */
export interface SpSigningKey {
  privateKey: string;
  certificate: string;
}

const HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escaped for both text and double-quoted attribute values. */
function xml(value: string): string {
  return value.replaceAll(/[&<>"']/g, (character) => XML_ESCAPES[character] ?? character);
}

function certificateBody(pem: string): string {
  return pem.replaceAll(/-----(BEGIN|END) CERTIFICATE-----/g, '').replaceAll(/\s+/g, '');
}

/** SP metadata for the IdP admin: entity id, HTTP-POST ACS, NameID formats, WantAssertionsSigned. */
export function spMetadataXml(
  provider: SamlProvider,
  urls: SpUrls,
  signingKey?: SpSigningKey,
  /** The SP encryption certificate (PEM), for a provider with `decryptAssertions`. */
  encryptionCertificate?: string,
): string {
  const signs = provider.signAuthnRequests && signingKey !== undefined;
  const keyDescriptor = signs
    ? `    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(signingKey.certificate)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
`
    : '';
  const encryptionDescriptor =
    provider.decryptAssertions && encryptionCertificate !== undefined
      ? `    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(encryptionCertificate)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
`
      : '';
  const formats = NAME_ID_FORMATS.map(
    (format) => `    <md:NameIDFormat>${format}</md:NameIDFormat>\n`,
  ).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${xml(provider.spEntityId)}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="${signs}" WantAssertionsSigned="true">
${keyDescriptor}${encryptionDescriptor}${formats}    <md:AssertionConsumerService index="1" isDefault="true" Binding="${HTTP_POST}" Location="${xml(urls.acs)}"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}

/** The AuthnRequest (core §3.4.1): who we are and where the answer must be posted. */
export function authnRequestXml(
  provider: SamlProvider,
  urls: SpUrls,
  request: { id: string; issueInstant: Date },
): string {
  return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${xml(request.id)}" Version="2.0" IssueInstant="${request.issueInstant.toISOString()}" Destination="${xml(provider.ssoUrl)}" ProtocolBinding="${HTTP_POST}" AssertionConsumerServiceURL="${xml(urls.acs)}"><saml:Issuer>${xml(provider.spEntityId)}</saml:Issuer></samlp:AuthnRequest>`;
}

/**
 * The IdP URL (HTTP-Redirect binding) for an AuthnRequest with this id and RelayState. The id is
 * ours, so the caller stores it (for InResponseTo) before the browser ever leaves. When signed,
 * the signature covers exactly the encoded `SAMLRequest=…&RelayState=…&SigAlg=…` sent.
 */
export function authnRequestUrl(
  provider: SamlProvider,
  urls: SpUrls,
  request: { id: string; relayState: string; issueInstant: Date; signingKey?: SpSigningKey },
): string {
  const deflated = deflateRawSync(Buffer.from(authnRequestXml(provider, urls, request), 'utf8'));
  let query = `SAMLRequest=${encodeURIComponent(deflated.toString('base64'))}&RelayState=${encodeURIComponent(request.relayState)}`;
  if (provider.signAuthnRequests && request.signingKey !== undefined) {
    query += `&SigAlg=${encodeURIComponent(RSA_SHA256)}`;
    const signature = sign('RSA-SHA256', Buffer.from(query, 'utf8'), request.signingKey.privateKey);
    query += `&Signature=${encodeURIComponent(signature.toString('base64'))}`;
  }
  return `${provider.ssoUrl}${provider.ssoUrl.includes('?') ? '&' : '?'}${query}`;
}
