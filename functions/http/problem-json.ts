import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { AppError, type AppErrorCode, MethodNotAllowedError, reasonOf } from '#shared/errors.ts';

/** The one thing this middleware needs from a logger (Powertools' Logger fits). */
export interface ProblemLogger {
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface ProblemJsonOptions {
  logger: ProblemLogger;
}

/** RFC 9457 problem details, the only error body the HTTP API ever sends. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  requestId: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

interface PublicProblem {
  code: AppErrorCode;
  status: number;
  title: string;
  detail: string | undefined;
  retryAfterSeconds: number | undefined;
  /** The methods the route takes, for a 405's `Allow` header. */
  allow?: readonly string[];
}

const INTERNAL: PublicProblem = {
  code: 'ERR_INTERNAL',
  status: 500,
  title: 'Internal Server Error',
  detail: undefined,
  retryAfterSeconds: undefined,
};

const BAD_REQUEST = { code: 'ERR_BAD_REQUEST', title: 'Bad Request' } as const;

// Errors thrown by third-party middy middlewares (http-errors style) map onto our own codes.
const CODE_BY_STATUS: Readonly<Record<number, { code: AppErrorCode; title: string }>> = {
  400: BAD_REQUEST,
  401: { code: 'ERR_AUTHENTICATION', title: 'Unauthorized' },
  403: { code: 'ERR_FORBIDDEN', title: 'Forbidden' },
  404: { code: 'ERR_NOT_FOUND', title: 'Not Found' },
  405: { code: 'ERR_METHOD_NOT_ALLOWED', title: 'Method Not Allowed' },
  413: { code: 'ERR_PAYLOAD_TOO_LARGE', title: 'Payload Too Large' },
  415: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', title: 'Unsupported Media Type' },
  429: { code: 'ERR_RATE_LIMITED', title: 'Too Many Requests' },
};

/** `ERR_PAYLOAD_TOO_LARGE` → `urn:tvm:problem:payload-too-large`. */
export function problemType(code: AppErrorCode): string {
  return `urn:tvm:problem:${code.replace(/^ERR_/, '').toLowerCase().replaceAll('_', '-')}`;
}

/** Decides what the client may see; everything else stays in the log. */
function toPublicProblem(error: unknown): PublicProblem {
  if (error instanceof AppError) {
    if (error.expose) {
      return {
        code: error.code,
        status: error.statusCode,
        title: error.title,
        detail: error.detail,
        retryAfterSeconds: error.retryAfterSeconds,
        ...(error instanceof MethodNotAllowedError ? { allow: error.allow } : {}),
      };
    }
    // 503 keeps its status so clients retry; its cause (which dependency, why) stays private.
    if (error.statusCode === 503) {
      return {
        code: 'ERR_UPSTREAM',
        status: 503,
        title: 'Service Unavailable',
        detail: undefined,
        retryAfterSeconds: error.retryAfterSeconds,
      };
    }
    return INTERNAL;
  }
  if (isExposedHttpError(error)) {
    // Their messages are not ours to vouch for, so only the standard title goes out.
    const known = CODE_BY_STATUS[error.statusCode];
    if (known !== undefined) {
      return {
        ...known,
        status: error.statusCode,
        detail: undefined,
        retryAfterSeconds: undefined,
      };
    }
    return { ...BAD_REQUEST, status: 400, detail: undefined, retryAfterSeconds: undefined };
  }
  return INTERNAL;
}

function isExposedHttpError(error: unknown): error is { statusCode: number; expose: true } {
  if (typeof error !== 'object' || error === null) return false;
  const { statusCode, expose } = error as { statusCode?: unknown; expose?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 && expose === true;
}

/** serverless-offline gives every HTTP API event this same requestId: it identifies nothing. */
const OFFLINE_REQUEST_ID = 'offlineContext_resourceId';

/**
 * The id a client quotes and the audit record carries: API Gateway's request id, or the Lambda
 * request id where there is no real one (serverless-offline, direct invokes).
 */
export function requestIdOf(
  event: unknown,
  context: Pick<Context, 'awsRequestId'> | undefined,
): string {
  const requestContext = (event as { requestContext?: { requestId?: unknown } } | null)
    ?.requestContext;
  const id = requestContext?.requestId;
  if (typeof id === 'string' && id !== '' && id !== OFFLINE_REQUEST_ID) return id;
  return context?.awsRequestId ?? 'unknown';
}

function logError(logger: ProblemLogger, error: unknown, problem: PublicProblem): void {
  if (problem.code === 'ERR_INTERNAL' || problem.status >= 500) {
    logger.error('request failed', { error, status: problem.status });
    return;
  }
  // The reason (why authentication or authorization failed) is for operators, never the client.
  const reason = reasonOf(error);
  // An access_token refusal names its marker, which the operator needs to judge the switch.
  const marker = (error as { cause?: { marker?: unknown } }).cause?.marker;
  // Name and reason only: a rejected token's claims (in jose's error causes) are personal data.
  logger.warn('request rejected', {
    code: problem.code,
    status: problem.status,
    reason,
    ...(typeof marker === 'string' ? { marker } : {}),
    errorName: (error as { name?: unknown } | null)?.name,
  });
}

/** Builds the RFC 9457 response for any thrown value. */
export function problemResponse(
  error: unknown,
  requestId: string,
  logger: ProblemLogger,
): APIGatewayProxyStructuredResultV2 {
  const problem = toPublicProblem(error);
  logError(logger, error, problem);
  const body: ProblemDetails = {
    type: problemType(problem.code),
    title: problem.title,
    status: problem.status,
    ...(problem.detail === undefined ? {} : { detail: problem.detail }),
    requestId,
  };
  const headers: Record<string, string> = {
    'content-type': PROBLEM_CONTENT_TYPE,
    'cache-control': 'no-store',
  };
  // RFC 9110 §11.6.1: a 401 names the scheme; the bare challenge reveals no reason.
  if (problem.status === 401) headers['www-authenticate'] = 'Bearer';
  // RFC 9110 §15.5.6: a 405 must say which methods the route does take.
  if (problem.allow !== undefined) headers.allow = problem.allow.join(', ');
  if (
    (problem.status === 429 || problem.status === 503) &&
    problem.retryAfterSeconds !== undefined
  ) {
    // Retry-After takes whole seconds (RFC 9110 §10.2.3).
    headers['retry-after'] = String(Math.max(0, Math.ceil(problem.retryAfterSeconds)));
  }
  return { statusCode: problem.status, headers, body: JSON.stringify(body) };
}

/**
 * Register last, so its onError runs first. It sets `request.response` instead of returning it,
 * so the logger and metrics onError hooks still run (reset keys, flush metrics).
 */
export function problemJsonErrors(
  options: ProblemJsonOptions,
): MiddlewareObj<unknown, APIGatewayProxyStructuredResultV2> {
  const { logger } = options;
  const onError = (request: Request<unknown, APIGatewayProxyStructuredResultV2>): void => {
    request.response = problemResponse(
      request.error,
      requestIdOf(request.event, request.context),
      logger,
    );
  };
  return { onError, name: 'problemJsonErrors' };
}
