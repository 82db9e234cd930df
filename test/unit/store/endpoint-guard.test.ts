import { describe, expect, it } from 'vitest';
import { assertNoEndpointOverride, lambdaDocumentClient } from '#shared/aws.ts';

describe('AWS endpoint override guard', () => {
  it('allows AWS_ENDPOINT_URL in the local stage', () => {
    expect(() =>
      assertNoEndpointOverride({ TVM_STAGE: 'local', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }),
    ).not.toThrow();
  });

  it.each([
    [
      { TVM_STAGE: 'prod', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' },
      /AWS_ENDPOINT_URL may only be set in the local stage/,
    ],
    [
      { TVM_STAGE: 'prod', AWS_ENDPOINT_URL_STS: 'https://sts.evil.example' },
      /AWS_ENDPOINT_URL_STS/,
    ],
    [{ AWS_ENDPOINT_URL_DYNAMODB: 'http://x' }, /TVM_STAGE is ""/],
  ])('refuses an endpoint override outside the local stage: %j', (env, message) => {
    expect(() => assertNoEndpointOverride(env)).toThrow(message);
    expect(() => lambdaDocumentClient(env)).toThrow(message);
  });

  it('allows a normal deployment with no override', () => {
    expect(() => assertNoEndpointOverride({ TVM_STAGE: 'prod' })).not.toThrow();
  });
});
