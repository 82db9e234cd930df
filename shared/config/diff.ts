import type { TvmConfig } from './schema.ts';
import { canonicalJson } from './store.ts';

export interface FieldChange {
  /** Dotted path inside the provider or mapping, such as `sessionTags.team`. */
  path: string;
  before: unknown;
  after: unknown;
}

export interface ConfigChange {
  kind: 'provider' | 'mapping' | 'identityPool' | 'account';
  id: string;
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Leaf-level differences; arrays compare as whole values, which is how operators read them. */
function diffValues(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      diffValues(before[key], after[key], path === '' ? key : `${path}.${key}`, out);
    }
    return;
  }
  if (canonicalJson(before) !== canonicalJson(after)) {
    out.push({ path, before, after });
  }
}

function diffEntities<T extends { id: string }>(
  kind: ConfigChange['kind'],
  before: readonly T[],
  after: readonly T[],
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const old = new Map(before.map((entity) => [entity.id, entity]));
  const next = new Map(after.map((entity) => [entity.id, entity]));
  for (const [id, entity] of next) {
    const previous = old.get(id);
    if (previous === undefined) {
      changes.push({ kind, id, change: 'added', fields: [] });
      continue;
    }
    const fields: FieldChange[] = [];
    diffValues(previous, entity, '', fields);
    if (fields.length > 0) changes.push({ kind, id, change: 'changed', fields });
  }
  for (const id of old.keys()) {
    if (!next.has(id)) changes.push({ kind, id, change: 'removed', fields: [] });
  }
  return changes;
}

/** What applying `after` over `before` changes, provider by provider and mapping by mapping. */
export function diffConfigs(before: TvmConfig | undefined, after: TvmConfig): ConfigChange[] {
  return [
    ...diffEntities('provider', before?.providers ?? [], after.providers),
    ...diffEntities('mapping', before?.mappings ?? [], after.mappings),
    ...diffEntities('identityPool', before?.identityPools ?? [], after.identityPools ?? []),
    ...diffEntities('account', accountEntities(before?.accounts), accountEntities(after.accounts)),
  ];
}

/** `accounts` is keyed by account id: each entry diffs like an entity with that id. */
function accountEntities(accounts: TvmConfig['accounts'] | undefined): { id: string }[] {
  return Object.entries(accounts ?? {}).map(([id, account]) => ({ ...account, id }));
}
