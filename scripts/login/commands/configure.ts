/**
 * `tvm-login configure`: one `[profile tvm-<mapping>]` per role the session maps to, each with
 * the `credential_process` line that runs this launcher, inside the marked block of the AWS
 * config file. Every line outside the block is kept; `--dry-run` prints the diff instead.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { commandLine, mergeManagedBlock, type ProfileSpec, profileName } from '../aws-config.ts';
import type { CommandSpec } from '../command.ts';
import { LoginError, usageError } from '../errors.ts';
import { unifiedDiff } from '../unified-diff.ts';
import { apiFor, liveSession, openCache, targetOf, withSession } from './shared.ts';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

export const configure: CommandSpec = {
  name: 'configure',
  summary: 'Write an AWS config profile for every role you can use',
  options: {
    region: {
      type: 'string',
      value: '<region>',
      help: 'Write `region = <region>` into each profile',
    },
    'dry-run': { type: 'boolean', help: 'Print the change as a unified diff; write nothing' },
    'aws-config': {
      type: 'string',
      value: '<file>',
      help: 'The AWS config file (default $AWS_CONFIG_FILE, else ~/.aws/config)',
    },
  },
  async run(context) {
    const { io, deps, values } = context;
    const target = targetOf(context);
    const region = typeof values.region === 'string' ? values.region : undefined;
    if (region !== undefined && !REGION.test(region)) {
      throw usageError(`--region must be an AWS region such as eu-west-1 (got "${region}")`);
    }
    if (deps.launcher === undefined) {
      throw usageError(
        'configure writes the launcher into credential_process, so run it from the built launcher (npm run build:login, then dist/tvm-login.mjs)',
      );
    }
    const launcher = deps.launcher;
    const file = path.resolve(
      typeof values['aws-config'] === 'string'
        ? values['aws-config']
        : deps.env.AWS_CONFIG_FILE || path.join(deps.home, '.aws', 'config'),
    );

    const cache = openCache(context);
    const session = liveSession(cache, target, deps.now());
    const { roles } = await withSession(cache, target, session, (handle) =>
      apiFor(context, target).roles(handle),
    );
    const profiles: ProfileSpec[] = [...roles]
      .sort((a, b) => a.mapping.localeCompare(b.mapping))
      .map((role) => ({
        role,
        credentialProcess: commandLine(
          [
            ...launcher,
            'credential-process',
            '--url',
            target.url,
            '--provider',
            target.provider,
            '--role',
            role.mapping,
          ],
          deps.platform,
        ),
        ...(region === undefined ? {} : { region }),
      }));

    const before = readOrEmpty(file);
    const after = mergeManagedBlock(before, file, target, profiles);
    const names = profiles.map((profile) => profileName(profile.role.mapping));

    if (values['dry-run'] === true) {
      const diff = unifiedDiff(before, after, { from: file, to: `${file} (after configure)` });
      if (diff === '') io.err(`${file} is already up to date; nothing would change.`);
      else for (const line of diff.replace(/\n$/, '').split('\n')) io.out(line);
      io.err('Dry run: nothing was written.');
      return;
    }
    if (after === before) {
      io.err(`${file} is already up to date (${names.length} profile(s)).`);
      return;
    }
    writeKeepingMode(file, after);
    if (names.length === 0) {
      io.err(
        `No role is available to you at ${target.url}; removed the ${target.provider} profiles from ${file}.`,
      );
      return;
    }
    io.err(`Wrote ${names.length} profile(s) to ${file}: ${names.join(', ')}`);
    io.err(`Try: aws sts get-caller-identity --profile ${names[0]}`);
  },
};

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/**
 * Through a temporary file and a rename, with the file's own mode (0600 for a new one), and
 * into the symlink's target when the config is a link (dotfile managers): never replacing it.
 */
function writeKeepingMode(file: string, text: string): void {
  let real = file;
  let mode = 0o600;
  try {
    real = realpathSync(file);
    mode = statSync(real).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }
  const temporary = path.join(
    path.dirname(real),
    `.${path.basename(real)}.tvm-login.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      fchmodSync(fd, mode);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, real);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Already renamed or never created.
    }
    throw new LoginError(
      'config_conflict',
      `could not write ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
