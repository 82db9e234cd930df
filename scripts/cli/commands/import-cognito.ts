/** `config import-cognito`: a Cognito identity pool's two AWS CLI outputs → a TVM config file. */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { type CognitoImportOptions, importCognito } from '#shared/cognito/import.ts';
import { parseConfigText } from '#shared/config/parse.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { printable } from '../principal.ts';

const TRUST_DOC = 'docs/cognito.md#2-change-the-roles-trust-policies';

export interface ImportCognitoInput {
  options: {
    pool: string;
    roles: string;
    out: string | undefined;
    audience: string[];
    force: boolean;
  };
}

/** `--audience <Logins key>=<client id>`, repeatable: the client ids IAM holds for OIDC providers. */
export function parseAudiences(values: readonly string[]): CognitoImportOptions['audiences'] {
  const audiences: Record<string, string[]> = {};
  for (const value of values) {
    const at = value.lastIndexOf('=');
    const key = value.slice(0, at).trim();
    const clientId = value.slice(at + 1).trim();
    if (at <= 0 || key === '' || clientId === '') {
      throw new UsageError(
        `--audience must be <Logins key>=<client id>, such as login.example.com=my-app; got "${value}"`,
      );
    }
    audiences[key] = [...(audiences[key] ?? []), clientId];
  }
  return audiences;
}

/** A YAML comment wrapped to `width` characters: `first` opens it, later lines are indented. */
function commentLines(text: string, first: string, width = 100): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '#   ';
      empty = true;
    }
    line = empty ? `${line}${word}` : `${line} ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/**
 * Writes the file whole or not at all: a temporary file in the same directory, flushed, then
 * linked into place (which refuses an existing file) or, with --force, renamed over it.
 */
function writeAtomically(path: string, text: string, overwrite: boolean): void {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const fd = openSync(temporary, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (overwrite) {
      renameSync(temporary, path);
      renamed = true;
    } else linkSync(temporary, path);
  } finally {
    if (!renamed) unlinkSync(temporary);
  }
}

export function importCognitoCommand(context: CommandContext, input: ImportCognitoInput): number {
  const { io, deps, options, paint: p } = context;
  const { pool, roles, out, force } = input.options;
  const audiences = parseAudiences(input.options.audience);
  const sources = [];
  for (const name of [pool, roles]) {
    try {
      sources.push({ name, text: deps.readFile(name) });
    } catch (error) {
      io.err(`${p.red('✗')} cannot read ${name}: ${(error as Error).message}`);
      return EXIT.invalid;
    }
  }
  const [poolSource, rolesSource] = sources as [(typeof sources)[0], (typeof sources)[0]];
  const result = importCognito(poolSource, rolesSource, { audiences });
  if (!result.ok) {
    for (const error of result.errors) io.err(`${p.red('✗')} ${printable(error)}`);
    io.err(
      `${p.red('✗')} nothing was imported${out === undefined ? '' : `; ${out} was not written`}`,
    );
    return EXIT.invalid;
  }

  const header = [
    ...commentLines(
      `Imported from Cognito identity pool "${printable(result.poolName)}" (${result.poolId}) by \`tvm config import-cognito\` from ${basename(pool)} and ${basename(roles)}.`,
      '# ',
    ),
    ...commentLines(
      `Before applying: change the trust policy of every role below so that the TVM can assume it (${TRUST_DOC}), and read the warnings.`,
      '# ',
    ),
    ...result.warnings.flatMap((warning) => commentLines(printable(warning), '# WARNING: ')),
    ...result.notes.flatMap((note) => commentLines(printable(note), '# NOTE: ')),
  ];
  const text = `${header.join('\n')}\n${stringify(result.document, { lineWidth: 0 })}`;
  const shownAs = out ?? 'the imported config';
  // The same checks as `config validate`: a file that would not apply is not written.
  const checked = parseConfigText(text, shownAs, { stage: options.stage });
  if (!checked.ok) {
    io.err(
      `${p.red('✗')} the imported config does not validate for stage ${options.stage}; nothing was written:`,
    );
    for (const problem of checked.problems) io.err(`  ${p.cyan(problem.path)} ${problem.message}`);
    return EXIT.invalid;
  }

  for (const warning of result.warnings) io.err(`${p.yellow('! warning:')} ${printable(warning)}`);
  for (const note of result.notes) io.err(`${p.dim('i note:')} ${printable(note)}`);
  io.err(
    `${p.yellow('! trust policies:')} each of these ${result.roleArns.length} role(s) trusts cognito-identity.amazonaws.com today; before applying, let it trust the TVM's Lambda role with sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity (${TRUST_DOC}):`,
  );
  for (const arn of result.roleArns) io.err(`    ${arn}`);

  const { providers, mappings } = checked.config;
  const summary = `${providers.length} provider(s), ${mappings.length} mapping(s), 1 identity pool; ${result.warnings.length} warning(s)`;
  if (out === undefined) {
    io.out(text.trimEnd());
    io.err(`${p.green('✓')} imported ${result.poolId}: ${summary}`);
    return EXIT.ok;
  }
  try {
    writeAtomically(out, text, force);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(
      code === 'EEXIST'
        ? `${p.red('✗')} ${out} exists; nothing was written (--force replaces it)`
        : `${p.red('✗')} cannot write ${out}: ${(error as Error).message}; nothing was written`,
    );
    return EXIT.invalid;
  }
  io.out(`${p.green('✓')} wrote ${out} from ${result.poolId}: ${summary}`);
  io.out(`  next: npm run tvm -- config validate ${out} --stage ${options.stage}`);
  return EXIT.ok;
}
