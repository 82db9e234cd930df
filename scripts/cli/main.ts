/**
 * The admin CLI, `npm run tvm -- <command>`: parses the command line against the command table
 * (scripts/cli/commands.ts), runs the command, and turns its errors into exit codes (EXIT).
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IAMClient } from '@aws-sdk/client-iam';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import pc from 'picocolors';
import { sdkDoctorAws } from '#shared/admin/doctor.ts';
import { DynamoVendHistory, IamRolePolicies } from '#shared/admin/revoke.ts';
import { DynamoAuditLog } from '#shared/audit/history.ts';
import { createDocumentClient } from '#shared/aws.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { ConfigFileSchema } from '#shared/config/schema.ts';
import { AppError, ConfigConflictError, ConfigInvalidError } from '#shared/errors.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { DynamoLoginStore } from '#shared/login/store.ts';
import {
  type CliDeps,
  type CliIo,
  type CommandSpec,
  EXIT,
  type GlobalOptions,
  type OptionSpec,
  type Paint,
  UsageError,
} from './command.ts';
import { COMMANDS } from './commands.ts';
import { commandHelp, groupHelp, usage } from './help.ts';

export type { CliDeps, CliIo, GlobalOptions };
export { EXIT };

/**
 * The real dependencies. AWS settings come from `env` (normally process.env) with the usual
 * names, so that the CLI behaves the same in-process (tests, npm start) as from a shell.
 */
export function defaultDeps(env: NodeJS.ProcessEnv = process.env): Required<CliDeps> {
  const documentClient = (options: GlobalOptions) =>
    createDocumentClient(awsClientConfig(options, env, undefined));
  return {
    env,
    readFile: (path) => readFileSync(path, 'utf8'),
    openStore: (options) =>
      new DynamoConfigStore(documentClient(options), options.table, {
        parse: (stored) => ConfigFileSchema.parse(stored),
      }),
    openDenyList: (options) => new DynamoDenyList(documentClient(options), options.table),
    openVendHistory: (options) => new DynamoVendHistory(documentClient(options), options.table),
    openIam: (options, iamProfile) => {
      const config = awsClientConfig(options, env, iamProfile);
      return new IamRolePolicies(new IAMClient(config), new STSClient(config));
    },
    openAuditLog: (options) => new DynamoAuditLog(documentClient(options), options.table),
    openLoginSessions: (options) => new DynamoLoginStore(documentClient(options), options.table),
    openDoctor: (options) => {
      const config = awsClientConfig(options, env, undefined);
      return {
        aws: sdkDoctorAws({
          dynamodb: new DynamoDBClient(config),
          iam: new IAMClient(config),
          ssm: new SSMClient(config),
          sts: new STSClient(config),
        }),
        fetch: globalThis.fetch,
      };
    },
    now: () => new Date(),
  };
}

/** Client settings shared by every AWS client the CLI makes. */
function awsClientConfig(
  options: GlobalOptions,
  env: NodeJS.ProcessEnv,
  profile: string | undefined,
) {
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const endpoint = options.endpointUrl ?? env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  return {
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint }),
    // A named profile wins; else the same as the SDK's env provider; else the default chain.
    ...(profile !== undefined
      ? { profile }
      : accessKeyId && secretAccessKey
        ? {
            credentials: {
              accessKeyId,
              secretAccessKey,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            },
          }
        : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  };
}

type RawValue = string | boolean | string[] | undefined;

export interface Parsed {
  positionals: string[];
  values: Record<string, RawValue>;
}

/**
 * Every option of every command, parsed in one pass: an option no command has is a usage error
 * here, and one that only other commands take is refused once the command is known.
 */
const PARSE_OPTIONS: ParseArgsOptionsConfig = (() => {
  const all: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } };
  for (const spec of COMMANDS) {
    for (const [name, option] of Object.entries(spec.options)) {
      const type = option.type === 'boolean' ? 'boolean' : 'string';
      const multiple = option.type === 'list';
      const seen = all[name];
      if (seen !== undefined && (seen.type !== type || (seen.multiple ?? false) !== multiple)) {
        throw new Error(`--${name} is declared with two types in the command table`);
      }
      all[name] = { type, multiple };
    }
  }
  return all;
})();

export function parseCliArgs(argv: string[]): Parsed {
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: PARSE_OPTIONS,
    });
    return { positionals, values: values as Parsed['values'] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function text(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function globalOptions(parsed: Parsed, env: NodeJS.ProcessEnv): GlobalOptions {
  const stage = text(parsed, 'stage') ?? env.TVM_STAGE ?? 'dev';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(stage)) throw new UsageError(`invalid --stage "${stage}"`);
  let by = text(parsed, 'by');
  if (by === undefined) {
    try {
      by = `${userInfo().username}@${hostname()}`;
    } catch {
      by = `unknown@${hostname()}`;
    }
  }
  return {
    stage,
    table: text(parsed, 'table') ?? env.TVM_TABLE_NAME ?? `tvm-${stage}`,
    region: text(parsed, 'region'),
    endpointUrl: text(parsed, 'endpoint-url'),
    by,
  };
}

/** One-word commands (explain) have no verb; the others are "<group> <verb>". */
function findCommand(positionals: string[]): {
  name: string;
  spec: CommandSpec | undefined;
  args: string[];
} {
  const [first = '', ...rest] = positionals;
  const oneWord = COMMANDS.find((spec) => spec.name === first);
  if (oneWord !== undefined) return { name: first, spec: oneWord, args: rest };
  const name = `${first} ${rest[0] ?? ''}`.trim();
  return { name, spec: COMMANDS.find((spec) => spec.name === name), args: rest.slice(1) };
}

function isGroup(name: string): boolean {
  return COMMANDS.some((spec) => spec.name.startsWith(`${name} `));
}

/** The value a command sees for one option: checked, typed, and defaulted. */
function optionValue(command: string, name: string, option: OptionSpec, raw: RawValue): unknown {
  const flag = `--${name}`;
  if (option.type === 'boolean') return raw === true;
  if (option.type === 'list') return raw ?? [];
  if (typeof raw !== 'string') {
    if (option.type === 'string' && option.required === true) {
      throw new UsageError(`"${command}" needs ${flag} ${option.value}`);
    }
    return option.default;
  }
  switch (option.type) {
    case 'integer':
      if (!/^[1-9][0-9]{0,9}$/.test(raw))
        throw new UsageError(`${flag} must be a positive integer`);
      return Number(raw);
    case 'choice':
      if (!option.choices.includes(raw)) {
        throw new UsageError(`${flag} must be ${option.choices.join(' or ')}`);
      }
      return raw;
    case 'string':
      // An empty required value is as good as none, unless the option's own check says why not.
      if (raw === '' && option.required === true && option.check === undefined) {
        throw new UsageError(`"${command}" needs ${flag} ${option.value}`);
      }
      option.check?.(raw);
      return raw;
  }
}

function commandInput(spec: CommandSpec, args: string[], parsed: Parsed) {
  if (args.length !== spec.args.length) {
    const wanted = spec.args.map((arg) => arg.name).join(' ');
    throw new UsageError(
      spec.args.length === 0
        ? `"${spec.name}" takes no arguments`
        : `"${spec.name}" needs exactly ${spec.args.length === 1 ? 'one ' : ''}${wanted}`,
    );
  }
  for (const name of Object.keys(parsed.values)) {
    if (!Object.hasOwn(spec.options, name)) {
      throw new UsageError(`"${spec.name}" does not take --${name}`);
    }
  }
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, option]) => [
      name,
      optionValue(spec.name, name, option, parsed.values[name]),
    ]),
  );
  return { args, options } as Parameters<CommandSpec['run']>[1];
}

export async function runCli(
  argv: string[],
  io: CliIo,
  given: CliDeps = defaultDeps(),
): Promise<number> {
  const paint = pc.createColors(io.color);
  let help = usage();
  try {
    const fallback = defaultDeps(given.env);
    const deps: Required<CliDeps> = {
      env: given.env,
      readFile: given.readFile,
      openStore: given.openStore,
      openDenyList: given.openDenyList ?? fallback.openDenyList,
      openVendHistory: given.openVendHistory ?? fallback.openVendHistory,
      openIam: given.openIam ?? fallback.openIam,
      openAuditLog: given.openAuditLog ?? fallback.openAuditLog,
      openDoctor: given.openDoctor ?? fallback.openDoctor,
      openLoginSessions: given.openLoginSessions ?? fallback.openLoginSessions,
      now: given.now ?? fallback.now,
    };
    const parsed = parseCliArgs(argv);
    const asksHelp = parsed.values.help === true;
    if (parsed.positionals.length === 0) {
      io.out(help);
      return asksHelp ? EXIT.ok : EXIT.usage;
    }
    const { name, spec, args } = findCommand(parsed.positionals);
    if (spec === undefined) {
      if (asksHelp && name === parsed.positionals[0] && isGroup(name)) {
        io.out(groupHelp(name));
        return EXIT.ok;
      }
      throw new UsageError(`unknown command "${name}"`);
    }
    help = commandHelp(spec);
    if (asksHelp) {
      io.out(help);
      return EXIT.ok;
    }
    const input = commandInput(spec, args, parsed);
    const context = { io, deps, options: globalOptions(parsed, deps.env), paint };
    return await spec.run(context, input);
  } catch (error) {
    return reportError(error, io, paint, help);
  }
}

function reportError(error: unknown, io: CliIo, paint: Paint, help: string): number {
  if (error instanceof UsageError) {
    io.err(`${paint.red('error:')} ${error.message}\n\n${help}`);
    return EXIT.usage;
  }
  if (error instanceof ConfigConflictError) {
    io.err(`${paint.red('conflict:')} ${error.message}`);
    return EXIT.conflict;
  }
  if (error instanceof ConfigInvalidError) {
    // Only stored generations get here (files are validated before any call): upstream damage.
    io.err(`${paint.red('error:')} the stored config is unusable:`);
    for (const problem of error.problems) io.err(`  ${problem.path} ${problem.message}`);
    return EXIT.upstream;
  }
  if (error instanceof AppError && error.statusCode === 400) {
    io.err(`${paint.red('error:')} ${error.detail ?? error.message}`);
    return EXIT.invalid;
  }
  const aws = error as { name?: string; message?: string; $metadata?: unknown; code?: string };
  if (aws.name === 'ResourceNotFoundException') {
    io.err(
      `${paint.red('error:')} DynamoDB table not found (${aws.message}). Check --table and --region, or deploy the stack first.`,
    );
    return EXIT.upstream;
  }
  const detail = `${aws.name ?? 'Error'}: ${aws.message ?? String(error)}`;
  io.err(`${paint.red('error:')} AWS call failed: ${detail}`);
  return EXIT.upstream;
}
