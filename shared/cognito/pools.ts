/**
 * Identity pools as the Cognito-compatible calls read them: which pool an id names, and which
 * OIDC provider a `Logins` key stands for in that pool. No zod here: the function bundle reads
 * the applied config as data.
 */
import type { IdentityPool, Mapping, OidcProvider, TvmConfig } from '#shared/config/schema.ts';

/**
 * The session tag every identity-pool session carries: the IdentityId exactly, so a role policy
 * can confine each identity to its own prefix with `${aws:PrincipalTag/cognito-identity-id}`.
 */
export const IDENTITY_ID_TAG_KEY = 'cognito-identity-id';

/**
 * Cognito's name for an OIDC provider in `Logins`: the issuer without its scheme and without a
 * trailing `/` (`accounts.google.com`, `cognito-idp.<region>.amazonaws.com/<userPoolId>`).
 */
export function defaultLoginsKey(issuer: string): string {
  return issuer.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
}

/** A generation applied before pools existed has no `identityPools` at all (never re-parsed). */
export function identityPoolsOf(config: TvmConfig): readonly IdentityPool[] {
  return config.identityPools ?? [];
}

export function findIdentityPool(config: TvmConfig, poolId: string): IdentityPool | undefined {
  return identityPoolsOf(config).find((pool) => pool.id === poolId);
}

/** The region an identity pool id or identity id starts with. */
export function regionOf(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

/** `Logins` key → the OIDC provider it names in this pool; a provider gone from config is absent. */
export function loginsProviders(
  pool: IdentityPool,
  config: TvmConfig,
): ReadonlyMap<string, OidcProvider> {
  const byKey = new Map<string, OidcProvider>();
  for (const entry of pool.providers) {
    const provider = config.providers.find((p) => p.id === entry.provider);
    if (provider?.type !== 'oidc') continue;
    byKey.set(entry.loginsKey ?? defaultLoginsKey(provider.issuer), provider);
  }
  return byKey;
}

/** The provider ids whose mappings a pool's identities may use: its Logins providers and guests. */
export function poolProviderIds(pool: IdentityPool): ReadonlySet<string> {
  const ids = new Set(pool.providers.map((entry) => entry.provider));
  if (pool.guests !== undefined) ids.add(pool.guests.provider);
  return ids;
}

/** The mappings a pool's identities can reach: of its providers, and in its restriction if any. */
export function poolMappings(pool: IdentityPool, mappings: readonly Mapping[]): Mapping[] {
  const providers = poolProviderIds(pool);
  return mappings.filter(
    (mapping) =>
      providers.has(mapping.provider) &&
      (pool.mappings === undefined || pool.mappings.includes(mapping.id)),
  );
}

/**
 * The SourceIdentity of an identity-pool session whose mapping sets none: the IdentityId, with
 * its ":" (which STS refuses in a SourceIdentity) as ".".
 */
export function identitySourceIdentity(identityId: string): string {
  return identityId.replace(':', '.');
}
