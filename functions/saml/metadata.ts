/** GET /v1/saml/{provider}/metadata: our SP metadata, for the IdP admin. */
import type { HttpResult } from '#functions/http/middleware.ts';
import { samlProviderOf } from '#shared/saml/login.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import type { SamlDeps, SamlRequest } from './http.ts';

export async function metadata(deps: SamlDeps, request: SamlRequest): Promise<HttpResult> {
  const { config } = await deps.core.config.require();
  const provider = samlProviderOf(config, request.providerId);
  const signingKey = provider.signAuthnRequests ? await deps.signingKey?.() : undefined;
  const decryptionKey = provider.decryptAssertions ? await deps.decryptionKey?.() : undefined;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/samlmetadata+xml', 'cache-control': 'max-age=300' },
    body: spMetadataXml(provider, request.urls(provider), signingKey, decryptionKey?.certificate),
  };
}
