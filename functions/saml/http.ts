/**
 * What every SAML route shares at the edge: its dependencies, form and cookie reading, the
 * no-store redirect and the generic error page. Nothing below functions/ sees any of it.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { HttpEvent, HttpResult } from '#functions/http/middleware.ts';
import { auditRefusal, type IssueDeps } from '#shared/credentials/issue.ts';
import { AppError, PayloadTooLargeError, reasonOf, ValidationError } from '#shared/errors.ts';
import type { DeviceStore } from '#shared/login/device-store.ts';
import type { LoginStore } from '#shared/login/store.ts';
import type { PortalStore } from '#shared/portal/store.ts';
import type { SpUrls } from '#shared/saml/provider.ts';
import { MAX_SAML_RESPONSE_BYTES } from '#shared/saml/response.ts';
import type { SpSigningKey } from '#shared/saml/sp.ts';
import type { SamlStateStore } from '#shared/saml/state.ts';
import { errorPage } from './pages.ts';

/** The SAML function's dependencies: the core's, plus what only SAML logins need. */
export interface SamlDeps {
  core: IssueDeps;
  state: SamlStateStore;
  /** Terminal logins' one-time codes (`target=cli`); without it such a login fails closed. */
  login?: LoginStore;
  /** The device flow's state (`target=device`); without it such a login fails closed. */
  device?: DeviceStore;
  /** The access portal's action tokens (`target=portal`); without it the portal fails closed. */
  portal?: PortalStore;
  /** The deployment's public base URL; derived from the request's API Gateway domain when unset. */
  baseUrl?: string;
  federation: { url: string; timeoutMs: number; fetch?: typeof fetch };
  /** The SP request-signing key, for providers that set `signAuthnRequests`. */
  signingKey?: () => Promise<SpSigningKey | undefined>;
  /** The SP decryption key pair, for providers that set `decryptAssertions`. */
  decryptionKey?: () => Promise<SpSigningKey | undefined>;
  /** Cookies get `Secure` unless the local stage serves plain http. */
  secureCookies: boolean;
  random?: (bytes: number) => string;
}

/** One SAML request's audit context, and where its URLs live. */
export interface SamlRequest {
  requestId: string;
  route: string;
  sourceIp: string;
  baseUrl: string;
  /** Epoch ms by which STS must have answered. */
  deadline: number;
  providerId: string;
  urls(provider: { id: string }): SpUrls;
  /** The console sign-in's origin, computed once per container: the chooser's CSP allows it. */
  federationOrigin: string;
}

/** A posted form with a SAMLResponse at its size cap, plus RelayState and url-encoding overhead. */
export const MAX_FORM_BYTES = Math.ceil(MAX_SAML_RESPONSE_BYTES * 1.5) + 4 * 1024;
/** AuthnRequest ids wait this long for the IdP's answer (the user is typing a password). */
export const LOGIN_TTL_SECONDS = 600;
/** The role chooser's selection token lives this long. */
export const SELECTION_TTL_SECONDS = 300;
export const SELECTION_COOKIE = 'tvm_select';
export const LOGIN_COOKIE = 'tvm_login';
export const TARGETS: ReadonlySet<string> = new Set(['console', 'credentials']);

export function randomToken(deps: SamlDeps, bytes: number): string {
  return deps.random?.(bytes) ?? randomBytes(bytes).toString('base64url');
}

export function baseUrlOf(deps: SamlDeps, event: HttpEvent): string {
  if (deps.baseUrl !== undefined && deps.baseUrl !== '') return deps.baseUrl;
  return `https://${event.requestContext.domainName}`;
}

/** The url-encoded form, capped before anything is decoded. */
export function readForm(event: HttpEvent, maxBytes: number): URLSearchParams {
  const raw = event.body ?? '';
  const size = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw);
  if (size > maxBytes) {
    throw new PayloadTooLargeError(
      `the form is limited to ${maxBytes} bytes`,
      'saml_response_too_large',
    );
  }
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const type = event.headers?.['content-type'] ?? '';
  if (text !== '' && !/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new ValidationError('unsupported_content_type', { reason: 'unsupported_content_type' });
  }
  return new URLSearchParams(text);
}

/** A base64 form value without the line breaks some IdPs insert. */
export function base64Field(form: URLSearchParams, name: string): string {
  return (form.get(name) ?? '').replaceAll(/[\r\n\t ]/g, '');
}

export function cookie(event: HttpEvent, name: string): string | undefined {
  const headers = [...(event.cookies ?? []), ...(event.headers?.cookie ?? '').split(';')];
  for (const header of headers) {
    const [key, ...rest] = header.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

export function noStoreRedirect(
  location: string,
  headers: Record<string, string> = {},
): HttpResult {
  return {
    statusCode: 302,
    headers: {
      location,
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'referrer-policy': 'no-referrer',
      ...headers,
    },
    body: '',
  };
}

/** The generic HTML page for any refusal: the status and the request id, never the reason. */
export function failurePage(
  deps: SamlDeps,
  error: unknown,
  requestId: string,
  where: { providerId?: string; route?: string } = {},
): HttpResult {
  const status = error instanceof AppError ? error.statusCode : 500;
  const retryAfter = error instanceof AppError ? error.retryAfterSeconds : undefined;
  if (status >= 500) {
    deps.core.logger.error('SAML request failed', { requestId, error: error as Error });
  } else {
    // The line OIDC refusals write, keyed by the id the page shows: no assertion content in it.
    deps.core.logger.warn('request rejected', {
      code: error instanceof AppError ? error.code : undefined,
      status,
      reason: reasonOf(error),
      requestId,
      provider: where.providerId,
      route: where.route,
      errorName: (error as { name?: unknown } | null)?.name,
    });
  }
  const headers: Record<string, string> = {};
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  if (status === 405) headers.allow = 'POST';
  return errorPage(status, requestId, headers);
}

/** Parses a posted form; a refusal here is audited before it is thrown (the core audits the rest). */
export async function auditedParse<T>(
  deps: SamlDeps,
  request: SamlRequest,
  parse: () => T,
): Promise<T> {
  try {
    return parse();
  } catch (error) {
    await auditRefusal(deps.core, request, error);
    throw error;
  }
}
