import type { Request } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import {
  type ProblemLogger,
  problemJsonErrors,
  problemType,
} from '#functions/http/problem-json.ts';
import {
  AuthenticationError,
  ConfigConflictError,
  ConfigMissingError,
  ForbiddenError,
  MethodNotAllowedError,
  RateLimitedError,
  UpstreamError,
  ValidationError,
} from '#shared/errors.ts';
import { fakeContext, httpEvent } from '../../support/lambda-fakes.ts';

type Result = APIGatewayProxyStructuredResultV2;

function fakeLogger() {
  return { warn: vi.fn(), error: vi.fn() } satisfies ProblemLogger;
}

/** Runs the middleware's onError the way middy does, and returns what it left in the request. */
async function onErrorWith(error: unknown, event: unknown = httpEvent()) {
  const logger = fakeLogger();
  const middleware = problemJsonErrors({ logger });
  const request: Request<unknown, Result> = {
    event,
    context: fakeContext(),
    response: undefined,
    error: error as Error,
    internal: {},
  };
  const returned = await middleware.onError?.(request);
  const response = request.response as Result;
  const body = JSON.parse(String(response.body)) as Record<string, unknown>;
  return { logger, returned, response, body };
}

describe('problem-json', () => {
  it('keeps the title and detail of an exposed AppError', async () => {
    // Prepare
    const error = new ValidationError('durationSeconds must be at most 3600');

    // Act
    const { response, body } = await onErrorWith(error);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(body).toEqual({
      type: 'urn:tvm:problem:bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'durationSeconds must be at most 3600',
      requestId: 'apigw-request-0001',
    });
  });

  it('answers every authentication failure with the same generic 401 and logs the reason', async () => {
    // Prepare
    const reason = 'expired';

    // Act
    const expired = await onErrorWith(new AuthenticationError(reason));
    const badSignature = await onErrorWith(new AuthenticationError('signature_invalid'));

    // Assess
    expect(expired.response.statusCode).toBe(401);
    expect(expired.body).toEqual({
      type: 'urn:tvm:problem:authentication',
      title: 'Unauthorized',
      status: 401,
      requestId: 'apigw-request-0001',
    });
    expect(expired.response.body).toBe(badSignature.response.body);
    expect(JSON.stringify(expired.response)).not.toContain('expired');
    expect(expired.logger.warn).toHaveBeenCalledWith(
      'request rejected',
      expect.objectContaining({ code: 'ERR_AUTHENTICATION', status: 401, reason }),
    );
  });

  it('logs which access-token marker refused a token, and sends none of it', async () => {
    // Act
    const { response, logger } = await onErrorWith(
      new AuthenticationError('access_token', { cause: { marker: 'payload_typ' } }),
    );

    // Assess
    expect(response.statusCode).toBe(401);
    expect(response.body).not.toContain('payload_typ');
    expect(response.body).not.toContain('access_token');
    expect(logger.warn).toHaveBeenCalledWith(
      'request rejected',
      expect.objectContaining({ reason: 'access_token', marker: 'payload_typ' }),
    );
  });

  it('never sends the reason of a ForbiddenError', async () => {
    // Act
    const { response, body, logger } = await onErrorWith(
      new ForbiddenError('claim_value_rejected', {
        cause: { field: 'sessionTags.mail', variable: 'claims.email' },
      }),
    );

    // Assess
    expect(response.statusCode).toBe(403);
    expect(body).toEqual({
      type: 'urn:tvm:problem:forbidden',
      title: 'Forbidden',
      status: 403,
      requestId: 'apigw-request-0001',
    });
    expect(response.body).not.toContain('claims.email');
    expect(response.body).not.toContain('claim_value_rejected');
    expect(logger.warn).toHaveBeenCalledOnce();
  });

  it('turns a plain Error into a generic 500 without its message, and logs the error', async () => {
    // Prepare
    const error = new Error('connect ECONNREFUSED 10.0.0.7:443 secret=hunter2');

    // Act
    const { response, body, logger } = await onErrorWith(error);

    // Assess
    expect(response.statusCode).toBe(500);
    expect(body).toEqual({
      type: 'urn:tvm:problem:internal',
      title: 'Internal Server Error',
      status: 500,
      requestId: 'apigw-request-0001',
    });
    expect(response.body).not.toContain('hunter2');
    expect(logger.error).toHaveBeenCalledWith('request failed', { error, status: 500 });
  });

  it('hides the title of an AppError that is not exposed', async () => {
    // Act
    const { response, body } = await onErrorWith(
      new ConfigConflictError('CURRENT moved from generation 7 to 8'),
    );

    // Assess
    expect(response.statusCode).toBe(500);
    expect(body.title).toBe('Internal Server Error');
    expect(body).not.toHaveProperty('detail');
    expect(response.body).not.toContain('generation');
  });

  it('treats thrown non-errors as internal errors', async () => {
    // Act
    const { response, body } = await onErrorWith('something odd');

    // Assess
    expect(response.statusCode).toBe(500);
    expect(body.type).toBe('urn:tvm:problem:internal');
  });

  it('names the methods a route takes in the Allow header of a 405, and only there', async () => {
    // Act
    const refused = await onErrorWith(new MethodNotAllowedError(['GET', 'POST']));
    const other = await onErrorWith(new ValidationError('x'));

    // Assess
    expect(refused.response.statusCode).toBe(405);
    expect(refused.response.headers?.allow).toBe('GET, POST');
    expect(refused.body).toEqual({
      type: 'urn:tvm:problem:method-not-allowed',
      title: 'Method Not Allowed',
      status: 405,
      requestId: 'apigw-request-0001',
    });
    expect(other.response.headers?.allow).toBeUndefined();
  });

  it('sets Retry-After on 429', async () => {
    // Act
    const { response, body } = await onErrorWith(
      new RateLimitedError(30, 'rate_limited_principal'),
    );

    // Assess
    expect(response.statusCode).toBe(429);
    expect(response.headers?.['retry-after']).toBe('30');
    expect(body.type).toBe('urn:tvm:problem:rate-limited');
  });

  it('keeps 503 with Retry-After but says nothing about the failing dependency', async () => {
    // Prepare
    const error = new UpstreamError(new Error('STS throttled in eu-west-1'), 2.5);

    // Act
    const { response, body, logger } = await onErrorWith(error);

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('3');
    expect(body).toEqual({
      type: 'urn:tvm:problem:upstream',
      title: 'Service Unavailable',
      status: 503,
      requestId: 'apigw-request-0001',
    });
    expect(response.body).not.toContain('STS');
    expect(logger.error).toHaveBeenCalledOnce();
  });

  it('answers a missing config as 503 upstream, with its Retry-After', async () => {
    // Act
    const { response, body } = await onErrorWith(new ConfigMissingError());

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('30');
    expect(body.type).toBe('urn:tvm:problem:upstream');
  });

  it('does not set Retry-After when no delay is known', async () => {
    // Act
    const { response } = await onErrorWith(new ValidationError('bad'));

    // Assess
    expect(response.headers).not.toHaveProperty('retry-after');
  });

  it('answers as application/problem+json that must not be cached', async () => {
    for (const error of [
      new ValidationError('x'),
      new AuthenticationError('expired'),
      new Error('z'),
    ]) {
      // Act
      const { response } = await onErrorWith(error);

      // Assess
      expect(response.headers).toMatchObject({
        'content-type': 'application/problem+json',
        'cache-control': 'no-store',
      });
    }
  });

  it('takes the requestId from API Gateway, falling back to the Lambda request id', async () => {
    // Act
    const fromGateway = await onErrorWith(new Error('x'), httpEvent({ requestId: 'gw-42' }));
    const fromLambda = await onErrorWith(new Error('x'), {});

    // Assess
    expect(fromGateway.body.requestId).toBe('gw-42');
    expect(fromLambda.body.requestId).toBe('lambda-request-0001');
  });

  it('maps http-errors from other middy middlewares by status, without their message', async () => {
    // Prepare
    const tooLarge = Object.assign(new Error('body of 2 MB'), { statusCode: 413, expose: true });
    const unsupported = Object.assign(new Error('text/xml'), { statusCode: 415, expose: true });
    const teapot = Object.assign(new Error('short and stout'), { statusCode: 418, expose: true });

    // Act
    const large = await onErrorWith(tooLarge);
    const media = await onErrorWith(unsupported);
    const unknown = await onErrorWith(teapot);

    // Assess
    expect(large.response.statusCode).toBe(413);
    expect(large.body.type).toBe('urn:tvm:problem:payload-too-large');
    expect(large.response.body).not.toContain('2 MB');
    expect(media.response.statusCode).toBe(415);
    expect(media.body.type).toBe('urn:tvm:problem:unsupported-media-type');
    expect(media.response.body).not.toContain('text/xml');
    // A status we have no code for is a plain 400, its message dropped.
    expect(unknown.response.statusCode).toBe(400);
    expect(unknown.body.type).toBe('urn:tvm:problem:bad-request');
    expect(unknown.response.body).not.toContain('stout');
  });

  it('sets the response instead of returning it, so the logger and metrics hooks still run', async () => {
    // Act
    const { returned, response } = await onErrorWith(new Error('x'));

    // Assess
    expect(returned).toBeUndefined();
    expect(response.statusCode).toBe(500);
  });

  it('derives the problem type from the error code', () => {
    expect(problemType('ERR_AUTHENTICATION')).toBe('urn:tvm:problem:authentication');
    expect(problemType('ERR_PAYLOAD_TOO_LARGE')).toBe('urn:tvm:problem:payload-too-large');
  });
});
