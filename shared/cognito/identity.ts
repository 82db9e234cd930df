/**
 * The Cognito-compatible way in (GetId, GetCredentialsForIdentity) without HTTP: `Logins` are
 * verified exactly as POST /v1/credentials verifies a bearer token, against the pool's providers;
 * an identity id is a random `<region>:<uuid>` bound to one principal in one pool. A guest (no
 * Logins, in a pool that allows guests) is a principal of the pool's guest provider whose subject
 * is its own identity id; it is never linked to a login.
 */
import { randomUUID } from 'node:crypto';
import { subjectHash } from '#shared/audit/audit.ts';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import type { OidcAuthenticator } from '#shared/auth/oidc.ts';
import { guestIssuer } from '#shared/auth/principal.ts';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import type { GuestProvider, IdentityPool, TvmConfig } from '#shared/config/schema.ts';
import {
  type AuditContext,
  auditRefusal,
  baseRecord,
  type IssueDeps,
  principalFields,
} from '#shared/credentials/issue.ts';
import type { Authenticate, Login, LoginContext } from '#shared/credentials/login.ts';
import {
  AppError,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  RateLimitedError,
  UpstreamError,
} from '#shared/errors.ts';
import type { RateLimiter, RateLimitRule } from '#shared/guard/rate-limit.ts';
import { countOutcome } from '#shared/metrics.ts';
import type { IdentityStore } from './identity-store.ts';
import {
  findIdentityPool,
  IDENTITY_ID_TAG_KEY,
  identityPoolsOf,
  identitySourceIdentity,
  loginsProviders,
  regionOf,
} from './pools.ts';

/** `Logins`: Cognito-style provider name → ID token. */
export type Logins = Readonly<Record<string, string>>;

export interface CognitoDeps {
  issue: IssueDeps;
  identities: IdentityStore;
  authenticator: OidcAuthenticator;
  /** Counters for guest GetId (per source IP and per pool); the same store as the guard's. */
  limiter: RateLimiter;
  /** Random ids (tests may fix them). */
  newIdentityId?: (region: string) => string;
}

/** What issue() reads for a Cognito login: the pool's mappings, filtered by CustomRoleArn. */
export interface CognitoLoginContext extends LoginContext {
  readonly poolId: string;
  readonly identityId: string;
  readonly guest: boolean;
}

/** The one principal every `Logins` entry proves, checked against this pool's providers. */
async function authenticateLogins(
  authenticator: OidcAuthenticator,
  config: TvmConfig,
  pool: IdentityPool,
  logins: Logins,
): Promise<Identity> {
  const entries = Object.entries(logins);
  if (entries.length === 0) throw new AuthenticationError('unauthenticated_not_allowed');
  const byKey = loginsProviders(pool, config);
  // Every key first: an unaccepted key is refused before any token is decoded or any JWKS read.
  for (const [key] of entries) {
    if (!byKey.has(key)) throw new AuthenticationError('logins_key_not_accepted');
  }
  const identities: Identity[] = [];
  for (const [key, token] of entries) {
    const provider = byKey.get(key);
    if (provider === undefined) throw new AuthenticationError('logins_key_not_accepted');
    // Only this key's provider: a token of another issuer is unknown_issuer, never re-routed.
    identities.push(await authenticator.authenticate(token, [provider], { provider: provider.id }));
  }
  const [first] = identities as [Identity, ...Identity[]];
  // No linking of different principals: they would share one identity's roles.
  if (identities.some((i) => i.issuer !== first.issuer || i.subject !== first.subject)) {
    throw new ConflictError('logins_conflict');
  }
  return first;
}

/** The pool's guest provider, or a refusal when the pool takes no guests. */
function guestProviderOf(config: TvmConfig, pool: IdentityPool): GuestProvider {
  const id = pool.guests?.provider;
  const provider = config.providers.find((p) => p.id === id);
  // Validation ties guests.provider to a guest provider; anything else takes no guests.
  if (provider?.type !== 'guest') throw new AuthenticationError('unauthenticated_not_allowed');
  return provider;
}

/** A guest as the core sees it: the guest provider's principal whose subject is its IdentityId. */
export function guestIdentity(provider: GuestProvider, identityId: string): Identity {
  return {
    provider: provider.id,
    issuer: guestIssuer(provider.id),
    subject: identityId,
    claims: toClaims({ sub: identityId }),
  };
}

/** Guest GetId limits: no token to key on, so the source IP and the pool as a whole. */
export function guestGetIdRules(pool: IdentityPool, sourceIp: string | undefined): RateLimitRule[] {
  const limits = pool.guests?.getIdLimits;
  if (limits === undefined) return [];
  // JSON arrays: no choice of pool id or IP can make two keys equal.
  const rules: RateLimitRule[] = [];
  if (sourceIp !== undefined) {
    rules.push({
      key: JSON.stringify(['guest-getid-ip', pool.id, sourceIp, limits.perSourceIp.windowSeconds]),
      ...limits.perSourceIp,
      reason: 'rate_limited_ip',
    });
  }
  rules.push({
    key: JSON.stringify(['guest-getid-pool', pool.id, limits.perPool.windowSeconds]),
    ...limits.perPool,
    reason: 'rate_limited_pool',
  });
  return rules;
}

async function loadConfig(deps: IssueDeps): Promise<TvmConfig> {
  try {
    return (await deps.config.require()).config;
  } catch (error) {
    if (error instanceof AppError && error.statusCode === 503) throw error;
    throw new UpstreamError(error, 5, 'config_unavailable');
  }
}

export interface GetIdRequest {
  identityPoolId: string;
  logins: Logins;
}

/**
 * GetId: the caller's stable identity id in the pool, created on first use; without Logins, a
 * new guest identity (pool permitting, within its guest limits). Writes one audit record
 * (allowed with the id, or the refusal), like every other way in.
 */
export async function getId(
  deps: CognitoDeps,
  context: AuditContext,
  request: GetIdRequest,
): Promise<string> {
  let identity: Identity | undefined;
  let identityId: string;
  try {
    const config = await loadConfig(deps.issue);
    const pool = findIdentityPool(config, request.identityPoolId);
    if (pool === undefined) throw new NotFoundError('unknown_identity_pool');
    const newId = (region: string) => newIdentityId(deps, region);
    if (Object.keys(request.logins).length === 0) {
      const provider = guestProviderOf(config, pool);
      await guardCall(() =>
        deps.limiter.consume(guestGetIdRules(pool, context.sourceIp), deps.issue.now()),
      );
      identityId = newId(regionOf(pool.id));
      const guest = guestIdentity(provider, identityId);
      identity = guest;
      await storeCall(() =>
        deps.identities.createGuestId(
          pool.id,
          subjectHash(guest.issuer, guest.subject),
          identityId,
        ),
      );
    } else {
      const user = await authenticateLogins(deps.authenticator, config, pool, request.logins);
      identity = user;
      const hash = subjectHash(user.issuer, user.subject);
      // A denied principal gets no identity id either; GetId counts against its limits. The
      // lookup runs beside the guard (one round trip), and the guard's refusal wins.
      const [guarded, found] = await Promise.allSettled([
        deps.issue.guard.check(user, config.providers, {
          now: deps.issue.now(),
          ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }),
        }),
        storeCall(() => deps.identities.findId(pool.id, hash)),
      ]);
      if (guarded.status === 'rejected') throw guarded.reason;
      if (found.status === 'rejected') throw found.reason;
      const known = found.value;
      identityId =
        known ??
        (await storeCall(() => deps.identities.createId(pool.id, hash, newId(regionOf(pool.id)))));
    }
  } catch (error) {
    await auditRefusal(deps.issue, context, error, identity === undefined ? {} : { identity });
    throw error;
  }
  // Not a vend: the record says who got which identity id; a failed write refuses (fail closed).
  try {
    await deps.issue.audit.write({
      ...baseRecord({ ...context, identityId }, deps.issue.now()),
      outcome: 'allowed',
      reason: 'ok',
      ...principalFields(identity),
    });
  } catch (error) {
    deps.issue.logger.error('audit write failed; the identity id is withheld', {
      error: error as Error,
    });
    const withheld = new UpstreamError(error);
    countOutcome(deps.issue.metrics, withheld.reason, withheld.statusCode);
    throw withheld;
  }
  countOutcome(deps.issue.metrics, 'ok', 200);
  return identityId;
}

/** A random `<region>:<uuid>`, never derived from the subject. */
function newIdentityId(deps: Pick<CognitoDeps, 'newIdentityId'>, region: string): string {
  return deps.newIdentityId?.(region) ?? `${region}:${randomUUID()}`;
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new UpstreamError(error, 1, 'upstream');
  }
}

/** A counter that cannot be read refuses (fail closed), as the guard's do. */
async function guardCall(call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof RateLimitedError) throw error;
    throw new UpstreamError(error, 2, 'guard_unavailable');
  }
}

export interface CredentialsForIdentityRequest {
  identityId: string;
  logins: Logins;
  customRoleArn?: string;
}

/** The pool's mappings, narrowed by CustomRoleArn to those with that role: never an arbitrary role. */
export function poolContext(
  config: TvmConfig,
  pool: IdentityPool,
  identityId: string,
  guest: boolean,
  customRoleArn: string | undefined,
): CognitoLoginContext {
  const poolMappings = pool.mappings ?? 'any';
  const allowed =
    customRoleArn === undefined
      ? poolMappings
      : config.mappings
          .filter((m) => m.roleArn === customRoleArn)
          .filter((m) => poolMappings === 'any' || poolMappings.includes(m.id))
          .map((m) => m.id);
  return Object.freeze({
    poolId: pool.id,
    identityId,
    guest,
    roles: 'any',
    mappings: Array.isArray(allowed) ? Object.freeze([...allowed]) : allowed,
    offerChoice: false,
    vend: Object.freeze({ kind: 'assume-role', omitDuration: false, reusable: true }),
    stamp: Object.freeze({
      tags: Object.freeze([Object.freeze({ Key: IDENTITY_ID_TAG_KEY, Value: identityId })]),
      sourceIdentity: identitySourceIdentity(identityId),
    }),
  });
}

/**
 * A guest's GetCredentialsForIdentity: the id must be a guest identity of a pool that takes
 * guests, made under that pool's current guest provider. Anything else is `identity_not_found`.
 */
async function guestLogin(
  deps: Pick<CognitoDeps, 'identities'>,
  config: TvmConfig,
  request: CredentialsForIdentityRequest,
  region: string | undefined,
): Promise<Login<CognitoLoginContext>> {
  const withGuests = identityPoolsOf(config).filter((pool) => pool.guests !== undefined);
  if (withGuests.length === 0) throw new AuthenticationError('unauthenticated_not_allowed');
  const candidates = withGuests.filter((pool) => regionOf(pool.id) === region);
  const owner =
    region === undefined || candidates.length === 0
      ? undefined
      : await storeCall(() =>
          deps.identities.ownerOf(
            candidates.map((pool) => pool.id),
            request.identityId,
          ),
        );
  const pool = candidates.find((candidate) => candidate.id === owner?.poolId);
  if (owner === undefined || !owner.guest || pool === undefined) {
    throw new AuthenticationError('identity_not_found');
  }
  const identity = guestIdentity(guestProviderOf(config, pool), request.identityId);
  // A guest made under another guest provider (since renamed) keeps none of its controls: refuse.
  if (owner.principalHash !== subjectHash(identity.issuer, identity.subject)) {
    throw new AuthenticationError('identity_not_found');
  }
  return {
    identity,
    context: poolContext(config, pool, request.identityId, true, request.customRoleArn),
  };
}

/**
 * The way in for GetCredentialsForIdentity, for issue(): authenticate `Logins` again, then prove
 * the identity id belongs to that principal in that pool; without Logins, prove it is a guest.
 * Unknown, malformed and another principal's ids are the same `identity_not_found`, so ids cannot
 * be enumerated; a guest id with Logins gets the user's own identity, never a link.
 */
export function cognitoLogin(
  deps: Pick<CognitoDeps, 'identities' | 'authenticator' | 'newIdentityId'>,
  request: CredentialsForIdentityRequest,
): Authenticate<CognitoLoginContext> {
  return async (config) => {
    const keys = Object.keys(request.logins);
    const region = IDENTITY_ID_PATTERN.test(request.identityId)
      ? regionOf(request.identityId)
      : undefined;
    if (keys.length === 0) return guestLogin(deps, config, request, region);
    // The pools that accept every key sent; the identity id says nothing until it is looked up.
    const candidates = identityPoolsOf(config).filter((pool) => {
      const byKey = loginsProviders(pool, config);
      return keys.every((key) => byKey.has(key));
    });
    if (candidates.length === 0) throw new AuthenticationError('logins_key_not_accepted');
    const principals = new Map<string, Identity>();
    let firstError: unknown;
    for (const pool of candidates) {
      try {
        principals.set(
          pool.id,
          await authenticateLogins(deps.authenticator, config, pool, request.logins),
        );
      } catch (error) {
        firstError ??= error;
      }
    }
    if (principals.size === 0) throw firstError;
    // A malformed id, or one of another region, cannot be in any pool: same answer as unknown.
    const poolIds = [...principals.keys()].filter((id) => regionOf(id) === region);
    const owner =
      region === undefined || poolIds.length === 0
        ? undefined
        : await storeCall(() => deps.identities.ownerOf(poolIds, request.identityId));
    const identity = owner === undefined ? undefined : principals.get(owner.poolId);
    const pool = candidates.find((candidate) => candidate.id === owner?.poolId);
    if (owner?.guest === true && identity !== undefined && pool !== undefined) {
      // A guest who signed in (Amplify sends its cached guest id with Logins): the session is
      // for the user's own identity, answered as the response's IdentityId. The guest id is
      // never linked: guest ids leak (S3 keys, logs), and a link would hand its holder the data.
      const hash = subjectHash(identity.issuer, identity.subject);
      const own =
        (await storeCall(() => deps.identities.findId(pool.id, hash))) ??
        (await storeCall(() =>
          deps.identities.createId(pool.id, hash, newIdentityId(deps, regionOf(pool.id))),
        ));
      return { identity, context: poolContext(config, pool, own, false, request.customRoleArn) };
    }
    if (
      owner === undefined ||
      owner.guest ||
      identity === undefined ||
      pool === undefined ||
      owner.principalHash !== subjectHash(identity.issuer, identity.subject)
    ) {
      throw new AuthenticationError('identity_not_found');
    }
    return {
      identity,
      context: poolContext(config, pool, request.identityId, false, request.customRoleArn),
    };
  };
}
