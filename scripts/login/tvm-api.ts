/**
 * The TVM's login routes, as a client: the sign-in URL, the code exchange, the roles and the
 * credentials of a login session, and ending it. Every answer is checked field by field before
 * anything of it is stored or printed; an answer that does not fit is a clear error that names
 * the route and the field, never the value (it may be a secret).
 */
import { ID_PATTERN } from '#shared/config/limits.ts';
import { LoginError } from './errors.ts';
import { loginCommand, type Target } from './target.ts';

export interface SessionGrant {
  /** `tvms_` + 43 base64url characters: the bearer secret of the login session. */
  session: string;
  expiresAt: string;
  provider: string;
}

export interface Role {
  mapping: string;
  roleArn: string;
  accountId: string;
  description?: string;
}

export interface VendedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601. */
  expiration: string;
  roleArn: string;
}

export interface LoginUrlParams {
  redirectUri: string;
  state: string;
  codeChallenge: string;
}

export const SESSION_HANDLE = /^tvms_[A-Za-z0-9_-]{43}$/;
const DEVICE_CODE = /^[A-Za-z0-9_-]{43}$/;
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

/** RFC 8628 §3.2, as checked. */
export interface DeviceStart {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

/** One poll's answer (RFC 8628 §3.5). */
export type DevicePoll =
  | { kind: 'pending' }
  | { kind: 'slow_down' }
  | { kind: 'unavailable'; retryAfter: number | undefined }
  | { kind: 'issued'; grant: SessionGrant };
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const ACCOUNT_ID = /^\d{12}$/;
/** Answers are small JSON documents; a huge one is not ours. */
const MAX_ANSWER_BYTES = 256 * 1024;

type Json = Record<string, unknown>;

export interface TvmApiOptions {
  fetch: typeof fetch;
  /** Per request, connection to last byte. */
  timeoutMs: number;
}

export class TvmApi {
  readonly target: Target;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(target: Target, options: TvmApiOptions) {
    this.target = target;
    this.#fetch = options.fetch;
    this.#timeoutMs = options.timeoutMs;
  }

  /** Where the browser starts: the SAML login with the loopback's redirect_uri, state and PKCE. */
  loginUrl(params: LoginUrlParams): string {
    const url = new URL(
      `${this.target.url}/v1/saml/${encodeURIComponent(this.target.provider)}/login`,
    );
    url.search = new URLSearchParams({
      target: 'cli',
      redirect_uri: params.redirectUri,
      state: params.state,
      code_challenge: params.codeChallenge,
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  /** RFC 6749 §4.1.3 with RFC 7636's code_verifier. */
  async exchangeCode(input: {
    code: string;
    verifier: string;
    redirectUri: string;
  }): Promise<SessionGrant> {
    const route = 'POST /v1/login/token';
    const answer = await this.#request(route, '/v1/login/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: input.code,
        code_verifier: input.verifier,
        redirect_uri: input.redirectUri,
      }).toString(),
    });
    if (answer.status === 400) {
      const error = typeof answer.body?.error === 'string' ? answer.body.error : 'invalid_request';
      throw new LoginError(
        'login_failed',
        `the TVM refused the sign-in (${safeWord(error)}); run: ${loginCommand(this.target)}`,
      );
    }
    const body = this.#expectOk(route, answer);
    const session = field(
      route,
      body,
      'session',
      (v) => typeof v === 'string' && SESSION_HANDLE.test(v),
    );
    field(route, body, 'token_type', (v) => v === 'tvm-session');
    const expiresAt = field(route, body, 'expires_at', isIsoDate);
    const provider = field(route, body, 'provider', (v) => v === this.target.provider);
    return { session, expiresAt, provider };
  }

  /** RFC 8628 §3.1: a device code and the user code for the person. */
  async startDevice(): Promise<DeviceStart> {
    const route = 'POST /v1/device/authorize';
    const answer = await this.#request(route, '/v1/device/authorize', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ provider: this.target.provider }).toString(),
    });
    if (answer.status === 400) {
      const error = typeof answer.body?.error === 'string' ? answer.body.error : 'invalid_request';
      throw new LoginError(
        'refused',
        `the TVM at ${this.target.url} refused a device login for ${this.target.provider} (${safeWord(error)})`,
      );
    }
    const body = this.#expectOk(route, answer);
    // The page the person opens must be this TVM's: a printed link is what phishing swaps.
    const ours = (v: unknown) =>
      typeof v === 'string' && v.length < 512 && sameOrigin(v, this.target.url);
    const seconds = (v: unknown) =>
      Number.isInteger(v) && (v as number) > 0 && (v as number) <= 3600;
    return {
      deviceCode: field(
        route,
        body,
        'device_code',
        (v) => typeof v === 'string' && DEVICE_CODE.test(v),
      ),
      userCode: field(route, body, 'user_code', (v) => typeof v === 'string' && USER_CODE.test(v)),
      verificationUri: field(route, body, 'verification_uri', ours),
      verificationUriComplete: field(route, body, 'verification_uri_complete', ours),
      expiresIn: field<number>(route, body, 'expires_in', seconds),
      interval: field<number>(route, body, 'interval', seconds),
    };
  }

  /** RFC 8628 §3.4: one poll. Pending and slow_down are answers; the others end the login. */
  async pollDevice(deviceCode: string): Promise<DevicePoll> {
    const route = 'POST /v1/device/token';
    const answer = await this.#request(route, '/v1/device/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: deviceCode,
      }).toString(),
    });
    const error = typeof answer.body?.error === 'string' ? answer.body.error : undefined;
    if (answer.status === 400 && error === 'authorization_pending') return { kind: 'pending' };
    if (answer.status === 400 && error === 'slow_down') return { kind: 'slow_down' };
    if (answer.status === 429 || answer.status === 503) {
      const retry = answer.headers.get('retry-after');
      return {
        kind: 'unavailable',
        retryAfter: retry !== null && /^\d{1,4}$/.test(retry) ? Number(retry) : undefined,
      };
    }
    const again = `run: ${loginCommand(this.target)} --device`;
    if (answer.status === 400 && error === 'expired_token') {
      throw new LoginError('login_timeout', `the code expired before anyone approved it; ${again}`);
    }
    if (answer.status === 400 && error === 'access_denied') {
      throw new LoginError('login_failed', `the sign-in was denied in the browser; ${again}`);
    }
    if (answer.status === 400) {
      throw new LoginError(
        'login_failed',
        `the TVM refused the device login (${safeWord(error ?? 'invalid_request')}); ${again}`,
      );
    }
    const body = this.#expectOk(route, answer);
    const session = field(
      route,
      body,
      'session',
      (v) => typeof v === 'string' && SESSION_HANDLE.test(v),
    );
    field(route, body, 'token_type', (v) => v === 'tvm-session');
    const expiresAt = field(route, body, 'expires_at', isIsoDate);
    const provider = field(route, body, 'provider', (v) => v === this.target.provider);
    return { kind: 'issued', grant: { session, expiresAt, provider } };
  }

  async roles(session: string): Promise<{ roles: Role[]; expiresAt: string }> {
    const route = 'GET /v1/login/roles';
    const body = this.#expectOk(
      route,
      await this.#request(route, '/v1/login/roles', { headers: bearer(session) }),
    );
    const list = field(route, body, 'roles', Array.isArray) as unknown[];
    const roles = list.map((item, index): Role => {
      if (typeof item !== 'object' || item === null) throw unexpected(route, `roles[${index}]`);
      const entry = item as Json;
      const at = (name: string) => `roles[${index}].${name}`;
      const mapping = entry.mapping;
      if (typeof mapping !== 'string' || !ID_PATTERN.test(mapping))
        throw unexpected(route, at('mapping'));
      if (typeof entry.roleArn !== 'string' || !ROLE_ARN.test(entry.roleArn))
        throw unexpected(route, at('roleArn'));
      if (typeof entry.accountId !== 'string' || !ACCOUNT_ID.test(entry.accountId))
        throw unexpected(route, at('accountId'));
      if (entry.description !== undefined && typeof entry.description !== 'string')
        throw unexpected(route, at('description'));
      return {
        mapping,
        roleArn: entry.roleArn,
        accountId: entry.accountId,
        ...(typeof entry.description === 'string' ? { description: entry.description } : {}),
      };
    });
    const expiresAt = field(route, body, 'expires_at', isIsoDate);
    return { roles, expiresAt };
  }

  async credentials(
    session: string,
    mapping: string,
    durationSeconds?: number,
  ): Promise<VendedCredentials> {
    const route = 'POST /v1/login/credentials';
    const body = this.#expectOk(
      route,
      await this.#request(route, '/v1/login/credentials', {
        method: 'POST',
        headers: { ...bearer(session), 'content-type': 'application/json' },
        body: JSON.stringify({
          mapping,
          ...(durationSeconds === undefined ? {} : { durationSeconds }),
        }),
      }),
    );
    const credentials = body.credentials;
    if (typeof credentials !== 'object' || credentials === null)
      throw unexpected(route, 'credentials');
    const inner = credentials as Json;
    const at = (name: string) => `credentials.${name}`;
    const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length < 4096;
    if (typeof inner.accessKeyId !== 'string' || !ACCESS_KEY_ID.test(inner.accessKeyId))
      throw unexpected(route, at('accessKeyId'));
    if (!nonEmpty(inner.secretAccessKey)) throw unexpected(route, at('secretAccessKey'));
    if (!nonEmpty(inner.sessionToken)) throw unexpected(route, at('sessionToken'));
    if (!isIsoDate(inner.expiration)) throw unexpected(route, at('expiration'));
    field(route, body, 'mapping', (v) => v === mapping);
    const roleArn = field(route, body, 'roleArn', (v) => typeof v === 'string' && ROLE_ARN.test(v));
    return {
      accessKeyId: inner.accessKeyId,
      secretAccessKey: inner.secretAccessKey as string,
      sessionToken: inner.sessionToken as string,
      expiration: new Date(inner.expiration as string).toISOString(),
      roleArn,
    };
  }

  /** Ends the session at the TVM; one that has already ended is not an error. */
  async endSession(session: string): Promise<void> {
    const route = 'DELETE /v1/login/session';
    const answer = await this.#request(route, '/v1/login/session', {
      method: 'DELETE',
      headers: bearer(session),
    });
    if (answer.status === 204 || answer.status === 200 || answer.status === 401) return;
    this.#expectOk(route, answer);
  }

  async #request(
    route: string,
    path: string,
    init: RequestInit,
  ): Promise<{ status: number; headers: Headers; body: Json | undefined; text: string }> {
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.target.url}${path}`, {
        ...init,
        redirect: 'error',
        headers: { accept: 'application/json', ...(init.headers as Record<string, string>) },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new LoginError(
        'unreachable',
        `cannot reach the TVM at ${this.target.url} (${route}: ${describeNetworkError(error)})`,
        { cause: error },
      );
    }
    if (Buffer.byteLength(text) > MAX_ANSWER_BYTES) throw unexpected(route, 'body (too large)');
    let body: Json | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      body =
        typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
          ? (parsed as Json)
          : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, headers: response.headers, body, text };
  }

  /** A 200 with a JSON object, or the error that fits the status. */
  #expectOk(
    route: string,
    answer: { status: number; headers: Headers; body: Json | undefined },
  ): Json {
    const { status, body } = answer;
    if (status === 200) {
      if (body === undefined) throw unexpected(route, 'body (not a JSON object)');
      return body;
    }
    const problem = describeProblem(status, body);
    if (status === 401) {
      throw new LoginError(
        'session_ended',
        `your session for ${this.target.provider} at ${this.target.url} has ended; run: ${loginCommand(this.target)}`,
      );
    }
    if (status === 429) {
      const retry = answer.headers.get('retry-after');
      throw new LoginError(
        'rate_limited',
        `the TVM at ${this.target.url} is rate-limiting you${retry !== null && /^\d{1,6}$/.test(retry) ? `; retry in ${retry} s` : ''} (${problem})`,
      );
    }
    if (status === 403 || status === 400 || status === 404) {
      throw new LoginError(
        'refused',
        `the TVM at ${this.target.url} refused ${route} (${problem})`,
      );
    }
    if (status >= 500) {
      throw new LoginError(
        'server_error',
        `the TVM at ${this.target.url} failed on ${route} (${problem})`,
      );
    }
    throw unexpected(route, `status ${status}`);
  }
}

function sameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    return false;
  }
}

function bearer(session: string): Record<string, string> {
  return { authorization: `Bearer ${session}` };
}

function isIsoDate(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}

function field<T = string>(
  route: string,
  body: Json,
  name: string,
  check: (value: unknown) => boolean,
): T {
  const value = body[name];
  if (!check(value)) throw unexpected(route, name);
  return value as T;
}

function unexpected(route: string, what: string): LoginError {
  return new LoginError(
    'unexpected_answer',
    `unexpected answer from the TVM to ${route}: ${what} is missing or malformed`,
  );
}

/** Status, the problem's generic title and its request id: what a user can quote to an admin. */
function describeProblem(status: number, body: Json | undefined): string {
  const parts = [String(status)];
  if (typeof body?.title === 'string') parts.push(safeText(body.title, 80));
  else if (typeof body?.error === 'string') parts.push(safeWord(body.error));
  if (typeof body?.requestId === 'string') parts.push(`request id ${safeText(body.requestId, 80)}`);
  return parts.join(', ');
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return safeWord(cause.code);
  return error instanceof Error ? safeText(error.message, 80) : 'network error';
}

/** One printable line at most `max` long: server text must not smuggle lines into the terminal. */
export function safeText(text: string, max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function safeWord(text: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(text) ? text : 'unrecognised error';
}
