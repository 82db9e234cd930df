import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../../functions/health/handler.ts';
import { fakeContext, httpEvent } from '../../support/lambda-fakes.ts';

describe('health', () => {
  beforeEach(() => {
    vi.stubEnv('TVM_STAGE', 'unit');
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('answers 200 with the service and stage, not cacheable', async () => {
    // Prepare
    const event = httpEvent({ method: 'GET', path: '/v1/health' });

    // Act
    const response = await handler(event, fakeContext());

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(String(response.body))).toEqual({
      status: 'ok',
      service: 'tvm',
      stage: 'unit',
    });
  });
});

describe('health with another method', () => {
  it.each(['HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])(
    '%s is a 405 problem with Allow: GET',
    async (method) => {
      // Act
      const response = await handler(httpEvent({ method, path: '/v1/health' }), fakeContext());

      // Assess
      expect(response.statusCode).toBe(405);
      expect(response.headers).toMatchObject({
        'content-type': 'application/problem+json',
        'cache-control': 'no-store',
        allow: 'GET',
      });
      expect(JSON.parse(String(response.body))).toMatchObject({
        type: 'urn:tvm:problem:method-not-allowed',
        status: 405,
      });
    },
  );
});
