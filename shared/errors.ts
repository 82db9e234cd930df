/**
 * The error family every layer throws. Modelled on jose: a stable string `code` that tests and
 * callers branch on, `statusCode` for the HTTP mapping, and `expose` (statusCode < 500, as in
 * middy) deciding whether `detail` may reach the client. Structured detail goes in `cause`.
 */
export type AppErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_AUTHENTICATION'
  | 'ERR_FORBIDDEN'
  | 'ERR_NOT_FOUND'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_CONFLICT'
  | 'ERR_CONFIG_MISSING'
  | 'ERR_UPSTREAM'
  | 'ERR_INTERNAL';

export interface AppErrorOptions {
  /** Safe, client-facing detail. Only sent when the error is exposed (status < 500). */
  detail?: string;
  /** Structured detail for logs and audit records. Never sent to the client. */
  cause?: unknown;
  /** Seconds, for 429 and 503 answers. */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  code: AppErrorCode;
  statusCode: number;
  expose: boolean;
  title: string;
  detail: string | undefined;
  retryAfterSeconds: number | undefined;

  constructor(
    code: AppErrorCode,
    statusCode: number,
    title: string,
    options: AppErrorOptions = {},
  ) {
    super(title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
    this.expose = statusCode < 500;
    this.title = title;
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** 400: the request is malformed. */
export class ValidationError extends AppError {
  constructor(detail: string, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super('ERR_BAD_REQUEST', 400, 'Bad Request', { ...options, detail });
  }
}

/**
 * 401: every authentication failure, whatever the reason, gives the client this same body.
 * The reason is kept in `reason` for the audit record and the log, never for the client.
 */
export class AuthenticationError extends AppError {
  reason: string;
  constructor(reason: string, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super('ERR_AUTHENTICATION', 401, 'Unauthorized', options);
    this.reason = reason;
  }
}

/** 403: authenticated, but no mapping allows this (or a rendered value failed its check). */
export class ForbiddenError extends AppError {
  reason: string;
  constructor(reason: string, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super('ERR_FORBIDDEN', 403, 'Forbidden', options);
    this.reason = reason;
  }
}

export class NotFoundError extends AppError {
  constructor(options: AppErrorOptions = {}) {
    super('ERR_NOT_FOUND', 404, 'Not Found', options);
  }
}

/** 405: the route exists, the method does not. `allow` becomes the `Allow` header (RFC 9110 §15.5.6). */
export class MethodNotAllowedError extends AppError {
  /** For the audit record. */
  reason: string;
  allow: readonly string[];
  constructor(allow: readonly string[], reason = 'method_not_allowed') {
    super('ERR_METHOD_NOT_ALLOWED', 405, 'Method Not Allowed');
    this.allow = allow;
    this.reason = reason;
  }
}

/** 415: a body in a media type the route does not read. */
export class UnsupportedMediaTypeError extends AppError {
  /** For the audit record. */
  reason: string;
  constructor(detail: string, reason = 'unsupported_media_type') {
    super('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported Media Type', { detail });
    this.reason = reason;
  }
}

export class PayloadTooLargeError extends AppError {
  /** For the audit record, e.g. `token_too_large` or `body_too_large`. */
  reason: string;
  constructor(detail: string, reason = 'payload_too_large') {
    super('ERR_PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', { detail });
    this.reason = reason;
  }
}

export class RateLimitedError extends AppError {
  /** Which limit was hit, for the audit record. */
  reason: string;
  constructor(retryAfterSeconds: number, reason = 'rate_limited') {
    super('ERR_RATE_LIMITED', 429, 'Too Many Requests', { retryAfterSeconds });
    this.reason = reason;
  }
}

/** 503: a dependency (STS, DynamoDB, the IdP) is unavailable. Retry later. */
export class UpstreamError extends AppError {
  constructor(cause: unknown, retryAfterSeconds = 1) {
    super('ERR_UPSTREAM', 503, 'Service Unavailable', { cause, retryAfterSeconds });
  }
}

/** Config files and the stored config: a list of precise problems, each with a path. */
export interface ConfigProblem {
  /** Dotted path into the config document, such as `mappings[2].sessionTags.team`. */
  path: string;
  message: string;
  /** `line:column` in the source file, when known. */
  location?: string;
}

export class ConfigInvalidError extends AppError {
  problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('ERR_CONFIG_INVALID', 500, 'Configuration invalid', { cause: problems });
    this.problems = problems;
  }
}

/** Another apply or rollback moved the CURRENT pointer first; nothing was changed. */
export class ConfigConflictError extends AppError {
  constructor(message: string) {
    super('ERR_CONFIG_CONFLICT', 500, message);
  }
}

/** No config has been applied yet, so nothing can be decided: fail closed. */
export class ConfigMissingError extends AppError {
  constructor() {
    super('ERR_CONFIG_MISSING', 503, 'Service Unavailable', {
      detail: undefined,
      retryAfterSeconds: 30,
    });
  }
}
