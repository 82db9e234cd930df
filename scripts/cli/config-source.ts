/** Where the CLI's commands get a config: a file (validated, every problem listed) or the table. */

import { parseConfigText } from '#shared/config/parse.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { configWarnings } from '#shared/config/validate.ts';
import type { ConfigProblem } from '#shared/errors.ts';
import type { CommandContext } from './command.ts';

/** Reads and validates a file; undefined (after printing every problem) when it is invalid. */
export function readConfig(context: CommandContext, file: string): TvmConfig | undefined {
  const { io, deps, options, paint: p } = context;
  let text: string;
  try {
    text = deps.readFile(file);
  } catch (error) {
    io.err(`${p.red('✗')} cannot read ${file}: ${(error as Error).message}`);
    return undefined;
  }
  const result = parseConfigText(text, file, { stage: options.stage });
  if (result.ok) {
    for (const warning of configWarnings(result.config)) {
      io.err(`${p.yellow('!')} ${p.cyan(warning.path)}: ${warning.message}`);
    }
    return result.config;
  }
  printProblems(context, file, result.problems);
  return undefined;
}

function printProblems(context: CommandContext, file: string, problems: ConfigProblem[]): void {
  const { io, options, paint: p } = context;
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  io.err(`${p.red('✗')} ${p.bold(file)}: ${count} (stage ${options.stage}); nothing was changed`);
  for (const problem of problems) {
    const where = problem.location === undefined ? file : `${file}:${problem.location}`;
    const path = problem.path === '' ? '' : `${p.cyan(problem.path)}: `;
    io.err(`  ${p.dim(where)}  ${path}${problem.message}`);
  }
}

/** The current generation, or undefined after saying that none was applied. */
export async function currentConfig(
  context: CommandContext,
): Promise<ConfigGeneration | undefined> {
  const current = await context.deps.openStore(context.options).current();
  if (current === undefined) reportNoConfig(context);
  return current;
}

export function reportNoConfig({ io, options, paint }: CommandContext): void {
  io.err(`${paint.red('error:')} no config has been applied to ${options.table}`);
}

/**
 * The config of `--config <file>`, or the current generation, with a line saying which; an
 * error is reported and undefined returned when there is none.
 */
export async function configOf(
  context: CommandContext,
  file: string | undefined,
): Promise<{ config: TvmConfig; source: string } | undefined> {
  if (file !== undefined) {
    const config = readConfig(context, file);
    return config === undefined ? undefined : { config, source: file };
  }
  const current = await currentConfig(context);
  if (current === undefined) return undefined;
  return {
    config: current.config,
    source: `generation ${current.generation} of ${context.options.table} (sha256 ${current.hash.slice(0, 12)})`,
  };
}
