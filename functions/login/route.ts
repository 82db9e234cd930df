/**
 * The terminal login's routes (docs/api.md, "Terminal login"):
 *   POST   /v1/login/token        the loopback code + PKCE verifier → a login session handle
 *   GET    /v1/login/roles        the mappings the session's identity matches now
 *   POST   /v1/login/credentials  credentials for one of them, through the one core issue()
 *   DELETE /v1/login/session      ends the session
 * The token route answers RFC 6749 §5.2 JSON errors; the others RFC 9457 problem+json. The session
 * handle and the code never reach a log line or an audit record.
 */
import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import { answer } from '#functions/credentials/route.ts';
import {
  type HttpEvent,
  type HttpResult,
  type HttpRoute,
  json,
} from '#functions/http/middleware.ts';
import { problemResponse, requestIdOf } from '#functions/http/problem-json.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import { STS_LIMITS } from '#shared/config/sts.ts';
import { type AuditContext, auditRefusal, issue } from '#shared/credentials/issue.ts';
import {
  AppError,
  AuthenticationError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  reasonOf,
  UnsupportedMediaTypeError,
  ValidationError,
} from '#shared/errors.ts';
import { exchangeCode, type Grant } from '#shared/login/exchange.ts';
import { CODE_VERIFIER_PATTERN } from '#shared/login/loopback.ts';
import {
  authenticateSession,
  endSession,
  type LoginDeps,
  listRoles,
} from '#shared/login/session.ts';

export type { LoginDeps };

const PATH = /^\/v1\/login\/(token|roles|credentials|session)$/;
const METHODS: Record<string, string> = {
  token: 'POST',
  roles: 'GET',
  credentials: 'POST',
  session: 'DELETE',
};
/** A form of four short fields, or `{mapping, durationSeconds}`: anything larger is abuse. */
export const MAX_LOGIN_BODY_BYTES = 4 * 1024;
/** `Bearer tvms_` + 43 characters; far larger is not a handle anyone issued. */
const MAX_AUTHORIZATION_BYTES = 1024;
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function bodyText(event: HttpEvent): string {
  const raw = typeof event.body === 'string' ? event.body : '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_LOGIN_BODY_BYTES) {
    throw new PayloadTooLargeError(
      `the request body is limited to ${MAX_LOGIN_BODY_BYTES} bytes`,
      'body_too_large',
    );
  }
  return text;
}

function mediaType(event: HttpEvent): string {
  return (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** RFC 6749 §4.1.3 + RFC 7636 §4.5, each parameter exactly once (§3.2). */
function parseGrant(event: HttpEvent): Grant {
  if (mediaType(event) !== 'application/x-www-form-urlencoded') {
    throw new ValidationError('the body must be application/x-www-form-urlencoded', {
      reason: 'unsupported_content_type',
    });
  }
  const form = new URLSearchParams(bodyText(event));
  const one = (name: string): string => {
    const values = form.getAll(name);
    if (values.length !== 1 || values[0] === '') {
      throw new ValidationError(`${name} is required, once`, { reason: 'invalid_parameter' });
    }
    return values[0] ?? '';
  };
  if (one('grant_type') !== 'authorization_code') {
    throw new ValidationError('grant_type must be authorization_code', {
      reason: 'unsupported_grant_type',
    });
  }
  const code = one('code');
  const codeVerifier = one('code_verifier');
  const redirectUri = one('redirect_uri');
  if (!CODE_VERIFIER_PATTERN.test(codeVerifier)) {
    throw new ValidationError('code_verifier must be 43-128 unreserved characters', {
      reason: 'invalid_parameter',
    });
  }
  return { code, codeVerifier, redirectUri };
}

/** RFC 6749 §5.2: the error code only; why is in the audit record. */
function tokenError(error: unknown, deps: LoginDeps, requestId: string): HttpResult {
  const status = error instanceof AppError ? error.statusCode : 500;
  const reason = reasonOf(error);
  if (status >= 500 && status !== 503) {
    deps.core.logger.error('token request failed', { requestId, reason, error: error as Error });
  } else {
    deps.core.logger.warn('token request refused', { requestId, status, reason });
  }
  const retry: Record<string, string> =
    error instanceof AppError && error.retryAfterSeconds !== undefined
      ? { 'retry-after': String(Math.max(0, Math.ceil(error.retryAfterSeconds))) }
      : {};
  if (status === 401 || status === 403) return json(400, { error: 'invalid_grant' });
  if (reason === 'unsupported_grant_type') {
    return json(400, { error: 'unsupported_grant_type' });
  }
  if (status === 429 || status === 503) {
    return json(status, { error: 'temporarily_unavailable' }, retry);
  }
  if (status >= 400 && status < 500) return json(400, { error: 'invalid_request' });
  return json(500, { error: 'server_error' });
}

function bearerHandle(event: HttpEvent): string {
  const header = event.headers?.authorization;
  if (header === undefined || header === '') throw new AuthenticationError('missing_token');
  if (Buffer.byteLength(header) > MAX_AUTHORIZATION_BYTES) {
    throw new AuthenticationError('session_invalid');
  }
  const match = /^Bearer +(\S+)$/i.exec(header);
  if (match?.[1] === undefined) throw new AuthenticationError('malformed_token');
  return match[1];
}

interface CredentialsRequest {
  mapping: string;
  durationSeconds?: number;
}

function parseCredentialsRequest(event: HttpEvent): CredentialsRequest {
  if (mediaType(event) !== 'application/json') {
    throw new UnsupportedMediaTypeError('the body must be application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(bodyText(event));
  } catch {
    throw new ValidationError('the body must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('the body must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter(
    (key) => key !== 'mapping' && key !== 'durationSeconds',
  );
  if (unknown.length > 0) {
    throw new ValidationError(
      `unknown field(s): ${unknown.join(', ')}; the body takes mapping and durationSeconds`,
    );
  }
  const { mapping, durationSeconds } = record;
  if (typeof mapping !== 'string' || !ID_PATTERN.test(mapping)) {
    throw new ValidationError('mapping is required: the id of one of GET /v1/login/roles');
  }
  if (durationSeconds === undefined) return { mapping };
  if (
    typeof durationSeconds !== 'number' ||
    !Number.isInteger(durationSeconds) ||
    durationSeconds < STS_LIMITS.minDurationSeconds ||
    durationSeconds > STS_LIMITS.maxDurationSeconds
  ) {
    throw new ValidationError(
      `durationSeconds must be an integer from ${STS_LIMITS.minDurationSeconds} to ${STS_LIMITS.maxDurationSeconds}`,
    );
  }
  return { mapping, durationSeconds };
}

/** A refusal as problem+json; an unknown, ended or expired session says so (RFC 6750 §3.1). */
function sessionProblem(error: unknown, deps: LoginDeps, requestId: string): HttpResult {
  const response = problemResponse(error, requestId, deps.core.logger);
  if (reasonOf(error) === 'session_invalid') {
    response.headers = { ...response.headers, 'www-authenticate': 'Bearer error="invalid_token"' };
  }
  return response;
}

async function token(deps: LoginDeps, audit: AuditContext, event: HttpEvent) {
  let grant: Grant;
  try {
    grant = parseGrant(event);
  } catch (error) {
    await auditRefusal(deps.core, audit, error);
    throw error;
  }
  const created = await exchangeCode(deps, audit, grant);
  return json(
    200,
    {
      session: created.handle,
      token_type: 'tvm-session',
      expires_at: new Date(created.session.expiresAt * 1000).toISOString(),
      provider: created.session.provider,
    },
    NO_STORE,
  );
}

async function credentials(
  deps: LoginDeps,
  audit: AuditContext,
  event: HttpEvent,
  context: Context,
) {
  let handle: string;
  let body: CredentialsRequest;
  try {
    handle = bearerHandle(event);
    body = parseCredentialsRequest(event);
  } catch (error) {
    await auditRefusal(deps.core, audit, error);
    throw error;
  }
  const outcome = await issue(
    deps.core,
    {
      ...audit,
      // Leave 1.5 s of the Lambda's time for the audit write and the answer.
      deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
      mappingId: body.mapping,
      ...(body.durationSeconds === undefined ? {} : { durationSeconds: body.durationSeconds }),
    },
    (config) => authenticateSession({ store: deps.store, now: deps.core.now }, handle, config),
  );
  if (outcome.kind !== 'issued') throw new Error('a login session never offers a choice');
  return answer(outcome, 'json');
}

export function loginRoute(deps: LoginDeps): HttpRoute {
  return async function loginHandler(event: HttpEvent, context: Context): Promise<HttpResult> {
    const requestId = requestIdOf(event, context);
    const method = event.requestContext.http.method;
    const action = PATH.exec(event.rawPath ?? '')?.[1];
    const audit: AuditContext = {
      requestId,
      route: `${method} /v1/login/${action ?? '{unknown}'}`,
      sourceIp: event.requestContext.http.sourceIp,
    };
    try {
      if (action === undefined) throw new NotFoundError();
      const allowed = METHODS[action] ?? '';
      if (method !== allowed) {
        const error = new MethodNotAllowedError([allowed]);
        await auditRefusal(deps.core, audit, error);
        throw error;
      }
      if (action === 'token') return await token(deps, audit, event);
      if (action === 'credentials') return await credentials(deps, audit, event, context);
      const handle = await (async () => {
        try {
          return bearerHandle(event);
        } catch (error) {
          await auditRefusal(deps.core, audit, error);
          throw error;
        }
      })();
      if (action === 'roles') {
        const { roles, expiresAt } = await listRoles(deps, audit, handle);
        return json(200, { roles, expires_at: expiresAt.toISOString() }, NO_STORE);
      }
      await endSession(deps, audit, handle);
      return { statusCode: 204, headers: NO_STORE, body: '' };
    } catch (error) {
      if (action === 'token' && method === 'POST') return tokenError(error, deps, requestId);
      return sessionProblem(error, deps, requestId);
    }
  };
}
