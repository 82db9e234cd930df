/**
 * The device flow's routes (RFC 8628; docs/api.md, "Device login"), in the login function:
 *   POST /v1/device/authorize  a device code and a user code (JSON, RFC 6749 §5.2 errors)
 *   GET  /v1/device            the verification page: a form for the user code
 *   POST /v1/device            the typed code ▸ 302 to the SAML login (target=device)
 *   POST /v1/device/confirm    the confirm page's Approve / Deny
 *   POST /v1/device/token      the device's poll ▸ a login session handle, once
 * Device codes, user codes, handles and form tokens never reach a log line or an audit record.
 */
import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import { type HttpEvent, type HttpResult, json } from '#functions/http/middleware.ts';
import { problemResponse, requestIdOf } from '#functions/http/problem-json.ts';
import { errorPage } from '#functions/saml/pages.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import { type AuditContext, auditRefusal } from '#shared/credentials/issue.ts';
import {
  AppError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  reasonOf,
  ValidationError,
} from '#shared/errors.ts';
import {
  authorizeDevice,
  confirmDevice,
  DEVICE_GRANT_TYPE,
  type DeviceDeps,
  enterUserCode,
  pollDevice,
} from '#shared/login/device.ts';
import { CONFIRM_PATH, DEVICE_COOKIE, decidedPage, userCodePage } from './device-pages.ts';

export type { DeviceDeps };

const PATH = /^\/v1\/device(?:\/(authorize|confirm|token))?$/;
const METHODS: Record<string, readonly string[]> = {
  authorize: ['POST'],
  verify: ['GET', 'POST'],
  confirm: ['POST'],
  token: ['POST'],
};
/** One or two short fields: anything larger is abuse. */
const MAX_FORM_BYTES = 4 * 1024;
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const WRONG_CODE = 'That code is not valid, or it has expired. Check it and try again.';
const TOO_MANY = 'Too many attempts from your network. Wait a few minutes and try again.';

/** The url-encoded form, capped, each named field at most once. */
function readForm(event: HttpEvent): URLSearchParams {
  const raw = typeof event.body === 'string' ? event.body : '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_FORM_BYTES) {
    throw new PayloadTooLargeError(
      `the form is limited to ${MAX_FORM_BYTES} bytes`,
      'body_too_large',
    );
  }
  const type = (event.headers?.['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new ValidationError('the body must be application/x-www-form-urlencoded', {
      reason: 'unsupported_content_type',
    });
  }
  return new URLSearchParams(text);
}

/** A cookie's value (not functions/saml/http.ts: that would pull SAML validation into this bundle). */
function cookie(event: HttpEvent, name: string): string | undefined {
  const headers = [...(event.cookies ?? []), ...(event.headers?.cookie ?? '').split(';')];
  for (const header of headers) {
    const [key, ...rest] = header.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

function one(form: URLSearchParams, name: string): string {
  const values = form.getAll(name);
  if (values.length !== 1 || values[0] === '') {
    throw new ValidationError(`${name} is required, once`, { reason: 'invalid_parameter' });
  }
  return values[0] ?? '';
}

function retryAfter(error: unknown): Record<string, string> {
  return error instanceof AppError && error.retryAfterSeconds !== undefined
    ? { 'retry-after': String(Math.max(0, Math.ceil(error.retryAfterSeconds))) }
    : {};
}

/** RFC 6749 §5.2 / RFC 8628 §3.5: the error code only; why is in the audit record. */
function oauthError(error: unknown, deps: DeviceDeps, requestId: string): HttpResult {
  const status = error instanceof AppError ? error.statusCode : 500;
  const reason = reasonOf(error);
  if (status >= 500 && status !== 503) {
    deps.core.logger.error('device request failed', { requestId, reason, error: error as Error });
  } else {
    deps.core.logger.warn('device request refused', { requestId, status, reason });
  }
  const answer = (code: number, name: string, extra: Record<string, string> = {}) =>
    json(code, { error: name }, { ...NO_STORE, ...extra });
  if (reason === 'device_code_expired') return answer(400, 'expired_token');
  if (status === 403) return answer(400, 'access_denied');
  if (status === 401) return answer(400, 'invalid_grant');
  if (reason === 'unsupported_grant_type') return answer(400, 'unsupported_grant_type');
  if (status === 429 || status === 503) {
    return answer(status, 'temporarily_unavailable', retryAfter(error));
  }
  if (status >= 400 && status < 500) return answer(400, 'invalid_request');
  return answer(500, 'server_error');
}

/** Parses with `parse`; a refusal here is audited before it is thrown (the flow audits the rest). */
async function auditedParse<T>(deps: DeviceDeps, audit: AuditContext, parse: () => T): Promise<T> {
  try {
    return parse();
  } catch (error) {
    await auditRefusal(deps.core, audit, error);
    throw error;
  }
}

async function authorize(deps: DeviceDeps, audit: AuditContext, event: HttpEvent, base: string) {
  const provider = await auditedParse(deps, audit, () => {
    const form = readForm(event);
    const id = one(form, 'provider');
    if (!ID_PATTERN.test(id)) {
      throw new ValidationError('provider must be a provider id', { reason: 'invalid_parameter' });
    }
    return id;
  });
  const started = await authorizeDevice(deps, audit, provider, base);
  return json(
    200,
    {
      device_code: started.deviceCode,
      user_code: started.userCode,
      verification_uri: started.verificationUri,
      verification_uri_complete: started.verificationUriComplete,
      expires_in: started.expiresIn,
      interval: started.interval,
    },
    NO_STORE,
  );
}

async function token(deps: DeviceDeps, audit: AuditContext, event: HttpEvent) {
  const deviceCode = await auditedParse(deps, audit, () => {
    const form = readForm(event);
    if (one(form, 'grant_type') !== DEVICE_GRANT_TYPE) {
      throw new ValidationError(`grant_type must be ${DEVICE_GRANT_TYPE}`, {
        reason: 'unsupported_grant_type',
      });
    }
    return one(form, 'device_code');
  });
  const polled = await pollDevice(deps, audit, deviceCode);
  if (polled.kind === 'pending') return json(400, { error: 'authorization_pending' }, NO_STORE);
  if (polled.kind === 'slow_down') return json(400, { error: 'slow_down' }, NO_STORE);
  return json(
    200,
    {
      session: polled.handle,
      token_type: 'tvm-session',
      expires_at: new Date(polled.session.expiresAt * 1000).toISOString(),
      provider: polled.session.provider,
    },
    NO_STORE,
  );
}

/** The verification page's answers: the form again (wrong code, too many), or the SAML login. */
async function verify(
  deps: DeviceDeps,
  audit: AuditContext,
  event: HttpEvent,
  base: string,
): Promise<HttpResult> {
  const action = `${base}/v1/device`;
  const idpOrigins = await idpOriginsOf(deps);
  if (event.requestContext.http.method === 'GET') {
    // Prefilled from verification_uri_complete, but only with something shaped like a code.
    const given = event.queryStringParameters?.user_code ?? '';
    const userCode = /^[A-Za-z]{4}-?[A-Za-z]{4}$/.test(given) ? given.toUpperCase() : '';
    return userCodePage({
      status: 200,
      action,
      idpOrigins,
      ...(userCode === '' ? {} : { userCode }),
    });
  }
  try {
    const typed = await auditedParse(deps, audit, () => readForm(event).get('user_code') ?? '');
    const location = await enterUserCode(deps, audit, typed);
    return {
      statusCode: 302,
      headers: { location: `${base}${location}`, ...NO_STORE, 'referrer-policy': 'no-referrer' },
      body: '',
    };
  } catch (error) {
    const reason = reasonOf(error);
    if (reason === 'user_code_invalid') {
      return userCodePage({ status: 400, action, idpOrigins, error: WRONG_CODE });
    }
    if (reason === 'rate_limited_user_code') {
      return userCodePage({
        status: 429,
        action,
        idpOrigins,
        error: TOO_MANY,
        headers: retryAfter(error),
      });
    }
    throw error;
  }
}

/** Where a device login's browser may be sent after the form: every chained SAML IdP. */
async function idpOriginsOf(deps: DeviceDeps): Promise<string[]> {
  try {
    const { config } = await deps.core.config.require();
    const origins = config.providers.flatMap((provider) =>
      provider.type === 'saml' && provider.mode === 'chained'
        ? [new URL(provider.ssoUrl).origin]
        : [],
    );
    return [...new Set(origins)];
  } catch {
    // No config: no device login can go anywhere, and the form still renders.
    return [];
  }
}

async function confirm(deps: DeviceDeps, audit: AuditContext, event: HttpEvent) {
  const posted = await auditedParse(deps, audit, () => {
    const form = readForm(event);
    const decision = form.get('decision');
    if (decision !== 'approve' && decision !== 'deny') {
      throw new ValidationError('decision must be approve or deny', {
        reason: 'invalid_parameter',
      });
    }
    return {
      token: form.get('token') ?? '',
      browser: cookie(event, DEVICE_COOKIE),
      approve: decision === 'approve',
    };
  });
  const decided = await confirmDevice(deps, audit, posted);
  // The browser binding is spent with the token.
  const page = decidedPage(decided);
  page.headers = {
    ...page.headers,
    'set-cookie': `${DEVICE_COOKIE}=; Path=${CONFIRM_PATH}; Max-Age=0; HttpOnly; SameSite=Strict`,
  };
  return page;
}

function baseUrlOf(deps: DeviceDeps, event: HttpEvent): string {
  if (deps.baseUrl !== undefined && deps.baseUrl !== '') return deps.baseUrl;
  return `https://${event.requestContext.domainName}`;
}

/** Whether a path is one of the device routes (the login function's handler dispatches on it). */
export function isDevicePath(path: string | undefined): boolean {
  return PATH.test(path ?? '');
}

export function deviceRoute(deps: DeviceDeps) {
  return async function deviceHandler(event: HttpEvent, context: Context): Promise<HttpResult> {
    const requestId = requestIdOf(event, context);
    const method = event.requestContext.http.method;
    const match = PATH.exec(event.rawPath ?? '');
    const action = match === null ? undefined : (match[1] ?? 'verify');
    const audit: AuditContext = {
      requestId,
      route: `${method} /v1/device${action === undefined || action === 'verify' ? '' : `/${action}`}`,
      sourceIp: event.requestContext.http.sourceIp,
    };
    const machine = action === 'authorize' || action === 'token';
    try {
      if (action === undefined) throw new NotFoundError();
      const allowed = METHODS[action] ?? [];
      if (!allowed.includes(method)) {
        const error = new MethodNotAllowedError([...allowed]);
        await auditRefusal(deps.core, audit, error);
        throw error;
      }
      const base = baseUrlOf(deps, event);
      if (action === 'authorize') return await authorize(deps, audit, event, base);
      if (action === 'token') return await token(deps, audit, event);
      if (action === 'confirm') return await confirm(deps, audit, event);
      return await verify(deps, audit, event, base);
    } catch (error) {
      if (machine && method === 'POST') return oauthError(error, deps, requestId);
      if (machine) {
        const response = problemResponse(error, requestId, deps.core.logger);
        return { ...response, headers: { ...response.headers, ...NO_STORE } };
      }
      const status = error instanceof AppError ? error.statusCode : 500;
      if (status >= 500) {
        deps.core.logger.error('device page failed', { requestId, error: error as Error });
      }
      const allow: Record<string, string> =
        status === 405 && action !== undefined ? { allow: (METHODS[action] ?? []).join(', ') } : {};
      return errorPage(status, requestId, { ...allow, ...retryAfter(error) });
    }
  };
}
