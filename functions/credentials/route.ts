/**
 * `POST /v1/credentials` and `GET /v1/credentials` (DESIGN.md §4): HTTP in, the OIDC login,
 * issue() in the core, one of three answer formats out. No AWS event type goes deeper than this.
 */
import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import {
  type HttpEvent,
  type HttpResult,
  type HttpRoute,
  json,
} from '#functions/http/middleware.ts';
import { requestIdOf } from '#functions/http/problem-json.ts';
import type { OidcAuthenticator } from '#shared/auth/oidc.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import type { OidcProvider } from '#shared/config/schema.ts';
import { STS_LIMITS } from '#shared/config/sts.ts';
import {
  auditRefusal,
  type IssueDeps,
  type IssueOutcome,
  issue,
} from '#shared/credentials/issue.ts';
import { API_LOGIN, type Login } from '#shared/credentials/login.ts';
import {
  AuthenticationError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '#shared/errors.ts';

type Issued = Extract<IssueOutcome, { kind: 'issued' }>;

/** Past this the header is not a token anyone issued: refuse before decoding anything. */
export const MAX_AUTHORIZATION_BYTES = 16 * 1024;
/** `{provider, mapping, durationSeconds}` fits in far less; a larger body is abuse. */
export const MAX_BODY_BYTES = 4 * 1024;
/**
 * The only methods that vend. serverless.yml routes HEAD, PUT, PATCH and DELETE here too, only so
 * that they are refused with 405 and audited; a HEAD must never vend (and audit) like a GET.
 */
export const CREDENTIALS_METHODS = ['GET', 'POST'] as const;

/** What a request may name. Nothing else: a `roleArn`, `accountId` or `policy` is refused. */
interface RequestFields {
  provider?: string;
  mapping?: string;
  durationSeconds?: number;
  format?: 'container' | 'process';
}

const BODY_FIELDS = ['provider', 'mapping', 'durationSeconds'] as const;
const QUERY_FIELDS = ['provider', 'mapping', 'durationSeconds', 'format'] as const;
const DURATION_MESSAGE = `durationSeconds must be an integer from ${STS_LIMITS.minDurationSeconds} to ${STS_LIMITS.maxDurationSeconds}`;

/**
 * Checks the body (JSON values) or the query string (strings) by hand: four fields do not need a
 * schema library, and keeping zod out of the Lambda bundle keeps the cold start short.
 */
function checkFields(input: unknown, from: 'body' | 'query'): RequestFields {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError('invalid request');
  }
  const record = input as Record<string, unknown>;
  const allowed: readonly string[] = from === 'body' ? BODY_FIELDS : QUERY_FIELDS;
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new ValidationError(
      from === 'body'
        ? `unknown field(s): ${unknown.join(', ')}; the body takes provider, mapping and durationSeconds`
        : `unknown query parameter(s): ${unknown.join(', ')}; GET takes provider, mapping, durationSeconds and format`,
    );
  }
  const fields: RequestFields = {};
  for (const name of ['provider', 'mapping'] as const) {
    const value = record[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      throw new ValidationError(`invalid ${name}`);
    }
    fields[name] = value;
  }
  const duration = record.durationSeconds;
  if (duration !== undefined) {
    const value =
      from === 'query' && typeof duration === 'string' && /^[0-9]{1,5}$/.test(duration)
        ? Number(duration)
        : duration;
    if (
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < STS_LIMITS.minDurationSeconds ||
      value > STS_LIMITS.maxDurationSeconds
    ) {
      throw new ValidationError(DURATION_MESSAGE);
    }
    fields.durationSeconds = value;
  }
  const format = record.format;
  if (format !== undefined) {
    if (format !== 'container' && format !== 'process') throw new ValidationError('invalid format');
    fields.format = format;
  }
  return fields;
}

interface ParsedRequest {
  token: string;
  provider?: string;
  mapping?: string;
  durationSeconds?: number;
  format: 'json' | 'container' | 'process';
}

function bearerToken(event: HttpEvent): string {
  const header = event.headers?.authorization;
  if (header === undefined || header === '') throw new AuthenticationError('missing_token');
  if (Buffer.byteLength(header) > MAX_AUTHORIZATION_BYTES) {
    throw new PayloadTooLargeError(
      `the Authorization header is limited to ${MAX_AUTHORIZATION_BYTES} bytes`,
      'token_too_large',
    );
  }
  const match = /^Bearer +(\S+)$/i.exec(header);
  if (match?.[1] === undefined) throw new AuthenticationError('malformed_token');
  return match[1];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * `application/json`, optionally with parameters (RFC 9110 §8.3.1) of which `charset` may only be
 * UTF-8 (RFC 8259 §8.1). A form or text/plain body is refused: those are what a browser can send
 * cross-origin without a preflight, and no client of this API sends them.
 */
function isJsonMediaType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type = '', ...parameters] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return parameters.every((parameter) => {
    const separator = parameter.indexOf('=');
    const name = parameter.slice(0, separator).trim().toLowerCase();
    const value = parameter
      .slice(separator + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (separator === -1 || !TOKEN.test(name) || value === '') return false;
    return name !== 'charset' || value.toLowerCase() === 'utf-8';
  });
}

function parseBody(event: HttpEvent): RequestFields {
  const body: unknown = event.body;
  const contentType = event.headers?.['content-type'];
  const empty = body === undefined || body === null || body === '';
  if (empty && contentType === undefined) return {};
  // A Content-Type announces a body: it must be JSON, and an empty one is not a JSON object.
  if (!isJsonMediaType(contentType)) {
    throw new UnsupportedMediaTypeError('the body must be application/json');
  }
  // API Gateway always sends a string; serverless-offline passes a JSON `false` or `0` on as is.
  if (empty || typeof body !== 'string')
    throw new ValidationError('the body must be a JSON object');
  const text = event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(
      `the request body is limited to ${MAX_BODY_BYTES} bytes`,
      'body_too_large',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('the body must be a JSON object');
  }
  return checkFields(value, 'body');
}

function parseRequest(event: HttpEvent): ParsedRequest {
  const method = event.requestContext.http.method;
  if (!(CREDENTIALS_METHODS as readonly string[]).includes(method)) {
    throw new MethodNotAllowedError(CREDENTIALS_METHODS);
  }
  // The header's shape first (not its signature): a request with no bearer token is a 401
  // before any body parsing. The token itself is verified once the request is well formed.
  const token = bearerToken(event);
  if (method === 'POST') {
    const body = parseBody(event);
    return { token, ...body, format: 'json' };
  }
  const query = checkFields(event.queryStringParameters ?? {}, 'query');
  return {
    token,
    ...(query.provider === undefined ? {} : { provider: query.provider }),
    ...(query.mapping === undefined ? {} : { mapping: query.mapping }),
    ...(query.durationSeconds === undefined ? {} : { durationSeconds: query.durationSeconds }),
    format: query.format ?? 'container',
  };
}

/** Credentials must never be cached by a browser, a proxy or a CDN. */
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** The vended credentials in one of the three formats (POST /v1/login/credentials answers `json`). */
export function answer(issued: Issued, format: ParsedRequest['format']): HttpResult {
  const { credentials, decision } = issued;
  const { identity } = issued.login;
  const expiration = credentials.expiration.toISOString();
  if (format === 'container') {
    // The AWS SDKs' container credential provider (AWS_CONTAINER_CREDENTIALS_FULL_URI).
    return json(
      200,
      {
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        Token: credentials.sessionToken,
        Expiration: expiration,
        RoleArn: decision.roleArn,
      },
      NO_STORE,
    );
  }
  if (format === 'process') {
    // credential_process in ~/.aws/config.
    return json(
      200,
      {
        Version: 1,
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: expiration,
      },
      NO_STORE,
    );
  }
  return json(
    200,
    {
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        expiration,
      },
      provider: identity.provider,
      mapping: decision.mapping.id,
      roleArn: decision.roleArn,
      assumedRoleArn: credentials.assumedRoleArn,
      roleSessionName: decision.roleSessionName,
      sourceIdentity: decision.sourceIdentity,
      durationSeconds: decision.durationSeconds,
    },
    NO_STORE,
  );
}

export function credentialsRoute(deps: IssueDeps, authenticator: OidcAuthenticator): HttpRoute {
  return async function vendCredentialsRoute(
    event: HttpEvent,
    context: Context,
  ): Promise<HttpResult> {
    const audit = {
      requestId: requestIdOf(event, context),
      route: `${event.requestContext.http.method} /v1/credentials`,
      sourceIp: event.requestContext.http.sourceIp,
    };
    let request: ParsedRequest;
    try {
      request = parseRequest(event);
    } catch (error) {
      await auditRefusal(deps, audit, error);
      throw error;
    }
    const { token, provider } = request;
    const outcome = await issue(
      deps,
      {
        ...audit,
        // Leave 1.5 s of the Lambda's time for the audit write and the answer.
        deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
        ...(request.mapping === undefined ? {} : { mappingId: request.mapping }),
        ...(request.durationSeconds === undefined
          ? {}
          : { durationSeconds: request.durationSeconds }),
      },
      async (config): Promise<Login> => ({
        identity: await authenticator.authenticate(
          token,
          config.providers.filter((p): p is OidcProvider => p.type === 'oidc'),
          provider === undefined ? {} : { provider },
        ),
        context: API_LOGIN,
      }),
    );
    // API_LOGIN never offers a choice, so the core always decides.
    if (outcome.kind !== 'issued') throw new Error('an API login never offers a choice');
    return answer(outcome, request.format);
  };
}
