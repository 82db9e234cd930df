/**
 * Identity pool checks: unique pool ids, providers that exist and are OIDC, Logins keys unique
 * within a pool, a guest provider that belongs to exactly one pool, mapping restrictions that name
 * mappings of the pool's own providers, and room for the identity tag on every mapping a pool uses.
 */
import { defaultLoginsKey, IDENTITY_ID_TAG_KEY, poolMappings } from '#shared/cognito/pools.ts';
import type { PathSegment } from '#shared/config/path.ts';
import type { IdentityPool, Mapping, Provider } from '#shared/config/schema.ts';
import { STS_LIMITS } from '#shared/config/sts.ts';
import { closest, quoteList, type Report } from './messages.ts';

interface Indexed<T> {
  index: number;
  value: T;
}

export function checkIdentityPools(
  pools: readonly Indexed<IdentityPool>[],
  providers: readonly Indexed<Provider>[],
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
  checkGuestProviders(pools, providers, providersById, report);
  checkIdentityTagRoom(pools, mappings, report);
}

/** A guest provider is the guests of one pool: unused it is dead config, shared it would mix pools. */
function checkGuestProviders(
  pools: readonly Indexed<IdentityPool>[],
  providers: readonly Indexed<Provider>[],
  providersById: ReadonlyMap<string, Provider>,
  report: Report,
): void {
  const usedBy = new Map<string, number>();
  for (const { index, value: pool } of pools) {
    const id = pool.guests?.provider;
    if (id === undefined) continue;
    const earlier = usedBy.get(id);
    if (earlier === undefined) usedBy.set(id, index);
    else {
      report(
        ['identityPools', index, 'guests', 'provider'],
        `guest provider "${id}" already holds the guests of identityPools[${earlier}]; give each pool its own guest provider`,
      );
    }
  }
  for (const { index, value: provider } of providers) {
    // Only the entry that owns the id (a duplicate id is reported by itself).
    if (providersById.get(provider.id) !== provider) continue;
    if (provider.type === 'guest' && !usedBy.has(provider.id)) {
      report(
        ['providers', index, 'type'],
        `guest provider "${provider.id}" is not named by any identity pool's guests.provider, so no guest could ever use it`,
      );
    }
  }
}

/** Every session of a pool carries the identity tag: a mapping must leave it room and its key. */
function checkIdentityTagRoom(
  pools: readonly Indexed<IdentityPool>[],
  mappings: readonly Mapping[],
  report: Report,
): void {
  const reported = new Set<string>();
  for (const { value: pool } of pools) {
    for (const mapping of poolMappings(pool, mappings)) {
      if (reported.has(mapping.id)) continue;
      const index = mappings.indexOf(mapping);
      const keys = Object.keys(mapping.sessionTags);
      // STS compares tag keys case-insensitively.
      const clash = keys.find((key) => key.toLowerCase() === IDENTITY_ID_TAG_KEY);
      if (clash !== undefined) {
        reported.add(mapping.id);
        report(
          ['mappings', index, 'sessionTags', clash],
          `identity pool "${pool.id}" uses this mapping, and every identity-pool session carries the tag "${IDENTITY_ID_TAG_KEY}" (the IdentityId); remove this key`,
        );
      } else if (keys.length >= STS_LIMITS.sessionTags) {
        reported.add(mapping.id);
        report(
          ['mappings', index, 'sessionTags'],
          `identity pool "${pool.id}" uses this mapping, and its sessions also carry "${IDENTITY_ID_TAG_KEY}"; keep at most ${STS_LIMITS.sessionTags - 1} tags`,
        );
      }
    }
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
        provider.type === 'guest'
          ? `names guest provider "${entry.provider}"; name it in guests.provider instead (Logins accept OIDC providers only)`
          : `names provider "${entry.provider}" of type ${provider.type}; identity pools accept OIDC providers only`,
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
  if (pool.guests !== undefined) {
    const id = pool.guests.provider;
    const guest = providersById.get(id);
    if (guest === undefined) {
      const hint = closest(id, providersById.keys());
      report(
        [...path, 'guests', 'provider'],
        `names provider "${id}", which is not defined in providers${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`,
      );
    } else if (guest.type !== 'guest') {
      report(
        [...path, 'guests', 'provider'],
        `names provider "${id}" of type ${guest.type}; guests need a provider of type guest`,
      );
    } else providerIds.add(id);
  } else if (pool.providers.length === 0) {
    report(
      [...path, 'providers'],
      'is empty and the pool has no guests; list at least one OIDC provider, or set guests',
    );
  }
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
