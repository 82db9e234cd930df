import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeContext, httpEvent } from '../../support/lambda-fakes.ts';
import { type CaptureOutput, captureOutput } from './capture-output.ts';

const BEARER = 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZQ';

/** Fresh modules, so the logger singleton is built under the env stubbed by the test. */
async function loadStack() {
  vi.resetModules();
  const middleware = await import('#functions/http/middleware.ts');
  const observability = await import('#functions/http/observability.ts');
  const health = await import('../../../functions/health/handler.ts');
  // The errors of this module graph: instanceof holds only within one.
  const errors = await import('#shared/errors.ts');
  return { ...middleware, ...observability, errors, healthHandler: health.handler };
}

describe('http-stack', () => {
  let output: CaptureOutput;

  beforeEach(() => {
    // Even with event logging switched on in the environment, the stack must not log events.
    vi.stubEnv('POWERTOOLS_LOGGER_LOG_EVENT', 'true');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    output = captureOutput();
  });

  afterEach(() => {
    output.restore();
    vi.unstubAllEnvs();
  });

  it('never logs the event, so the Authorization header stays out of the logs', async () => {
    // Prepare
    const { healthHandler, withHttpStack, logger, errors } = await loadStack();
    const failing = withHttpStack(async () => {
      logger.info('about to fail');
      throw new errors.AuthenticationError('signature_invalid');
    });
    const event = httpEvent({ headers: { authorization: BEARER } });

    // Act
    await healthHandler(event, fakeContext());
    const response = await failing(event, fakeContext());

    // Assess
    expect(response.statusCode).toBe(401);
    expect(output.text()).toContain('signature_invalid');
    expect(output.text()).not.toContain(BEARER);
    expect(output.text()).not.toContain('c2VjcmV0LXNpZ25hdHVyZQ');
    expect(output.text()).not.toContain('Lambda invocation event');
  });

  it('would log the event if the stack did not turn it off (control for the test above)', async () => {
    // Prepare
    const { logger } = await loadStack();

    // Act
    logger.logEventIfEnabled(httpEvent({ headers: { authorization: BEARER } }));

    // Assess
    expect(output.text()).toContain(BEARER);
  });

  it('logs with the API Gateway request id as correlation id', async () => {
    // Prepare
    const { withHttpStack, logger, json } = await loadStack();
    const route = withHttpStack(async () => {
      logger.info('handled');
      return json(200, {});
    });

    // Act
    await route(httpEvent({ requestId: 'gw-correlation-7' }), fakeContext());

    // Assess
    const handled = output.records().find((record) => record.message === 'handled');
    expect(handled).toMatchObject({
      correlation_id: 'gw-correlation-7',
      function_request_id: 'lambda-request-0001',
      service: 'tvm',
    });
  });

  it('resets keys appended during a failed request before the next one', async () => {
    // Prepare
    const { withHttpStack, logger, json } = await loadStack();
    const failing = withHttpStack(async () => {
      logger.appendKeys({ subjectHash: 'abc123' });
      throw new Error('boom');
    });
    const succeeding = withHttpStack(async () => {
      logger.info('second request');
      return json(200, {});
    });

    // Act
    const failed = await failing(httpEvent(), fakeContext());
    await succeeding(httpEvent(), fakeContext());

    // Assess
    expect(failed.statusCode).toBe(500);
    const failure = output.records().find((record) => record.message === 'request failed');
    expect(failure).toMatchObject({ subjectHash: 'abc123', status: 500 });
    const second = output.records().find((record) => record.message === 'second request');
    expect(second).toBeDefined();
    expect(second).not.toHaveProperty('subjectHash');
  });

  it('runs extra middlewares between metrics and the error formatter', async () => {
    // Prepare
    const { withHttpStack, json } = await loadStack();
    const seen: string[] = [];
    const route = withHttpStack(async () => {
      seen.push('route');
      return json(200, {});
    }, [
      {
        before: () => {
          seen.push('extra');
        },
      },
    ]);

    // Act
    const response = await route(httpEvent(), fakeContext());

    // Assess
    expect(response.statusCode).toBe(200);
    expect(seen).toEqual(['extra', 'route']);
  });
});

describe('requestIdOf', () => {
  it("takes API Gateway's request id, and the Lambda's where serverless-offline has none", async () => {
    const { requestIdOf } = await import('#functions/http/problem-json.ts');
    const context = fakeContext({ awsRequestId: 'lambda-1' });
    expect(requestIdOf(httpEvent({ requestId: 'gw-1' }), context)).toBe('gw-1');
    // serverless-offline puts this one constant on every HTTP API event.
    expect(requestIdOf(httpEvent({ requestId: 'offlineContext_resourceId' }), context)).toBe(
      'lambda-1',
    );
  });
});
