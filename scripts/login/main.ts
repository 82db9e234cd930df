/**
 * tvm-login, the end-user CLI: sign in once through the browser, then let the AWS CLI and SDKs
 * get credentials through `credential_process`. Separate from the admin CLI (scripts/cli/),
 * because users have no admin credentials, and built from Node's own modules only, so that the
 * bundle (scripts/login/build.ts) runs on a plain Node >= 20.
 */
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { browserOpener } from './browser.ts';
import { DEFAULT_LOCK_TIMING } from './cache.ts';
import { type CommandSpec, type LoginDeps, type LoginIo, TARGET_OPTIONS } from './command.ts';
import { configure } from './commands/configure.ts';
import { credentialProcess } from './commands/credential-process.ts';
import { login } from './commands/login.ts';
import { logout } from './commands/logout.ts';
import { EXIT, LoginError } from './errors.ts';

export type { LoginDeps, LoginIo };
export { EXIT };

export const COMMANDS: readonly CommandSpec[] = [login, configure, credentialProcess, logout];

export function defaultLoginDeps(overrides: Partial<LoginDeps> = {}): LoginDeps {
  const env = overrides.env ?? process.env;
  const platform = overrides.platform ?? process.platform;
  return {
    env,
    home: homedir(),
    platform,
    fetch: globalThis.fetch,
    now: () => new Date(),
    openBrowser: browserOpener(env, platform),
    launcher: undefined,
    lockTiming: DEFAULT_LOCK_TIMING,
    httpTimeoutMs: 20_000,
    ...overrides,
  };
}

function optionsOf(spec: CommandSpec) {
  return { ...TARGET_OPTIONS, ...spec.options };
}

function commandHelp(spec: CommandSpec): string[] {
  const options = optionsOf(spec);
  const synopsis = Object.entries(options)
    .map(([name, option]) => {
      const flag =
        option.type === 'boolean' ? `--${name}` : `--${name} ${option.value ?? '<value>'}`;
      return option.required === true ? flag : `[${flag}]`;
    })
    .join(' ');
  const width = Math.max(
    ...Object.entries(options).map(([name, o]) => name.length + (o.value?.length ?? 0)),
  );
  return [
    `Usage: tvm-login ${spec.name} ${synopsis}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...Object.entries(options).map(([name, option]) => {
      const flag = `--${name}${option.value === undefined ? '' : ` ${option.value}`}`;
      return `  ${flag.padEnd(width + 4)}  ${option.help}`;
    }),
  ];
}

function generalHelp(): string[] {
  const width = Math.max(...COMMANDS.map((spec) => spec.name.length));
  return [
    'Usage: tvm-login <command> --url <base url> --provider <id> [options]',
    '',
    'Sign in to the TVM through your browser, then let the AWS CLI and SDKs get short-lived',
    'credentials through credential_process. Cache: $TVM_LOGIN_HOME or ~/.tvm-login/.',
    '',
    'Commands:',
    ...COMMANDS.map((spec) => `  ${spec.name.padEnd(width)}  ${spec.summary}`),
    '',
    'Run `tvm-login <command> --help` for its options. Exit codes: 0 ok, 1 failed, 2 usage.',
  ];
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runTvmLogin(
  argv: readonly string[],
  io: LoginIo,
  deps: LoginDeps,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    for (const line of generalHelp()) (name === undefined ? io.err : io.out)(line);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const spec = COMMANDS.find((candidate) => candidate.name === name);
  if (spec === undefined) {
    io.err(`tvm-login: unknown command "${name}"`);
    for (const line of generalHelp()) io.err(line);
    return EXIT.usage;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(optionsOf(spec)).map(([option, { type }]) => [option, { type }]),
    );
    ({ values } = parseArgs({
      args: [...rest],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (error) {
    io.err(`tvm-login ${spec.name}: ${(error as Error).message}`);
    for (const line of commandHelp(spec)) io.err(line);
    return EXIT.usage;
  }
  if (values.help === true) {
    for (const line of commandHelp(spec)) io.out(line);
    return EXIT.ok;
  }
  for (const [option, { required }] of Object.entries(optionsOf(spec))) {
    if (required === true && values[option] === undefined) {
      io.err(`tvm-login ${spec.name}: --${option} is required`);
      for (const line of commandHelp(spec)) io.err(line);
      return EXIT.usage;
    }
  }
  try {
    await spec.run({ io, deps, values });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof LoginError) {
      io.err(`tvm-login: ${error.message}`);
      return error.exitCode;
    }
    // Unexpected: the class and message only (a stack adds nothing for a user, and no secret is in either).
    io.err(
      `tvm-login: unexpected error: ${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`,
    );
    return EXIT.failed;
  }
}
