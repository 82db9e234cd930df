/**
 * The device flow (RFC 8628) for `tvm-login login --device`: a CLI with no browser starts it, a
 * person types the user code into any browser, signs in through SAML and approves on a confirm
 * page; the CLI's polls then get a login session (the same store as the loopback flow). No HTTP
 * here: the edge parses and renders. Device codes, handles and form tokens are stored hashed.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { AuditRecord } from '#shared/audit/audit.ts';
import type { Identity } from '#shared/auth/identity.ts';
import type { SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import {
  type AuditContext,
  auditRefusal,
  baseRecord,
  loadConfig,
} from '#shared/credentials/issue.ts';
import {
  type AuditReason,
  AuthenticationError,
  ForbiddenError,
  UpstreamError,
  ValidationError,
} from '#shared/errors.ts';
import type { RateLimiter, RateLimitRule } from '#shared/guard/rate-limit.ts';
import { countOutcome } from '#shared/metrics.ts';
import type { DeviceConfirm, DeviceGrant, DeviceRef, DeviceStore } from './device-store.ts';
import { type LoginDeps, sessionProvider, writeAudit } from './session.ts';
import { type LoginSession, principalOf, sha256Hex, storedIdentity } from './store.ts';

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: how long the person has to type the code, sign in and approve. */
export const DEVICE_EXPIRES_IN_SECONDS = 600;
export const DEVICE_INTERVAL_SECONDS = 5;
/** §3.5: each slow_down adds this to the interval. */
export const SLOW_DOWN_STEP_SECONDS = 5;
/** 20 consonants: no vowels (no words), no look-alikes (no A E I O U Y, no digits). §6.1. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
export const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/;
export const DEVICE_CODE = /^[A-Za-z0-9_-]{43}$/;
/** The confirm page's form token lives this long (as the role chooser's). */
export const CONFIRM_TTL_SECONDS = 300;
/**
 * Per source address (an IPv6 /64 counts as one): guesses of the user code, and device logins
 * started. 10 guesses per 5 min against 20^8 codes: one address needs ~10^8 years for even odds
 * on one live code.
 */
export const USER_CODE_ATTEMPTS = { limit: 10, windowSeconds: 300 } as const;
export const AUTHORIZE_ATTEMPTS = { limit: 20, windowSeconds: 300 } as const;

export interface DeviceDeps extends LoginDeps {
  devices: DeviceStore;
  limiter: RateLimiter;
  /** The public base URL the verification_uri is built on; the request's host when unset. */
  baseUrl?: string;
}

/** The typed code: upper case, no separators or spaces; undefined if it cannot be one of ours. */
export function normaliseUserCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const code = typed.toUpperCase().replaceAll(/[\s-]/g, '');
  return USER_CODE.test(code) ? code : undefined;
}

export function displayUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** Uniform over the alphabet: rejection sampling (256 is not a multiple of 20). */
export function newUserCode(random: (bytes: number) => Buffer = randomBytes): string {
  let code = '';
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random(16)) {
      if (byte >= 240 || code.length >= USER_CODE_LENGTH) continue;
      code += USER_CODE_ALPHABET[byte % 20];
    }
  }
  return code;
}

/** The address a limit counts: IPv4 as is, IPv6 by its /64 (one host holds a whole /64). */
export function addressKey(sourceIp: string | undefined): string {
  if (sourceIp === undefined || !isIPv6(sourceIp)) return sourceIp ?? 'unknown';
  const [head = '', tail = ''] = sourceIp.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = sourceIp.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

function addressRule(
  kind: string,
  window: { limit: number; windowSeconds: number },
  sourceIp: string | undefined,
  reason: RateLimitRule['reason'],
): RateLimitRule {
  return {
    key: JSON.stringify([kind, addressKey(sourceIp), window.windowSeconds]),
    ...window,
    reason,
  };
}

/** The SAML provider a device login may use: chained (a session vends with AssumeRole). */
function deviceProvider(config: TvmConfig, id: string): SamlProvider {
  const provider = config.providers.find((candidate) => candidate.id === id);
  if (provider?.type !== 'saml') {
    throw new ValidationError('provider must name a SAML provider', { reason: 'unknown_provider' });
  }
  if (provider.mode !== 'chained') {
    throw new ValidationError('this provider has no terminal login', { reason: 'invalid_target' });
  }
  return provider;
}

/** A step with no principal yet (the start, a typed code): its one record. */
async function writeStep(
  deps: LoginDeps,
  request: AuditContext,
  outcome: AuditRecord['outcome'],
  reason: AuditReason,
  extra: Partial<AuditRecord> = {},
): Promise<void> {
  try {
    await deps.core.audit.write({
      ...baseRecord(request, deps.core.now()),
      outcome,
      reason,
      ...extra,
    });
  } catch (error) {
    throw new UpstreamError(error);
  }
  countOutcome(deps.core.metrics, reason, 200);
}

/** Runs a step; any refusal gets its one record (with the principal once known) and is rethrown. */
async function audited<T>(
  deps: LoginDeps,
  request: AuditContext,
  step: (known: { identity?: Identity }) => Promise<T>,
): Promise<T> {
  const known: { identity?: Identity } = {};
  try {
    return await step(known);
  } catch (error) {
    await auditRefusal(deps.core, request, error, known);
    throw error;
  }
}

function random(deps: LoginDeps, bytes: number): string {
  return deps.random?.(bytes) ?? randomBytes(bytes).toString('base64url');
}

export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete: string;
  expiresIn: number;
  interval: number;
}

/** POST /v1/device/authorize: a new device code and user code for a SAML provider. */
export async function authorizeDevice(
  deps: DeviceDeps,
  request: AuditContext,
  providerId: string,
  baseUrl: string,
): Promise<DeviceAuthorization> {
  return audited(deps, request, async () => {
    const { core } = deps;
    const now = core.now();
    await deps.limiter.consume(
      [
        addressRule(
          'device-authorize-ip',
          AUTHORIZE_ATTEMPTS,
          request.sourceIp,
          'rate_limited_device_authorize',
        ),
      ],
      now,
    );
    const { config } = await loadConfig(core);
    const provider = deviceProvider(config, providerId);
    const deviceCode = random(deps, 32);
    const deviceHash = sha256Hex(deviceCode);
    const grant: DeviceGrant = {
      provider: provider.id,
      status: 'pending',
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + DEVICE_EXPIRES_IN_SECONDS,
      interval: DEVICE_INTERVAL_SECONDS,
      ...(request.sourceIp === undefined ? {} : { requestedFrom: request.sourceIp }),
    };
    // A live code is never reused: on the rare collision, draw again.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const userCode = newUserCode();
      if (await deps.devices.createDevice(deviceHash, sha256Hex(userCode), grant)) {
        await writeStep(deps, request, 'pending', 'device_code_issued', {
          provider: provider.id,
        });
        const verificationUri = `${baseUrl}/v1/device`;
        return {
          deviceCode,
          userCode: displayUserCode(userCode),
          verificationUri,
          verificationUriComplete: `${verificationUri}?user_code=${displayUserCode(userCode)}`,
          expiresIn: DEVICE_EXPIRES_IN_SECONDS,
          interval: DEVICE_INTERVAL_SECONDS,
        };
      }
    }
    throw new UpstreamError(new Error('no free user code after 5 draws'));
  });
}

/**
 * POST /v1/device: a typed user code. Every attempt counts against the address's limit before
 * the lookup, so guesses past it are refused whatever they are. Answers the SAML login URL
 * (relative) that carries an opaque, single-use reference to the device.
 */
export async function enterUserCode(
  deps: DeviceDeps,
  request: AuditContext,
  typed: string,
): Promise<string> {
  return audited(deps, request, async () => {
    const { core } = deps;
    const now = core.now();
    await deps.limiter.consume(
      [
        addressRule(
          'device-user-code-ip',
          USER_CODE_ATTEMPTS,
          request.sourceIp,
          'rate_limited_user_code',
        ),
      ],
      now,
    );
    const userCode = normaliseUserCode(typed);
    const found =
      userCode === undefined
        ? undefined
        : await deps.devices.findByUserCode(sha256Hex(userCode), now);
    if (userCode === undefined || found === undefined) {
      throw new ValidationError('user_code_invalid', { reason: 'user_code_invalid' });
    }
    const ref = random(deps, 32);
    const expiresAt = Math.min(
      found.grant.expiresAt,
      Math.floor(now.getTime() / 1000) + DEVICE_EXPIRES_IN_SECONDS,
    );
    await deps.devices.saveRef(sha256Hex(ref), {
      deviceHash: found.deviceHash,
      provider: found.grant.provider,
      userCode: displayUserCode(userCode),
      expiresAt,
    });
    await writeStep(deps, request, 'pending', 'device_code_entered', {
      provider: found.grant.provider,
    });
    const query = new URLSearchParams({ target: 'device', device: ref });
    return `/v1/saml/${encodeURIComponent(found.grant.provider)}/login?${query}`;
  });
}

/** GET /v1/saml/{provider}/login?target=device&device=<ref>: the ref, once, for this provider. */
export async function consumeDeviceRef(
  devices: DeviceStore,
  ref: string,
  providerId: string,
  now: Date,
): Promise<DeviceRef> {
  const found = /^[A-Za-z0-9_-]{43}$/.test(ref)
    ? await devices.consumeRef(sha256Hex(ref), now)
    : undefined;
  if (found === undefined || found.provider !== providerId) {
    throw new ValidationError('device_ref_invalid', { reason: 'device_ref_invalid' });
  }
  return found;
}

/** After the ACS admitted a device login: the confirm form's token, bound to `browser`. */
export async function offerConfirm(
  devices: DeviceStore,
  identity: Identity,
  device: { deviceHash: string; userCode: string },
  browser: string,
  options: { now: Date; token: string },
): Promise<DeviceGrant | undefined> {
  const grant = await devices.getDevice(device.deviceHash);
  if (grant === undefined || grant.status !== 'pending') return undefined;
  if (grant.expiresAt * 1000 <= options.now.getTime()) return undefined;
  const confirm: DeviceConfirm = {
    ...principalOf(identity),
    deviceHash: device.deviceHash,
    userCode: device.userCode,
    browserHash: sha256Hex(browser),
    expiresAt: Math.min(
      grant.expiresAt,
      Math.floor(options.now.getTime() / 1000) + CONFIRM_TTL_SECONDS,
    ),
  };
  await devices.saveConfirm(sha256Hex(options.token), confirm);
  return grant;
}

/**
 * POST /v1/device/confirm: Approve or Deny, with the single-use token from the browser it was
 * given to. Approve runs the guard again (a deny since the ACS wins) and records the principal;
 * the session itself is created at the device's next poll, so its handle is never stored.
 */
export async function confirmDevice(
  deps: DeviceDeps,
  request: AuditContext,
  posted: { token: string; browser: string | undefined; approve: boolean },
): Promise<'approved' | 'denied'> {
  return audited(deps, request, async (known) => {
    const { core } = deps;
    const confirm = /^[A-Za-z0-9_-]{43}$/.test(posted.token)
      ? await deps.devices.consumeConfirm(sha256Hex(posted.token), core.now())
      : undefined;
    if (confirm === undefined) throw new AuthenticationError('device_confirm_invalid');
    const identity = storedIdentity(confirm);
    known.identity = identity;
    // Login CSRF: a token lifted from one browser and posted from another is refused.
    if (posted.browser === undefined || sha256Hex(posted.browser) !== confirm.browserHash) {
      throw new AuthenticationError('device_confirm_not_bound');
    }
    const { config } = await loadConfig(core);
    if (sessionProvider(config, confirm) === undefined) {
      throw new AuthenticationError('device_confirm_invalid');
    }
    if (posted.approve) {
      await core.guard.check(identity, config.providers, {
        now: core.now(),
        ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
      });
    }
    const decided = await deps.devices.decide(
      confirm.deviceHash,
      posted.approve
        ? { status: 'approved', principal: principalOf(identity) }
        : { status: 'denied' },
      core.now(),
    );
    // Expired, or already answered in another tab.
    if (!decided) throw new AuthenticationError('device_code_invalid');
    await writeAudit(core, request, posted.approve ? 'device_approved' : 'device_denied', identity);
    return posted.approve ? 'approved' : 'denied';
  });
}

/** RFC 8628 §3.5's answers other than success, as the token route writes them. */
export type DevicePoll =
  | { kind: 'pending' }
  | { kind: 'slow_down'; interval: number }
  | { kind: 'issued'; handle: string; session: LoginSession };

/**
 * POST /v1/device/token. Unknown or used → 401 (invalid_grant), expired → 401 device_code_expired
 * (expired_token), denied → 403 device_access_denied (access_denied).
 */
export async function pollDevice(
  deps: DeviceDeps,
  request: AuditContext,
  deviceCode: string,
): Promise<DevicePoll> {
  return audited(deps, request, async (known) => {
    const { core } = deps;
    const now = core.now();
    const deviceHash = sha256Hex(deviceCode);
    const grant = DEVICE_CODE.test(deviceCode)
      ? await deps.devices.getDevice(deviceHash)
      : undefined;
    if (grant === undefined) throw new AuthenticationError('device_code_invalid');
    if (grant.status === 'used') throw new AuthenticationError('device_code_used');
    if (grant.expiresAt * 1000 <= now.getTime()) {
      throw new AuthenticationError('device_code_expired');
    }
    if (grant.status === 'denied') throw new ForbiddenError('device_access_denied');
    if (grant.status === 'pending') {
      const early =
        grant.lastPollAt !== undefined && now.getTime() - grant.lastPollAt < grant.interval * 1000;
      const interval = early ? grant.interval + SLOW_DOWN_STEP_SECONDS : grant.interval;
      const counted = await deps.devices.recordPoll(
        deviceHash,
        grant.lastPollAt,
        now.getTime(),
        interval,
      );
      // Another poll counted in between: this one came too early too.
      if (early || !counted) {
        await writeStep(deps, request, 'denied', 'device_slow_down', { provider: grant.provider });
        return { kind: 'slow_down', interval };
      }
      await writeStep(deps, request, 'pending', 'device_authorization_pending', {
        provider: grant.provider,
      });
      return { kind: 'pending' };
    }
    // Approved: redeemed once, whoever polls twice at the same moment.
    const redeemed = await deps.devices.redeem(deviceHash);
    if (redeemed?.principal === undefined) throw new AuthenticationError('device_code_used');
    const identity = storedIdentity(redeemed.principal);
    known.identity = identity;
    const { config } = await loadConfig(core);
    const provider = sessionProvider(config, redeemed.principal);
    if (provider === undefined) throw new AuthenticationError('device_code_invalid');
    // A principal denied since Approve gets no session.
    await core.guard.check(identity, config.providers, {
      now,
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    const handle = `tvms_${random(deps, 32)}`;
    const createdAt = core.now();
    const session: LoginSession = {
      ...principalOf(identity),
      createdAt: createdAt.toISOString(),
      expiresAt: Math.floor(createdAt.getTime() / 1000) + provider.loginSessionMaxSeconds,
    };
    const sessionHash = sha256Hex(handle);
    await deps.store.createSession(sessionHash, session);
    try {
      await writeAudit(core, request, 'session_created', identity, {
        expiration: new Date(session.expiresAt * 1000).toISOString(),
      });
    } catch (error) {
      // No record, no session.
      await deps.store.endSession(sessionHash, core.now()).catch(() => false);
      throw error;
    }
    return { kind: 'issued', handle, session };
  });
}

/** What a device login carries from the typed code to the confirm page. */
export interface DeviceLogin {
  deviceHash: string;
  /** XXXX-XXXX, as the device shows it. */
  userCode: string;
}
