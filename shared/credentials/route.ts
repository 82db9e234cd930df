/**
 * `POST /v1/credentials` and `GET /v1/credentials` (DESIGN.md §4): HTTP in, issueCredentials,
 * one of three answer formats out. No AWS event type goes deeper than this file.
 */
import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ID_PATTERN, STS_LIMITS } from '#shared/config/schema.ts';
import { AuthenticationError, PayloadTooLargeError, ValidationError } from '#shared/errors.ts';
import { type HttpEvent, type HttpResult, type HttpRoute, json } from '#shared/http/middleware.ts';
import { auditRefusal, type IssueDeps, type Issued, issueCredentials } from './issue.ts';

/** Past this the header is not a token anyone issued: refuse before decoding anything. */
export const MAX_AUTHORIZATION_BYTES = 16 * 1024;
/** `{provider, mapping, durationSeconds}` fits in far less; a larger body is abuse. */
export const MAX_BODY_BYTES = 4 * 1024;

const Id = z.string().regex(ID_PATTERN);
const Duration = z
  .number()
  .int()
  .min(STS_LIMITS.minDurationSeconds)
  .max(STS_LIMITS.maxDurationSeconds);

/** Strict: a body naming `roleArn`, `accountId` or anything else is refused, never honoured. */
const PostBody = z.strictObject({
  provider: Id.optional(),
  mapping: Id.optional(),
  durationSeconds: Duration.optional(),
});

const GetQuery = z.strictObject({
  provider: Id.optional(),
  mapping: Id.optional(),
  durationSeconds: z
    .string()
    .regex(/^[0-9]{1,5}$/)
    .transform(Number)
    .pipe(Duration)
    .optional(),
  format: z.enum(['container', 'process']).optional(),
});

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

function parseBody(event: HttpEvent): z.output<typeof PostBody> {
  if (event.body === undefined || event.body === null || event.body === '') return {};
  const text = event.isBase64Encoded
    ? Buffer.from(event.body, 'base64').toString('utf8')
    : event.body;
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
  return parseOrThrow(PostBody, value);
}

function parseOrThrow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'field(s)' | 'query parameter(s)' = 'field(s)',
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  const detail =
    issue?.code === 'unrecognized_keys'
      ? `unknown ${where}: ${issue.keys.join(', ')}; ${where === 'field(s)' ? 'the body takes provider, mapping and durationSeconds' : 'GET takes provider, mapping, durationSeconds and format'}`
      : field === 'durationSeconds'
        ? `durationSeconds must be an integer from ${STS_LIMITS.minDurationSeconds} to ${STS_LIMITS.maxDurationSeconds}`
        : `invalid ${field || 'request'}`;
  throw new ValidationError(detail);
}

function parseRequest(event: HttpEvent): ParsedRequest {
  const method = event.requestContext.http.method;
  // The header's shape first (not its signature): a request with no bearer token is a 401
  // before any body parsing. The token itself is verified once the request is well formed.
  const token = bearerToken(event);
  if (method === 'POST') {
    const body = parseBody(event);
    return { token, ...body, format: 'json' };
  }
  const query = parseOrThrow(GetQuery, event.queryStringParameters ?? {}, 'query parameter(s)');
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

function answer(issued: Issued, format: ParsedRequest['format']): HttpResult {
  const { credentials, decision, identity } = issued;
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

export function credentialsRoute(deps: IssueDeps): HttpRoute {
  return async function vendCredentialsRoute(
    event: HttpEvent,
    context: Context,
  ): Promise<HttpResult> {
    const audit = {
      requestId: event.requestContext.requestId ?? context.awsRequestId,
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
    const issued = await issueCredentials(deps, {
      ...audit,
      // Leave 1.5 s of the Lambda's time for the audit write and the answer.
      deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
      token: request.token,
      ...(request.provider === undefined ? {} : { provider: request.provider }),
      ...(request.mapping === undefined ? {} : { mappingId: request.mapping }),
      ...(request.durationSeconds === undefined
        ? {}
        : { durationSeconds: request.durationSeconds }),
    });
    return answer(issued, request.format);
  };
}
