import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj, type MiddyfiedHandler, type Request } from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { coreMetrics, logger, metrics } from '#functions/http/observability.ts';
import { problemJsonErrors, requestIdOf } from '#functions/http/problem-json.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;
/** A route: the business part of a handler, with no logging, metrics or error formatting. */
export type HttpRoute = (event: HttpEvent, context: Context) => Promise<HttpResult>;
export type HttpMiddleware = MiddlewareObj<HttpEvent, HttpResult>;

/**
 * The standard stack every HTTP function uses: logger ▸ metrics ▸ `extra` (input parsing) ▸ errors.
 * middy runs `before` hooks in this order and `onError` in reverse, so problem+json runs first.
 */
export function withHttpStack(
  route: HttpRoute,
  extra: readonly HttpMiddleware[] = [],
): MiddyfiedHandler<HttpEvent, HttpResult> {
  const handler = middy<HttpEvent, HttpResult>()
    // logEvent is forced off: events carry bearer tokens and SAML assertions, and
    // POWERTOOLS_LOGGER_LOG_EVENT=true in the environment must not turn it on.
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(correlationId())
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(serverErrors());
  for (const middleware of extra) handler.use(middleware);
  return handler.use(problemJsonErrors({ logger })).handler(route);
}

/**
 * The API Gateway request id as the log correlation id: one property read, where Powertools'
 * `correlationIdPath` runs a JMESPath search per request (and bundles a JMESPath engine).
 */
function correlationId(): HttpMiddleware {
  return {
    before: function setCorrelationId(request) {
      logger.setCorrelationId(requestIdOf(request.event, request.context));
    },
  };
}

/**
 * Counts the function's 5xx answers, handled ones included: problem+json turns a thrown bug into
 * a 500 that Lambda's `Errors` metric never sees. Registered before the routes' middlewares, so
 * its `after` and `onError` run once problem+json has set the response.
 */
function serverErrors(): HttpMiddleware {
  const countServerError = (request: Request<HttpEvent, HttpResult, Error, Context>): void => {
    if ((request.response?.statusCode ?? 500) >= 500) {
      coreMetrics.count('Http5xx', { function_name: request.context.functionName });
    }
  };
  return { after: countServerError, onError: countServerError };
}

/** A JSON answer. Nothing the TVM says may be cached, so `no-store` unless a header overrides it. */
export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}
