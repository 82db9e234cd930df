/**
 * The Cognito-compatible way in (GetId, GetCredentialsForIdentity) without HTTP: `Logins` are
 * verified exactly as POST /v1/credentials verifies a bearer token, against the pool's providers;
 * an identity id is a random `<region>:<uuid>` bound to one principal in one pool.
 */
import { randomUUID } from 'node:crypto';
import { subjectHash } from '#shared/audit/audit.ts';
import type { Identity } from '#shared/auth/identity.ts';
import type { OidcAuthenticator } from '#shared/auth/oidc.ts';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import type { IdentityPool, TvmConfig } from '#shared/config/schema.ts';
import {
  type AuditContext,
  auditRefusal,
  baseRecord,
  type IssueDeps,
  principalFields,
} from '#shared/credentials/issue.ts';
import type { Authenticate, LoginContext } from '#shared/credentials/login.ts';
import {
  AppError,
  AuthenticationError,
  ConflictError,
  NotFoundError,
  UpstreamError,
} from '#shared/errors.ts';
import type { IdentityStore } from './identity-store.ts';
import { findIdentityPool, identityPoolsOf, loginsProviders, regionOf } from './pools.ts';

/** `Logins`: Cognito-style provider name → ID token. */
export type Logins = Readonly<Record<string, string>>;

export interface CognitoDeps {
  issue: IssueDeps;
  identities: IdentityStore;
  authenticator: OidcAuthenticator;
  /** Random ids (tests may fix them). */
  newIdentityId?: (region: string) => string;
}

/** What issue() reads for a Cognito login: the pool's mappings, filtered by CustomRoleArn. */
export interface CognitoLoginContext extends LoginContext {
  readonly poolId: string;
  readonly identityId: string;
}

/** The one principal every `Logins` entry proves, checked against this pool's providers. */
async function authenticateLogins(
  authenticator: OidcAuthenticator,
  config: TvmConfig,
  pool: IdentityPool,
  logins: Logins,
): Promise<Identity> {
  const entries = Object.entries(logins);
  // Guests (no Logins) are not offered: Cognito answers this for a pool without them.
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
  // No linking of different principals in this slice: they would share one identity's roles.
  if (identities.some((i) => i.issuer !== first.issuer || i.subject !== first.subject)) {
    throw new ConflictError('logins_conflict');
  }
  return first;
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
 * GetId: the caller's stable identity id in the pool, created on first use. Writes one audit
 * record (allowed with the id, or the refusal), like every other way in.
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
    identity = await authenticateLogins(deps.authenticator, config, pool, request.logins);
    const hash = subjectHash(identity.issuer, identity.subject);
    const known = await storeCall(() => deps.identities.findId(pool.id, hash));
    const newId = deps.newIdentityId ?? ((region: string) => `${region}:${randomUUID()}`);
    identityId =
      known ??
      (await storeCall(() => deps.identities.createId(pool.id, hash, newId(regionOf(pool.id)))));
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
    throw new UpstreamError(error);
  }
  return identityId;
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new UpstreamError(error, 1, 'upstream');
  }
}

export interface CredentialsForIdentityRequest {
  identityId: string;
  logins: Logins;
  customRoleArn?: string;
}

/**
 * The way in for GetCredentialsForIdentity, for issue(): authenticate `Logins` again, then prove
 * the identity id belongs to that principal in that pool. Unknown, malformed and another
 * principal's ids are the same `identity_not_found`, so ids cannot be enumerated.
 */
export function cognitoLogin(
  deps: Pick<CognitoDeps, 'identities' | 'authenticator'>,
  request: CredentialsForIdentityRequest,
): Authenticate<CognitoLoginContext> {
  return async (config) => {
    const keys = Object.keys(request.logins);
    if (keys.length === 0) throw new AuthenticationError('unauthenticated_not_allowed');
    const region = IDENTITY_ID_PATTERN.test(request.identityId)
      ? regionOf(request.identityId)
      : undefined;
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
    if (
      owner === undefined ||
      identity === undefined ||
      owner.principalHash !== subjectHash(identity.issuer, identity.subject)
    ) {
      throw new AuthenticationError('identity_not_found');
    }
    const pool = candidates.find((candidate) => candidate.id === owner.poolId) as IdentityPool;
    const poolMappings = pool.mappings ?? 'any';
    const allowed =
      request.customRoleArn === undefined
        ? poolMappings
        : // CustomRoleArn picks among the pool's matching mappings; never an arbitrary role.
          config.mappings
            .filter((m) => m.roleArn === request.customRoleArn)
            .filter((m) => poolMappings === 'any' || poolMappings.includes(m.id))
            .map((m) => m.id);
    const context: CognitoLoginContext = Object.freeze({
      poolId: pool.id,
      identityId: request.identityId,
      roles: 'any',
      mappings: Array.isArray(allowed) ? Object.freeze([...allowed]) : allowed,
      offerChoice: false,
      vend: Object.freeze({ kind: 'assume-role', omitDuration: false, reusable: true }),
    });
    return { identity, context };
  };
}
