import { withHttpStack } from '#functions/http/middleware.ts';
import { coreMetrics, logger } from '#functions/http/observability.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { lambdaDocumentClient } from '#shared/aws.ts';
import { DynamoIdentityStore } from '#shared/cognito/identity-store.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { tableNameFromEnv } from '#shared/store/table.ts';
import { cognitoIdentityRoute } from './route.ts';

// The composition root: built once per container (the JWKS cache lives in the authenticator).
const documentClient = lambdaDocumentClient();
const deps = createIssueDeps({ logger, metrics: coreMetrics, documentClient });
const table = tableNameFromEnv(process.env);
const identities = new DynamoIdentityStore(documentClient, table);
const limiter = new DynamoRateLimiter(documentClient, table);
const authenticator = createOidcAuthenticator({
  stage: process.env.TVM_STAGE ?? '',
  metrics: coreMetrics,
});

/** POST /v1/cognito-identity: GetId and GetCredentialsForIdentity (Cognito Identity's awsJson1_1). */
export const handler = withHttpStack(
  cognitoIdentityRoute({ issue: deps, identities, authenticator, limiter }),
);
