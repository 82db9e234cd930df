/**
 * The SAML function's wiring from its environment: the core (without any OIDC authenticator, so
 * jose stays out of this bundle), the login state, the federation endpoint, the SP signing key.
 */
import { coreMetrics, logger } from '#functions/http/observability.ts';
import { lambdaDocumentClient } from '#shared/aws.ts';
import { DynamoDeviceStore } from '#shared/login/device-store.ts';
import { DynamoLoginStore } from '#shared/login/store.ts';
import { DynamoPortalStore } from '#shared/portal/store.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { AWS_FEDERATION_URL } from '#shared/saml/console.ts';
import { ssmSigningKey } from '#shared/saml/signing-key.ts';
import { DynamoSamlStateStore } from '#shared/saml/state.ts';
import { tableNameFromEnv } from '#shared/store/table.ts';
import type { SamlDeps } from './http.ts';

export function createSamlDeps(env: NodeJS.ProcessEnv = process.env): SamlDeps {
  const stage = env.TVM_STAGE ?? '';
  const federationUrl = env.TVM_FEDERATION_URL || AWS_FEDERATION_URL;
  const parsed = new URL(federationUrl);
  const loopback = parsed.hostname === '127.0.0.1' || parsed.hostname === 'localhost';
  // The sign-in token request carries session credentials: https, except a local stand-in.
  if (parsed.protocol !== 'https:' && !(stage === 'local' && loopback)) {
    throw new Error('TVM_FEDERATION_URL must be https (loopback http only in the local stage)');
  }
  const baseUrl = env.TVM_PUBLIC_BASE_URL ?? '';
  const keyParameter = env.TVM_SAML_SIGNING_KEY_PARAMETER ?? '';
  const decryptionParameter = env.TVM_SAML_DECRYPTION_KEY_PARAMETER ?? '';
  const ssmClient = async () =>
    new (await import('@aws-sdk/client-ssm')).SSMClient({ maxAttempts: 2 });
  // One DynamoDB client for the core and the login state.
  const documentClient = lambdaDocumentClient(env);
  return {
    core: createIssueDeps({ env, documentClient, logger, metrics: coreMetrics }),
    state: new DynamoSamlStateStore(documentClient, tableNameFromEnv(env)),
    login: new DynamoLoginStore(documentClient, tableNameFromEnv(env)),
    device: new DynamoDeviceStore(documentClient, tableNameFromEnv(env)),
    portal: new DynamoPortalStore(documentClient, tableNameFromEnv(env)),
    ...(baseUrl === '' ? {} : { baseUrl }),
    federation: { url: federationUrl, timeoutMs: 3_000 },
    secureCookies: !baseUrl.startsWith('http://'),
    ...(keyParameter === ''
      ? {}
      : {
          signingKey: ssmSigningKey(ssmClient, keyParameter, { ttlMs: 300_000 }),
        }),
    ...(decryptionParameter === ''
      ? {}
      : {
          decryptionKey: ssmSigningKey(ssmClient, decryptionParameter, {
            ttlMs: 300_000,
            label: 'decryption',
          }),
        }),
  };
}
