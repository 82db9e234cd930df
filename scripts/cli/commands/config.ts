/** `config validate|diff|apply|export|rollback|history`: the config lifecycle. */
import { stringify } from 'yaml';
import { type ConfigChange, diffConfigs } from '#shared/config/diff.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { type CommandContext, EXIT } from '../command.ts';
import { readConfig, reportNoConfig } from '../config-source.ts';

interface FileInput {
  args: [file: string];
}

function summary(config: TvmConfig): string {
  return `${config.providers.length} provider(s), ${config.mappings.length} mapping(s)`;
}

export function validate(context: CommandContext, { args: [file] }: FileInput): number {
  const { io, options, paint: p } = context;
  const config = readConfig(context, file);
  if (config === undefined) return EXIT.invalid;
  io.out(`${p.green('✓')} ${p.bold(file)} is valid for stage ${options.stage}: ${summary(config)}`);
  return EXIT.ok;
}

export async function diff(context: CommandContext, { args: [file] }: FileInput): Promise<number> {
  const config = readConfig(context, file);
  if (config === undefined) return EXIT.invalid;
  const current = await context.deps.openStore(context.options).current();
  printChanges(context, diffConfigs(current?.config, config), current);
  return EXIT.ok;
}

export async function apply(
  context: CommandContext,
  { args: [file], options: { 'dry-run': dryRun } }: FileInput & { options: { 'dry-run': boolean } },
): Promise<number> {
  const { io, options, paint: p } = context;
  const config = readConfig(context, file);
  if (config === undefined) return EXIT.invalid;
  const store = context.deps.openStore(options);
  const current = await store.current();
  printChanges(context, diffConfigs(current?.config, config), current);
  if (dryRun) {
    io.out(p.yellow('dry run: nothing was applied'));
    return EXIT.ok;
  }
  const result = await store.apply(config, { appliedBy: options.by });
  if (result.status === 'unchanged') {
    io.out(`Already current: generation ${result.pointer.generation}; nothing was applied.`);
    return EXIT.ok;
  }
  const from = result.previous === null ? '' : ` (was ${result.previous.generation})`;
  io.out(
    `${p.green('✓')} applied ${file} as generation ${result.pointer.generation}${from} to table ${options.table}, revision ${result.pointer.revision}, sha256 ${result.pointer.hash.slice(0, 12)}`,
  );
  return EXIT.ok;
}

export async function exportConfig(
  context: CommandContext,
  {
    options: { generation, format },
  }: { options: { generation: number | undefined; format: 'yaml' | 'json' } },
): Promise<number> {
  const store = context.deps.openStore(context.options);
  const loaded = generation === undefined ? await store.current() : await store.load(generation);
  if (loaded === undefined) {
    reportNoConfig(context);
    return EXIT.invalid;
  }
  const header = `generation ${loaded.generation}, sha256 ${loaded.hash}, created ${loaded.createdAt} by ${loaded.createdBy}`;
  if (format === 'json') {
    context.io.out(JSON.stringify(loaded.config, null, 2));
  } else {
    context.io.out(`# ${header}\n${stringify(loaded.config, { lineWidth: 0 })}`);
  }
  return EXIT.ok;
}

export async function rollback(
  context: CommandContext,
  { options: { to } }: { options: { to: number | undefined } },
): Promise<number> {
  const { io, options, paint: p } = context;
  const store = context.deps.openStore(options);
  const current = await store.current();
  const pointer = await store.rollback({
    appliedBy: options.by,
    ...(to === undefined ? {} : { toGeneration: to }),
  });
  const restored = await store.load(pointer.generation);
  printChanges(context, diffConfigs(current?.config, restored.config), current);
  io.out(
    `${p.green('✓')} rolled back to generation ${pointer.generation} (was ${pointer.previousGeneration}), revision ${pointer.revision}`,
  );
  return EXIT.ok;
}

export async function history(
  context: CommandContext,
  { options: { limit } }: { options: { limit: number } },
): Promise<number> {
  const { io, paint: p } = context;
  const store = context.deps.openStore(context.options);
  const entries = await store.history(limit);
  const pointer = await store.pointer();
  if (entries.length === 0) {
    io.out('No config has been applied yet.');
    return EXIT.ok;
  }
  io.out(p.bold('revision  action    generation  from  at                        by'));
  for (const entry of entries) {
    const mark = entry.revision === pointer?.revision ? p.green(' ← current') : '';
    io.out(
      `${String(entry.revision).padEnd(10)}${entry.action.padEnd(10)}${String(entry.generation).padEnd(12)}${String(entry.fromGeneration ?? '-').padEnd(6)}${entry.at.padEnd(26)}${entry.by}${mark}`,
    );
  }
  return EXIT.ok;
}

function printChanges(
  { io, paint: p }: CommandContext,
  changes: ConfigChange[],
  current: ConfigGeneration | undefined,
): void {
  const base = current === undefined ? 'an empty table' : `generation ${current.generation}`;
  if (changes.length === 0) {
    io.out(`No changes against ${base}.`);
    return;
  }
  io.out(`Changes against ${base}:`);
  for (const change of changes) {
    const label = `${change.kind} ${change.id}`;
    if (change.change === 'added') io.out(p.green(`  + ${label}`));
    else if (change.change === 'removed') io.out(p.red(`  - ${label}`));
    else {
      io.out(p.yellow(`  ~ ${label}`));
      for (const field of change.fields) {
        io.out(`      ${field.path}: ${p.red(show(field.before))} → ${p.green(show(field.after))}`);
      }
    }
  }
}

/** Short, one-line rendering of a value for diffs (certificates and policies get long). */
function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  const text = JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 97)}… (${text.length} chars)` : text;
}
