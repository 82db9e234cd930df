/**
 * Identity pool checks: unique pool ids, providers that exist and are OIDC, Logins keys unique
 * within a pool, and mapping restrictions that name mappings of the pool's own providers.
 */
import { defaultLoginsKey } from '#shared/cognito/pools.ts';
import type { PathSegment } from '#shared/config/path.ts';
import type { IdentityPool, Mapping, Provider } from '#shared/config/schema.ts';
import { closest, quoteList, type Report } from './messages.ts';

interface Indexed<T> {
  index: number;
  value: T;
}

export function checkIdentityPools(
  pools: readonly Indexed<IdentityPool>[],
  providersById: ReadonlyMap<string, Provider>,
  mappings: readonly Mapping[],
  report: Report,
): void {
  const firstPool = new Map<string, number>();
  for (const { index, value: pool } of pools) {
    const path: PathSegment[] = ['identityPools', index];
    const earlier = firstPool.get(pool.id);
    if (earlier === undefined) firstPool.set(pool.id, index);
    else {
      report(
        [...path, 'id'],
        `duplicate identity pool id "${pool.id}" (also identityPools[${earlier}].id); ids must be unique`,
      );
    }
    checkPool(pool, path, providersById, mappings, report);
  }
}

function checkPool(
  pool: IdentityPool,
  path: readonly PathSegment[],
  providersById: ReadonlyMap<string, Provider>,
  mappings: readonly Mapping[],
  report: Report,
): void {
  const keys = new Map<string, number>();
  const providerIds = new Set<string>();
  pool.providers.forEach((entry, position) => {
    const entryPath = [...path, 'providers', position];
    if (providerIds.has(entry.provider)) {
      report([...entryPath, 'provider'], `lists provider "${entry.provider}" twice`);
    }
    providerIds.add(entry.provider);
    const provider = providersById.get(entry.provider);
    if (provider === undefined) {
      const hint = closest(entry.provider, providersById.keys());
      report(
        [...entryPath, 'provider'],
        `names provider "${entry.provider}", which is not defined in providers${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`,
      );
      return;
    }
    if (provider.type !== 'oidc') {
      report(
        [...entryPath, 'provider'],
        `names provider "${entry.provider}" of type ${provider.type}; identity pools accept OIDC providers only`,
      );
      return;
    }
    const key = entry.loginsKey ?? defaultLoginsKey(provider.issuer);
    const first = keys.get(key);
    if (first === undefined) keys.set(key, position);
    else {
      report(
        [...entryPath, entry.loginsKey === undefined ? 'provider' : 'loginsKey'],
        `has Logins key "${key}", as providers[${first}] does; each Logins key must name one provider`,
      );
    }
  });
  if (pool.mappings === undefined) return;
  const byId = new Map(mappings.map((mapping) => [mapping.id, mapping]));
  const seen = new Set<string>();
  pool.mappings.forEach((id, position) => {
    const mappingPath = [...path, 'mappings', position];
    if (seen.has(id)) report(mappingPath, `lists mapping "${id}" twice`);
    seen.add(id);
    const mapping = byId.get(id);
    if (mapping === undefined) {
      const hint = closest(id, byId.keys());
      report(
        mappingPath,
        `names mapping "${id}", which is not defined in mappings${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`,
      );
    } else if (!providerIds.has(mapping.provider)) {
      report(
        mappingPath,
        `names mapping "${id}" of provider "${mapping.provider}", which this pool does not accept; the pool's providers are ${quoteList(providerIds)}`,
      );
    }
  });
}
