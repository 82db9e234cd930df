/**
 * Identity pools as the Cognito-compatible calls read them: which pool an id names, and which
 * OIDC provider a `Logins` key stands for in that pool. No zod here: the function bundle reads
 * the applied config as data.
 */
import type { IdentityPool, OidcProvider, TvmConfig } from '#shared/config/schema.ts';

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
