import { withHttpStack } from '#functions/http/middleware.ts';
import { coreMetrics, logger } from '#functions/http/observability.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { credentialsRoute } from './route.ts';

// The composition root: built once per container (the JWKS cache lives in the authenticator).
const deps = createIssueDeps({ logger, metrics: coreMetrics });
const authenticator = createOidcAuthenticator({
  stage: process.env.TVM_STAGE ?? '',
  metrics: coreMetrics,
});

/** POST /v1/credentials (JSON) and GET /v1/credentials (container or credential_process format). */
export const handler = withHttpStack(credentialsRoute(deps, authenticator));
