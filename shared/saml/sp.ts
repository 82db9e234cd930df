/**
 * Our side of SAML as the IdP sees it: SP metadata and SP-initiated AuthnRequests (HTTP-Redirect
 * binding), both built by node-saml. Validation of responses is ./response.ts.
 *
 * node-saml (with xml2js, xmlbuilder and xml-encryption) is loaded on first use: the ACS, which
 * every login ends at, never needs it, so a cold start that serves the ACS does not pay for it.
 */
const nodeSaml = () => import('@node-saml/node-saml');

import type { SamlProvider } from '#shared/config/schema.ts';
import { pinnedCertificates, type SpUrls } from './provider.ts';

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

/** SP metadata for the IdP admin: entity id, HTTP-POST ACS, NameID formats, WantAssertionsSigned. */
export async function spMetadataXml(
  provider: SamlProvider,
  urls: SpUrls,
  signingKey?: SpSigningKey,
): Promise<string> {
  const { generateServiceProviderMetadata } = await nodeSaml();
  return generateServiceProviderMetadata({
    issuer: provider.spEntityId,
    callbackUrl: urls.acs,
    // node-saml writes one NameIDFormat element per array entry (xmlbuilder repeats arrays).
    identifierFormat: [...NAME_ID_FORMATS] as unknown as string,
    wantAssertionsSigned: true,
    ...(signingKey === undefined || !provider.signAuthnRequests
      ? {}
      : {
          privateKey: signingKey.privateKey,
          publicCerts: signingKey.certificate,
          signatureAlgorithm: 'sha256' as const,
        }),
    generateUniqueId: () => `_tvm-metadata-${provider.id}`,
  });
}

/**
 * The IdP URL (HTTP-Redirect binding) for an AuthnRequest with this id and RelayState. The id is
 * ours, so the caller stores it (for InResponseTo) before the browser ever leaves.
 */
export async function authnRequestUrl(
  provider: SamlProvider,
  urls: SpUrls,
  request: { id: string; relayState: string; signingKey?: SpSigningKey },
): Promise<string> {
  const signing =
    provider.signAuthnRequests && request.signingKey !== undefined
      ? { privateKey: request.signingKey.privateKey, signatureAlgorithm: 'sha256' as const }
      : {};
  const { SAML } = await nodeSaml();
  const saml = new SAML({
    entryPoint: provider.ssoUrl,
    issuer: provider.spEntityId,
    callbackUrl: urls.acs,
    // Required by the constructor; node-saml never validates anything for us here.
    idpCert: [...pinnedCertificates(provider)],
    audience: provider.spEntityId,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    wantAssertionsSigned: true,
    generateUniqueId: () => request.id,
    // Our own store keeps the id (with its target and RelayState hash); node-saml's cache is unused.
    cacheProvider: {
      saveAsync: async () => null,
      getAsync: async () => null,
      removeAsync: async () => null,
    },
    ...signing,
  });
  return saml.getAuthorizeUrlAsync(request.relayState, undefined, {});
}
