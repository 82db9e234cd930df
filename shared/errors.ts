/**
 * The error family every layer throws. Modelled on jose: a stable string `code` that tests and
 * callers branch on, `statusCode` for the HTTP mapping, and `expose` (statusCode < 500, as in
 * middy) deciding whether `detail` may reach the client. Structured detail goes in `cause`, and
 * every error carries a typed `reason` from the one vocabulary below: the audit record's reason.
 */
export const APP_ERROR_CODES = [
  'ERR_BAD_REQUEST',
  'ERR_AUTHENTICATION',
  'ERR_FORBIDDEN',
  'ERR_NOT_FOUND',
  'ERR_CONFLICT',
  'ERR_METHOD_NOT_ALLOWED',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_RATE_LIMITED',
  'ERR_CONFIG_INVALID',
  'ERR_CONFIG_CONFLICT',
  'ERR_CONFIG_MISSING',
  'ERR_UPSTREAM',
  'ERR_INTERNAL',
] as const;
export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

// ---------------------------------------------------------------------------------------------
// Audit reasons: why a request ended as it did. Never sent to the client (401 and 403 bodies
// are generic); written to the audit record and the log. docs/api.md lists every one.

/** 401: the token or the assertion does not prove who the caller is (OIDC and SAML). */
export const AUTHENTICATION_REASONS = [
  'missing_token',
  'token_too_large',
  'malformed_token',
  'unsupported_token_type',
  'embedded_key_header',
  'unsupported_crit_header',
  'invalid_kid',
  'algorithm_not_allowed',
  'unknown_issuer',
  'provider_mismatch',
  'unknown_kid',
  'signature_invalid',
  'typ_mismatch',
  'access_token',
  'audience_mismatch',
  'azp_mismatch',
  'token_use_mismatch',
  'expired',
  'not_yet_valid',
  'issued_in_future',
  'token_too_old',
  'invalid_claims',
  'missing_subject',
  // SAML responses, in the order the ACS checks them.
  'missing_saml_response',
  'malformed_response',
  'doctype_not_allowed',
  'xml_comment',
  'not_a_response',
  'encrypted_assertion_unsupported',
  'assertion_undecryptable',
  'assertion_count',
  'assertion_misplaced',
  'signature_misplaced',
  'assertion_unsigned',
  'response_unsigned',
  'signature_malformed',
  'duplicate_id',
  'transform_not_allowed',
  'status_not_success',
  'issuer_mismatch',
  'destination_mismatch',
  'subject_confirmation_invalid',
  'recipient_mismatch',
  'assertion_too_old',
  'invalid_time',
  'in_response_to_missing',
  'in_response_to_mismatch',
  'in_response_to_unknown',
  'replayed',
  // SAML login bindings: RelayState, the login cookie, the chooser's single-use token.
  'relay_state_invalid',
  'login_not_bound',
  'selection_invalid',
  'selection_not_bound',
  // Cognito-compatible identities (POST /v1/cognito-identity).
  'unauthenticated_not_allowed',
  'logins_key_not_accepted',
  'identity_not_found',
  // Terminal logins (POST /v1/login/token, then the session's bearer handle).
  'code_invalid',
  'code_expired',
  'pkce_mismatch',
  'redirect_uri_mismatch',
  'session_invalid',
  // The device flow (RFC 8628): the device code at the token route, the confirm page's token.
  'device_code_invalid',
  'device_code_expired',
  'device_code_used',
  'device_confirm_invalid',
  'device_confirm_not_bound',
  // The access portal: an action token unknown, used or expired, or posted with another session.
  'portal_action_invalid',
  'portal_action_not_bound',
] as const;

/** 403: authenticated, but nothing allows this. */
export const FORBIDDEN_REASONS = [
  'denied_principal',
  'no_matching_mapping',
  'mapping_not_allowed',
  'ambiguous_mapping',
  'claim_malformed',
  'claim_value_rejected',
  'policy_too_large',
  'role_not_asserted',
  'sts_misconfigured',
  // The device flow: the person chose Deny on the confirm page.
  'device_access_denied',
] as const;

/** 400, 404, 405, 413, 415: the request itself is wrong. */
export const REQUEST_REASONS = [
  'bad_request',
  'invalid_target',
  'invalid_mapping',
  'relay_state_invalid',
  'missing_saml_response',
  'unsupported_content_type',
  'not_found',
  'unknown_provider',
  'method_not_allowed',
  'binding_not_allowed',
  'payload_too_large',
  'token_too_large',
  'body_too_large',
  'saml_response_too_large',
  'unsupported_media_type',
  'invalid_parameter',
  'unknown_identity_pool',
  'logins_conflict',
  // Terminal logins: the loopback redirect and PKCE at the start, the token request's grant.
  'invalid_redirect_uri',
  'pkce_required',
  'unsupported_grant_type',
  // The device flow: a wrong user code, a poll before the interval, a login with an unknown device.
  'user_code_invalid',
  'device_slow_down',
  'device_ref_invalid',
] as const;

/** 429. */
export const RATE_LIMIT_REASONS = [
  'rate_limited_principal',
  'rate_limited_ip',
  // New guest identities of one identity pool, from all addresses.
  'rate_limited_pool',
  // The device flow, per source address: starting device logins, and typing user codes (guessing).
  'rate_limited_device_authorize',
  'rate_limited_user_code',
] as const;

/** 503 (and 500 for an STS answer we cannot classify): a dependency failed; fail closed. */
export const UPSTREAM_REASONS = [
  'upstream',
  'config_missing',
  'config_unavailable',
  'guard_unavailable',
  'jwks_unavailable',
  'sts_throttled',
  'sts_unavailable',
  'sts_timeout',
  'sts_unknown',
] as const;

/** Admin-side config errors (never on the request path). */
export const CONFIG_REASONS = ['config_invalid', 'config_conflict'] as const;

/** What was written when nothing went wrong, and for anything unforeseen. */
export const OUTCOME_REASONS = [
  'ok',
  'reused',
  'role_choice_offered',
  'internal_error',
  // Terminal logins: the one-time code handed to the loopback, and the login session's life.
  'cli_code_issued',
  'session_created',
  'roles_listed',
  'session_ended',
  // The device flow's steps: started, code typed, confirm page shown, decided, polled too early.
  'device_code_issued',
  'device_code_entered',
  'device_confirm_offered',
  'device_approved',
  'device_denied',
  'device_authorization_pending',
  // The access portal: a SAML login that opened a portal session (its cookie set), a page shown.
  'portal_session_created',
  'portal_viewed',
] as const;

export type AuthFailureReason = (typeof AUTHENTICATION_REASONS)[number];
export type DenyReason = (typeof FORBIDDEN_REASONS)[number];
export type RequestReason = (typeof REQUEST_REASONS)[number];
export type RateLimitReason = (typeof RATE_LIMIT_REASONS)[number];
export type UpstreamReason = (typeof UPSTREAM_REASONS)[number];

/** Every reason an audit record can carry. */
export const AUDIT_REASONS = [
  ...new Set([
    ...OUTCOME_REASONS,
    ...AUTHENTICATION_REASONS,
    ...FORBIDDEN_REASONS,
    ...REQUEST_REASONS,
    ...RATE_LIMIT_REASONS,
    ...UPSTREAM_REASONS,
    ...CONFIG_REASONS,
  ]),
] as const;
export type AuditReason =
  | AuthFailureReason
  | DenyReason
  | RequestReason
  | RateLimitReason
  | UpstreamReason
  | (typeof CONFIG_REASONS)[number]
  | (typeof OUTCOME_REASONS)[number];

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
  /** Why, for the audit record and the log; never sent to the client. */
  reason: AuditReason;
  statusCode: number;
  expose: boolean;
  title: string;
  detail: string | undefined;
  retryAfterSeconds: number | undefined;

  constructor(
    code: AppErrorCode,
    statusCode: number,
    title: string,
    reason: AuditReason,
    options: AppErrorOptions = {},
  ) {
    super(title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.reason = reason;
    this.statusCode = statusCode;
    this.expose = statusCode < 500;
    this.title = title;
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** 400: the request is malformed. */
export class ValidationError extends AppError {
  declare reason: RequestReason;
  constructor(
    detail: string,
    options: Omit<AppErrorOptions, 'detail'> & { reason?: RequestReason } = {},
  ) {
    const { reason = 'bad_request', ...rest } = options;
    super('ERR_BAD_REQUEST', 400, 'Bad Request', reason, { ...rest, detail });
  }
}

/**
 * 401: every authentication failure, whatever the reason, gives the client this same body.
 * The reason is kept in `reason` for the audit record and the log, never for the client.
 */
export class AuthenticationError extends AppError {
  declare reason: AuthFailureReason;
  constructor(reason: AuthFailureReason, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super('ERR_AUTHENTICATION', 401, 'Unauthorized', reason, options);
  }
}

/** 403: authenticated, but no mapping allows this (or a rendered value failed its check). */
export class ForbiddenError extends AppError {
  declare reason: DenyReason;
  constructor(reason: DenyReason, options: Omit<AppErrorOptions, 'detail'> = {}) {
    super('ERR_FORBIDDEN', 403, 'Forbidden', reason, options);
  }
}

export class NotFoundError extends AppError {
  constructor(
    reason: 'not_found' | 'unknown_provider' | 'unknown_identity_pool' = 'not_found',
    options: AppErrorOptions = {},
  ) {
    super('ERR_NOT_FOUND', 404, 'Not Found', reason, options);
  }
}

/** 409: the request contradicts what is stored (Logins of two principals for one identity). */
export class ConflictError extends AppError {
  constructor(reason: 'logins_conflict', options: AppErrorOptions = {}) {
    super('ERR_CONFLICT', 409, 'Conflict', reason, options);
  }
}

/** 405: the route exists, the method does not. `allow` becomes the `Allow` header (RFC 9110 §15.5.6). */
export class MethodNotAllowedError extends AppError {
  allow: readonly string[];
  constructor(
    allow: readonly string[],
    reason: 'method_not_allowed' | 'binding_not_allowed' = 'method_not_allowed',
  ) {
    super('ERR_METHOD_NOT_ALLOWED', 405, 'Method Not Allowed', reason);
    this.allow = allow;
  }
}

/** 415: a body in a media type the route does not read. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(detail: string) {
    super('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Unsupported Media Type', 'unsupported_media_type', {
      detail,
    });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(
    detail: string,
    reason: 'payload_too_large' | 'token_too_large' | 'body_too_large' | 'saml_response_too_large',
  ) {
    super('ERR_PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', reason, { detail });
  }
}

export class RateLimitedError extends AppError {
  declare reason: RateLimitReason;
  constructor(retryAfterSeconds: number, reason: RateLimitReason) {
    super('ERR_RATE_LIMITED', 429, 'Too Many Requests', reason, { retryAfterSeconds });
  }
}

/** 503: a dependency (STS, DynamoDB, the IdP) is unavailable. Retry later. */
export class UpstreamError extends AppError {
  constructor(cause: unknown, retryAfterSeconds = 1, reason: UpstreamReason = 'upstream') {
    super('ERR_UPSTREAM', 503, 'Service Unavailable', reason, { cause, retryAfterSeconds });
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
    super('ERR_CONFIG_INVALID', 500, 'Configuration invalid', 'config_invalid', {
      cause: problems,
    });
    this.problems = problems;
  }
}

/** Another apply or rollback moved the CURRENT pointer first; nothing was changed. */
export class ConfigConflictError extends AppError {
  constructor(message: string) {
    super('ERR_CONFIG_CONFLICT', 500, message, 'config_conflict');
  }
}

/** No config has been applied yet, so nothing can be decided: fail closed. */
export class ConfigMissingError extends AppError {
  constructor() {
    super('ERR_CONFIG_MISSING', 503, 'Service Unavailable', 'config_missing', {
      retryAfterSeconds: 30,
    });
  }
}

/** The audit reason of anything thrown: its typed reason, or `internal_error` for a bug. */
export function reasonOf(error: unknown): AuditReason {
  return error instanceof AppError ? error.reason : 'internal_error';
}
