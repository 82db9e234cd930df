/**
 * `tvm explain --identity-pool`: what GetCredentialsForIdentity would decide for one login of an
 * identity pool. It resolves the provider as the route does (the pool's Logins key, or its guest
 * provider), builds the route's own login context (the pool's `mappings`, CustomRoleArn, the
 * IdentityId stamped on the session), then runs the real decide() through explainDecision. No
 * token is verified, no IdentityId looked up in the table, and no STS call made.
 */
import type { Claims, Identity } from '#shared/auth/identity.ts';
import { guestIdentity, poolContext } from '#shared/cognito/identity.ts';
import { findIdentityPool, identityPoolsOf, loginsProviders } from '#shared/cognito/pools.ts';
import type { IdentityPool, Mapping, TvmConfig } from '#shared/config/schema.ts';
import { stamped, usableConfig } from '#shared/credentials/issue.ts';
import type { AuditReason } from '#shared/errors.ts';
import { candidateMappings } from '#shared/mapping/decide.ts';
import { type Explanation, explainDecision } from './explain.ts';

/** How the app calls: with one Logins entry (its key and the token's claims), or as a guest. */
export type PoolLogin = { kind: 'logins'; loginsKey: string; claims: Claims } | { kind: 'guest' };

export interface PoolExplainRequest {
  poolId: string;
  login: PoolLogin;
  /** The IdentityId the call names; explain assumes it belongs to this login. */
  identityId: string;
  customRoleArn?: string;
}

/** A refusal before any mapping is looked at, as the route answers it. */
export interface PoolRefusal {
  reason: AuditReason;
  /** The Cognito exception name the SDKs see. */
  exception: 'ResourceNotFoundException' | 'NotAuthorizedException';
  detail: string;
}

/** A mapping of the login's provider, and whether this pool call can reach it. */
export interface PoolMapping {
  mapping: Mapping;
  reachable: boolean;
  /** Why not, when not. */
  excludedBy?: 'pool_mappings' | 'custom_role_arn';
}

export type PoolExplanation =
  | { kind: 'refused'; pool: IdentityPool | undefined; refusal: PoolRefusal }
  | {
      kind: 'explained';
      pool: IdentityPool;
      /** The Logins key, or undefined for a guest. */
      loginsKey: string | undefined;
      identityId: string;
      customRoleArn: string | undefined;
      /** Every mapping of the provider, in decision order, with its reachability. */
      mappings: PoolMapping[];
      /** The decision on the reachable mappings; a chosen decision carries the pool's stamp. */
      explanation: Explanation;
    };

function quoteList(values: Iterable<string>): string {
  const list = [...values].map((value) => `"${value}"`);
  return list.length === 0 ? 'none' : list.join(', ');
}

/** The refusals the route gives before deciding, in words; undefined when the login gets that far. */
function refusalOf(
  config: TvmConfig,
  pool: IdentityPool | undefined,
  request: PoolExplainRequest,
): PoolRefusal | undefined {
  if (pool === undefined) {
    return {
      reason: 'unknown_identity_pool',
      exception: 'ResourceNotFoundException',
      detail: `identity pool "${request.poolId}" is not in this config (pools: ${quoteList(identityPoolsOf(config).map((p) => p.id))})`,
    };
  }
  const { login } = request;
  if (login.kind === 'guest') {
    const provider = config.providers.find((p) => p.id === pool.guests?.provider);
    if (provider?.type === 'guest') return undefined;
    return {
      reason: 'unauthenticated_not_allowed',
      exception: 'NotAuthorizedException',
      detail: `identity pool "${pool.id}" does not allow guests (it has no \`guests\`), so GetId and GetCredentialsForIdentity without Logins are refused`,
    };
  }
  const byKey = loginsProviders(pool, config);
  if (byKey.has(login.loginsKey)) return undefined;
  return {
    reason: 'logins_key_not_accepted',
    exception: 'NotAuthorizedException',
    detail: `identity pool "${pool.id}" does not accept the Logins key "${login.loginsKey}" (it accepts ${quoteList(byKey.keys())}), so the call is refused before any token is read`,
  };
}

export function explainPoolLogin(config: TvmConfig, request: PoolExplainRequest): PoolExplanation {
  const pool = findIdentityPool(config, request.poolId);
  const refusal = refusalOf(config, pool, request);
  if (pool === undefined || refusal !== undefined) {
    return { kind: 'refused', pool, refusal: refusal as PoolRefusal };
  }
  const { login, identityId, customRoleArn } = request;
  let identity: Identity;
  if (login.kind === 'guest') {
    const provider = config.providers.find((p) => p.id === pool.guests?.provider);
    if (provider?.type !== 'guest') throw new Error('refusalOf let a pool without guests through');
    identity = guestIdentity(provider, identityId);
  } else {
    const provider = loginsProviders(pool, config).get(login.loginsKey);
    if (provider === undefined) throw new Error('refusalOf let an unknown Logins key through');
    const sub = login.claims.sub;
    identity = {
      provider: provider.id,
      issuer: provider.issuer,
      subject: typeof sub === 'string' ? sub : '',
      claims: login.claims,
    };
  }
  // The route's own context and filter: the pool's mappings, narrowed by CustomRoleArn.
  const context = poolContext(config, pool, identityId, login.kind === 'guest', customRoleArn);
  const usable = usableConfig(config, context);
  const reachable = new Set(usable.mappings.map((mapping) => mapping.id));
  const mappings = candidateMappings(identity, config).map((mapping): PoolMapping => {
    if (reachable.has(mapping.id)) return { mapping, reachable: true };
    const inPool = pool.mappings === undefined || pool.mappings.includes(mapping.id);
    return {
      mapping,
      reachable: false,
      excludedBy: inPool ? 'custom_role_arn' : 'pool_mappings',
    };
  });
  const explanation = explainDecision(identity, usable, {});
  if (explanation.outcome.kind === 'chosen') {
    explanation.outcome = {
      ...explanation.outcome,
      decision: stamped(explanation.outcome.decision, context.stamp),
    };
  }
  return {
    kind: 'explained',
    pool,
    loginsKey: login.kind === 'guest' ? undefined : login.loginsKey,
    identityId,
    customRoleArn,
    mappings,
    explanation,
  };
}
