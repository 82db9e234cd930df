/**
 * `POST /v1/cognito-identity` (and `/v1/cognito-identity/`, where the JS SDK sends): Cognito
 * Identity's awsJson1_1 protocol for GetId and GetCredentialsForIdentity, so the AWS SDKs and
 * Amplify work with only their endpoint changed. Errors are the protocol's own
 * `{"__type", "message"}` plus `x-amzn-errortype`, never problem+json, and never token detail.
 */
import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import type { HttpEvent, HttpResult, HttpRoute } from '#functions/http/middleware.ts';
import { requestIdOf } from '#functions/http/problem-json.ts';
import { type CognitoDeps, cognitoLogin, getId, type Logins } from '#shared/cognito/identity.ts';
import {
  COGNITO_LIMITS,
  IDENTITY_ID_PATTERN,
  IDENTITY_POOL_ID_PATTERN,
} from '#shared/config/limits.ts';
import { type AuditContext, auditRefusal, issue } from '#shared/credentials/issue.ts';
import { AppError, MethodNotAllowedError, ValidationError } from '#shared/errors.ts';

export const COGNITO_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'AWSCognitoIdentityService.';
export const COGNITO_OPERATIONS = ['GetId', 'GetCredentialsForIdentity'] as const;
type Operation = (typeof COGNITO_OPERATIONS)[number];

/** 10 Logins of 50,000 characters each, their keys and the ids fit well inside this. */
export const MAX_COGNITO_BODY_BYTES = 600 * 1024;
/** Cognito's IdentityProviderName (a `Logins` key): 1–128 characters. */
const MAX_LOGINS_KEY_CHARS = 128;
/** Cognito's ARNString: 20–2048 characters. */
const ROLE_ARN_CHARS = { min: 20, max: 2048 } as const;
const ACCOUNT_ID = /^[0-9]{12}$/;

const FIELDS: Readonly<Record<Operation, readonly string[]>> = {
  GetId: ['IdentityPoolId', 'AccountId', 'Logins'],
  GetCredentialsForIdentity: ['IdentityId', 'Logins', 'CustomRoleArn'],
};

/** The Cognito error names this route answers with. */
export type CognitoErrorName =
  | 'NotAuthorizedException'
  | 'ResourceNotFoundException'
  | 'InvalidParameterException'
  | 'TooManyRequestsException'
  | 'ResourceConflictException'
  | 'InternalErrorException';

interface WireError {
  name: CognitoErrorName;
  status: number;
  message: string;
  retryAfterSeconds?: number;
  /** 405: the methods the route answers (RFC 9110 §15.5.6). */
  allow?: string;
}

function invalid(
  message: string,
  reason:
    | 'invalid_parameter'
    | 'invalid_target'
    | 'unsupported_content_type'
    | 'body_too_large' = 'invalid_parameter',
): ValidationError {
  return new ValidationError(message, { reason });
}

/** `application/x-amz-json-1.1`, optionally with `charset=utf-8` (what the SDKs send). */
function isAmzJson(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type = '', ...parameters] = header.split(';');
  if (type.trim().toLowerCase() !== COGNITO_CONTENT_TYPE) return false;
  return parameters.every((parameter) => /^\s*charset\s*=\s*"?utf-8"?\s*$/i.test(parameter));
}

function operationOf(event: HttpEvent): Operation {
  const target = event.headers?.['x-amz-target'];
  const name = target?.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  if (name === undefined || !(COGNITO_OPERATIONS as readonly string[]).includes(name)) {
    throw invalid(
      'X-Amz-Target must be AWSCognitoIdentityService.GetId or AWSCognitoIdentityService.GetCredentialsForIdentity',
      'invalid_target',
    );
  }
  return name as Operation;
}

function bodyOf(event: HttpEvent): Record<string, unknown> {
  if (!isAmzJson(event.headers?.['content-type'])) {
    throw invalid(`Content-Type must be ${COGNITO_CONTENT_TYPE}`, 'unsupported_content_type');
  }
  const raw: unknown = event.body;
  if (typeof raw !== 'string' || raw === '') throw invalid('the body must be a JSON object');
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_COGNITO_BODY_BYTES) {
    throw invalid(`the body is limited to ${MAX_COGNITO_BODY_BYTES} bytes`, 'body_too_large');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('the body must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function checkFields(body: Record<string, unknown>, operation: Operation): void {
  const allowed = FIELDS[operation];
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    // Field names only, cut short: a name is client text, never echoed at length.
    const names = unknown.slice(0, 5).map((key) => JSON.stringify(key.slice(0, 64)));
    throw invalid(`unknown field(s) ${names.join(', ')}; ${operation} takes ${allowed.join(', ')}`);
  }
}

/** `Logins`: at most 10 entries, keys of 1–128 characters, tokens of 1–50,000; nothing echoed. */
function loginsOf(value: unknown): Logins {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('Logins must be a map of provider names to tokens');
  }
  const entries = Object.entries(value);
  if (entries.length > COGNITO_LIMITS.maxLogins) {
    throw invalid(`Logins must have at most ${COGNITO_LIMITS.maxLogins} entries`);
  }
  const logins: Record<string, string> = Object.create(null);
  for (const [key, token] of entries) {
    if (key.length === 0 || key.length > MAX_LOGINS_KEY_CHARS) {
      throw invalid(`each Logins key must be 1–${MAX_LOGINS_KEY_CHARS} characters`);
    }
    if (
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > COGNITO_LIMITS.maxTokenChars
    ) {
      throw invalid(
        `each Logins token must be a string of 1–${COGNITO_LIMITS.maxTokenChars} characters`,
      );
    }
    logins[key] = token;
  }
  return Object.freeze(logins);
}

interface GetIdInput {
  operation: 'GetId';
  identityPoolId: string;
  logins: Logins;
}
interface GetCredentialsInput {
  operation: 'GetCredentialsForIdentity';
  identityId: string;
  logins: Logins;
  customRoleArn?: string;
}

function parseRequest(event: HttpEvent): GetIdInput | GetCredentialsInput {
  // The method first: a GET is refused as such whatever headers it carries.
  if (event.requestContext.http.method !== 'POST') throw new MethodNotAllowedError(['POST']);
  const operation = operationOf(event);
  const body = bodyOf(event);
  checkFields(body, operation);
  const logins = loginsOf(body.Logins);
  if (operation === 'GetId') {
    const poolId = body.IdentityPoolId;
    if (typeof poolId !== 'string' || !IDENTITY_POOL_ID_PATTERN.test(poolId)) {
      throw invalid('IdentityPoolId must be "<region>:<uuid>"');
    }
    const accountId = body.AccountId;
    if (accountId !== undefined && (typeof accountId !== 'string' || !ACCOUNT_ID.test(accountId))) {
      throw invalid('AccountId must be 12 digits');
    }
    return { operation, identityPoolId: poolId, logins };
  }
  const identityId = body.IdentityId;
  // A well-typed id of the wrong shape is refused as unknown (NotAuthorized), after the Logins.
  if (
    typeof identityId !== 'string' ||
    identityId.length === 0 ||
    identityId.length > COGNITO_LIMITS.maxIdChars
  ) {
    throw invalid(`IdentityId must be a string of 1–${COGNITO_LIMITS.maxIdChars} characters`);
  }
  const customRoleArn = body.CustomRoleArn;
  if (
    customRoleArn !== undefined &&
    (typeof customRoleArn !== 'string' ||
      customRoleArn.length < ROLE_ARN_CHARS.min ||
      customRoleArn.length > ROLE_ARN_CHARS.max)
  ) {
    throw invalid(
      `CustomRoleArn must be a string of ${ROLE_ARN_CHARS.min}–${ROLE_ARN_CHARS.max} characters`,
    );
  }
  return {
    operation,
    identityId,
    logins,
    ...(customRoleArn === undefined ? {} : { customRoleArn }),
  };
}

const INVALID_PARAMETER_CODES = new Set([
  'ERR_BAD_REQUEST',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_METHOD_NOT_ALLOWED',
]);

/** The protocol's error for anything thrown; the audit reason never reaches the client. */
export function wireError(error: unknown, poolId?: string): WireError {
  if (!(error instanceof AppError)) {
    return { name: 'InternalErrorException', status: 500, message: 'Internal error.' };
  }
  if (error instanceof MethodNotAllowedError) {
    // serverless.yml routes the other methods here only so that they are refused like this.
    return {
      name: 'InvalidParameterException',
      status: 405,
      message: 'Only POST is supported.',
      allow: error.allow.join(', '),
    };
  }
  switch (error.reason) {
    case 'unknown_identity_pool':
      return {
        name: 'ResourceNotFoundException',
        status: 400,
        message: `IdentityPool '${poolId ?? ''}' not found.`,
      };
    case 'logins_conflict':
      return {
        name: 'ResourceConflictException',
        status: 400,
        message: 'The Logins belong to different users; linking them is not supported.',
      };
    case 'unauthenticated_not_allowed':
      return {
        name: 'NotAuthorizedException',
        status: 400,
        message: 'Unauthenticated access is not supported for this identity pool.',
      };
    case 'identity_not_found':
      return {
        name: 'NotAuthorizedException',
        status: 400,
        message:
          "Logins don't match. Please include at least one valid login for this identity or identity pool.",
      };
    default:
      break;
  }
  if (error.code === 'ERR_AUTHENTICATION') {
    return { name: 'NotAuthorizedException', status: 400, message: 'Invalid login token.' };
  }
  if (error.code === 'ERR_FORBIDDEN') {
    return {
      name: 'NotAuthorizedException',
      status: 400,
      message: 'Not authorized to get credentials for this identity.',
    };
  }
  if (INVALID_PARAMETER_CODES.has(error.code)) {
    return {
      name: 'InvalidParameterException',
      status: 400,
      message: error.detail ?? 'Invalid parameter.',
    };
  }
  if (error.code === 'ERR_RATE_LIMITED') {
    return {
      name: 'TooManyRequestsException',
      status: 400,
      message: 'Rate exceeded.',
      retryAfterSeconds: error.retryAfterSeconds ?? 1,
    };
  }
  if (error.statusCode === 503) {
    return {
      name: 'InternalErrorException',
      status: 503,
      message: 'Service unavailable; retry later.',
      retryAfterSeconds: error.retryAfterSeconds ?? 1,
    };
  }
  return { name: 'InternalErrorException', status: 500, message: 'Internal error.' };
}

function headers(requestId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': COGNITO_CONTENT_TYPE,
    // Credentials and identity ids must never be cached by a browser, a proxy or a CDN.
    'cache-control': 'no-store',
    'x-amzn-requestid': requestId,
    ...extra,
  };
}

function errorResult(wire: WireError, requestId: string): HttpResult {
  return {
    statusCode: wire.status,
    headers: headers(requestId, {
      'x-amzn-errortype': wire.name,
      ...(wire.retryAfterSeconds === undefined
        ? {}
        : { 'retry-after': String(wire.retryAfterSeconds) }),
      ...(wire.allow === undefined ? {} : { allow: wire.allow }),
    }),
    body: JSON.stringify({ __type: wire.name, message: wire.message }),
  };
}

function ok(body: unknown, requestId: string): HttpResult {
  return { statusCode: 200, headers: headers(requestId), body: JSON.stringify(body) };
}

export function cognitoIdentityRoute(deps: CognitoDeps): HttpRoute {
  return async function cognitoIdentity(event: HttpEvent, context: Context): Promise<HttpResult> {
    const requestId = requestIdOf(event, context);
    const audit: AuditContext = {
      requestId,
      route: 'POST /v1/cognito-identity',
      sourceIp: event.requestContext.http.sourceIp,
    };
    let request: GetIdInput | GetCredentialsInput;
    try {
      request = parseRequest(event);
    } catch (error) {
      await auditRefusal(deps.issue, audit, error);
      return errorResult(wireError(error), requestId);
    }
    const route = `${audit.route} ${request.operation}`;
    try {
      if (request.operation === 'GetId') {
        const identityId = await getId(
          deps,
          { ...audit, route },
          { identityPoolId: request.identityPoolId, logins: request.logins },
        );
        return ok({ IdentityId: identityId }, requestId);
      }
      const outcome = await issue(
        deps.issue,
        {
          ...audit,
          route,
          // Only a well-formed id goes into the record: the field is client text otherwise.
          ...(IDENTITY_ID_PATTERN.test(request.identityId)
            ? { identityId: request.identityId }
            : {}),
          // Leave 1.5 s of the Lambda's time for the audit write and the answer.
          deadline: Date.now() + context.getRemainingTimeInMillis() - 1_500,
        },
        cognitoLogin(deps, {
          identityId: request.identityId,
          logins: request.logins,
          ...(request.customRoleArn === undefined ? {} : { customRoleArn: request.customRoleArn }),
        }),
      );
      if (outcome.kind !== 'issued') throw new Error('a Cognito login never offers a choice');
      const { credentials } = outcome;
      return ok(
        {
          // The identity the session is for: a signed-in guest's is the user's own.
          IdentityId: outcome.login.context.identityId,
          Credentials: {
            AccessKeyId: credentials.accessKeyId,
            SecretKey: credentials.secretAccessKey,
            SessionToken: credentials.sessionToken,
            // awsJson1_1 timestamps are epoch seconds as a JSON number.
            Expiration: Math.floor(credentials.expiration.getTime() / 1000),
          },
        },
        requestId,
      );
    } catch (error) {
      // getId() and issue() audited the refusal already.
      const wire = wireError(
        error,
        request.operation === 'GetId' ? request.identityPoolId : undefined,
      );
      if (wire.status >= 500) {
        deps.issue.logger.error('cognito-identity request failed', { error: error as Error });
      }
      return errorResult(wire, requestId);
    }
  };
}
