import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The SDK reads AWS_ENDPOINT_URL natively, which is how the local stage reaches the emulator.
 * Outside the local stage an endpoint override would send credentials and config reads to an
 * arbitrary host, so refuse to start rather than follow it.
 */
export function assertNoEndpointOverride(env: NodeJS.ProcessEnv = process.env): void {
  const stage = env.TVM_STAGE ?? '';
  const overrides = Object.keys(env).filter(
    (name) => name === 'AWS_ENDPOINT_URL' || name.startsWith('AWS_ENDPOINT_URL_'),
  );
  if (stage !== 'local' && overrides.length > 0) {
    throw new Error(
      `${overrides.join(', ')} may only be set in the local stage (TVM_STAGE is "${stage}")`,
    );
  }
}

export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/**
 * The DynamoDB client for Lambda handlers, created once at module scope. It checks the endpoint
 * guard first, so a mis-set AWS_ENDPOINT_URL stops a non-local deployment at cold start.
 */
export function lambdaDocumentClient(env: NodeJS.ProcessEnv = process.env): DynamoDBDocumentClient {
  assertNoEndpointOverride(env);
  // Each call stays far below the 10 s Lambda timeout: 3 attempts (the SDK's jittered
  // backoff, on throttling and 5xx only) of at most 1.5 s each.
  return createDocumentClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500 },
  });
}
