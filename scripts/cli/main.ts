/**
 * The admin CLI, `npm run tvm -- <command>`. Exit codes: 0 ok, 1 invalid input, 2 usage,
 * 3 upstream failure (AWS unreachable, table missing, stored config damaged), 4 conflict
 * (another apply or rollback won the race; nothing was changed, re-running is safe).
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import pc from 'picocolors';
import { stringify } from 'yaml';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { createDocumentClient } from '#shared/aws.ts';
import { type ConfigChange, diffConfigs } from '#shared/config/diff.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { parseConfigText } from '#shared/config/parse.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin, ConfigGeneration } from '#shared/config/store.ts';
import {
  AppError,
  ConfigConflictError,
  ConfigInvalidError,
  type ConfigProblem,
} from '#shared/errors.ts';
import { explainDecision, formatExplanation } from '#shared/mapping/explain.ts';
import { DEFAULT_DEV_ISSUER, mintDevToken } from '../local/dev-token.ts';

export const EXIT = { ok: 0, invalid: 1, usage: 2, upstream: 3, conflict: 4 } as const;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Whether to colour output; picocolors decides from the terminal and NO_COLOR/FORCE_COLOR. */
  color: boolean;
}

export interface GlobalOptions {
  stage: string;
  table: string;
  region: string | undefined;
  endpointUrl: string | undefined;
  by: string;
}

export interface CliDeps {
  env: NodeJS.ProcessEnv;
  openStore(options: GlobalOptions): ConfigAdmin;
  readFile(path: string): string;
}

export const USAGE = `usage: npm run tvm -- <command> [options]

commands:
  config validate <file>            check a config file; lists every problem
  config apply <file> [--dry-run]   validate, show what changes, and make it current atomically
  config diff <file>                show what applying <file> would change
  config export [--generation N] [--format yaml|json]
                                    print the current (or a given) generation
  config rollback [--to N]          make the previous (or a given) generation current again
  config history [--limit N]        list applies and rollbacks, newest first
  explain --provider <id> --claims <file|json> [--mapping <id>] [--duration N] [--config <file>]
                                    show which mappings match these claims and why, the chosen
                                    one and its rendered tags, session policy and session name,
                                    against the current generation (or --config <file>); no STS
                                    call is made. Exit 0 when a mapping is chosen, 1 when denied
  dev-token --sub <sub> [--claim k=v ...] [--issuer <url>] [--expires-in <s>]
                                    print an ID token from the development issuer that npm start
                                    runs (local only); a repeated --claim key makes a list

options:
  --stage <s>         stage whose rules apply (default $TVM_STAGE or dev); http:// URLs are
                      accepted for loopback hosts only in the local stage
  --table <name>      DynamoDB table (default $TVM_TABLE_NAME or tvm-<stage>)
  --region <r>        AWS region (default from the AWS environment)
  --endpoint-url <u>  AWS endpoint, for the local emulator (default $AWS_ENDPOINT_URL)
  --by <who>          who is applying, for the history (default user@host)

exit codes: 0 ok, 1 invalid input, 2 usage, 3 upstream failure, 4 conflict`;

class UsageError extends Error {}

/**
 * The real dependencies. AWS settings come from `env` (normally process.env) with the usual
 * names, so that the CLI behaves the same in-process (tests, npm start) as from a shell.
 */
export function defaultDeps(env: NodeJS.ProcessEnv = process.env): CliDeps {
  return {
    env,
    readFile: (path) => readFileSync(path, 'utf8'),
    openStore: (options) => {
      const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
      const endpoint = options.endpointUrl ?? env.AWS_ENDPOINT_URL;
      const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
      return new DynamoConfigStore(
        createDocumentClient({
          ...(region === undefined ? {} : { region }),
          ...(endpoint === undefined ? {} : { endpoint }),
          // Same as the SDK's env provider; otherwise the default chain (profiles, SSO, roles).
          ...(accessKeyId && secretAccessKey
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
        }),
        options.table,
      );
    },
  };
}

interface Parsed {
  positionals: string[];
  values: {
    stage?: string | undefined;
    table?: string | undefined;
    region?: string | undefined;
    'endpoint-url'?: string | undefined;
    by?: string | undefined;
    'dry-run'?: boolean | undefined;
    generation?: string | undefined;
    format?: string | undefined;
    to?: string | undefined;
    limit?: string | undefined;
    provider?: string | undefined;
    claims?: string | undefined;
    mapping?: string | undefined;
    duration?: string | undefined;
    config?: string | undefined;
    sub?: string | undefined;
    claim?: string[] | undefined;
    issuer?: string | undefined;
    'expires-in'?: string | undefined;
    help?: boolean | undefined;
  };
}

export function parseCliArgs(argv: string[]): Parsed {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        stage: { type: 'string' },
        table: { type: 'string' },
        region: { type: 'string' },
        'endpoint-url': { type: 'string' },
        by: { type: 'string' },
        'dry-run': { type: 'boolean' },
        generation: { type: 'string' },
        format: { type: 'string' },
        to: { type: 'string' },
        limit: { type: 'string' },
        provider: { type: 'string' },
        claims: { type: 'string' },
        mapping: { type: 'string' },
        duration: { type: 'string' },
        config: { type: 'string' },
        sub: { type: 'string' },
        claim: { type: 'string', multiple: true },
        issuer: { type: 'string' },
        'expires-in': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function globalOptions(parsed: Parsed, env: NodeJS.ProcessEnv): GlobalOptions {
  const stage = parsed.values.stage ?? env.TVM_STAGE ?? 'dev';
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(stage)) throw new UsageError(`invalid --stage "${stage}"`);
  let by = parsed.values.by;
  if (by === undefined) {
    try {
      by = `${userInfo().username}@${hostname()}`;
    } catch {
      by = `unknown@${hostname()}`;
    }
  }
  return {
    stage,
    table: parsed.values.table ?? env.TVM_TABLE_NAME ?? `tvm-${stage}`,
    region: parsed.values.region,
    endpointUrl: parsed.values['endpoint-url'],
    by,
  };
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new UsageError(`${flag} must be a positive integer`);
  return Number(value);
}

/** Only the options that each command takes; anything else is a usage error, not ignored. */
const COMMAND_OPTIONS: Record<string, { args: number; options: string[] }> = {
  'config validate': { args: 1, options: ['stage'] },
  'config apply': {
    args: 1,
    options: ['stage', 'table', 'region', 'endpoint-url', 'by', 'dry-run'],
  },
  'config diff': { args: 1, options: ['stage', 'table', 'region', 'endpoint-url'] },
  'config export': {
    args: 0,
    options: ['stage', 'table', 'region', 'endpoint-url', 'generation', 'format'],
  },
  'config rollback': { args: 0, options: ['stage', 'table', 'region', 'endpoint-url', 'by', 'to'] },
  'config history': { args: 0, options: ['stage', 'table', 'region', 'endpoint-url', 'limit'] },
  explain: {
    args: 0,
    options: [
      'stage',
      'table',
      'region',
      'endpoint-url',
      'provider',
      'claims',
      'mapping',
      'duration',
      'config',
    ],
  },
  'dev-token': { args: 0, options: ['sub', 'claim', 'issuer', 'expires-in'] },
};

export async function runCli(
  argv: string[],
  io: CliIo,
  deps: CliDeps = defaultDeps(),
): Promise<number> {
  const paint = pc.createColors(io.color);
  try {
    const parsed = parseCliArgs(argv);
    if (parsed.values.help === true || parsed.positionals.length === 0) {
      io.out(USAGE);
      return parsed.values.help === true ? EXIT.ok : EXIT.usage;
    }
    const [group = '', ...rest] = parsed.positionals;
    // One-word commands (explain) have no verb; the others are "<group> <verb>".
    const oneWord = Object.hasOwn(COMMAND_OPTIONS, group);
    const name = oneWord ? group : `${group} ${rest[0] ?? ''}`.trim();
    const args = oneWord ? rest : rest.slice(1);
    const spec = COMMAND_OPTIONS[name];
    if (spec === undefined) throw new UsageError(`unknown command "${name}"`);
    if (args.length !== spec.args) {
      throw new UsageError(
        spec.args === 0 ? `"${name}" takes no arguments` : `"${name}" needs exactly one <file>`,
      );
    }
    for (const option of Object.keys(parsed.values)) {
      if (!spec.options.includes(option))
        throw new UsageError(`"${name}" does not take --${option}`);
    }
    const options = globalOptions(parsed, deps.env);
    const file = args[0] ?? '';
    const commands = new Commands(io, deps, options, paint);
    switch (name) {
      case 'config validate':
        return commands.validate(file);
      case 'config apply':
        return await commands.apply(file, parsed.values['dry-run'] === true);
      case 'config diff':
        return await commands.diff(file);
      case 'config export': {
        const format = parsed.values.format ?? 'yaml';
        if (format !== 'yaml' && format !== 'json')
          throw new UsageError('--format must be yaml or json');
        return await commands.export(positiveInt(parsed.values.generation, '--generation'), format);
      }
      case 'config rollback':
        return await commands.rollback(positiveInt(parsed.values.to, '--to'));
      case 'config history':
        return await commands.history(positiveInt(parsed.values.limit, '--limit') ?? 20);
      case 'explain': {
        const { provider, claims, mapping, config } = parsed.values;
        if (provider === undefined) throw new UsageError('"explain" needs --provider <id>');
        if (claims === undefined) throw new UsageError('"explain" needs --claims <file|json>');
        const duration = positiveInt(parsed.values.duration, '--duration');
        return await commands.explain({ provider, claims, mapping, duration, config });
      }
      case 'dev-token': {
        const { sub, issuer } = parsed.values;
        if (sub === undefined || sub === '')
          throw new UsageError('"dev-token" needs --sub <subject>');
        const claims: Record<string, string | string[]> = {};
        for (const pair of parsed.values.claim ?? []) {
          const match = /^([^=]+)=(.*)$/s.exec(pair);
          if (match?.[1] === undefined)
            throw new UsageError(`--claim must be key=value, got "${pair}"`);
          const [key, value] = [match[1], match[2] ?? ''];
          const previous = claims[key];
          claims[key] = previous === undefined ? value : [...[previous].flat(), value];
        }
        const expiresIn = positiveInt(parsed.values['expires-in'], '--expires-in');
        const from = issuer ?? DEFAULT_DEV_ISSUER;
        try {
          io.out(
            await mintDevToken({
              issuer: from,
              subject: sub,
              claims,
              ...(expiresIn === undefined ? {} : { expiresIn }),
            }),
          );
          return EXIT.ok;
        } catch (error) {
          io.err(
            `${paint.red('error:')} no token from the development issuer at ${from} (${(error as Error).message}); is \`npm start\` running?`,
          );
          return EXIT.upstream;
        }
      }
      default:
        throw new UsageError(`unknown command "${name}"`);
    }
  } catch (error) {
    return reportError(error, io, paint);
  }
}

function reportError(error: unknown, io: CliIo, paint: ReturnType<typeof pc.createColors>): number {
  if (error instanceof UsageError) {
    io.err(`${paint.red('error:')} ${error.message}\n\n${USAGE}`);
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

class Commands {
  readonly #io: CliIo;
  readonly #deps: CliDeps;
  readonly #options: GlobalOptions;
  readonly #paint: ReturnType<typeof pc.createColors>;

  constructor(
    io: CliIo,
    deps: CliDeps,
    options: GlobalOptions,
    paint: ReturnType<typeof pc.createColors>,
  ) {
    this.#io = io;
    this.#deps = deps;
    this.#options = options;
    this.#paint = paint;
  }

  /** Reads and validates a file; undefined (after printing every problem) when it is invalid. */
  #readConfig(file: string): TvmConfig | undefined {
    let text: string;
    try {
      text = this.#deps.readFile(file);
    } catch (error) {
      this.#io.err(`${this.#paint.red('✗')} cannot read ${file}: ${(error as Error).message}`);
      return undefined;
    }
    const result = parseConfigText(text, file, { stage: this.#options.stage });
    if (result.ok) return result.config;
    this.#printProblems(file, result.problems);
    return undefined;
  }

  #printProblems(file: string, problems: ConfigProblem[]): void {
    const p = this.#paint;
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    this.#io.err(
      `${p.red('✗')} ${p.bold(file)}: ${count} (stage ${this.#options.stage}); nothing was changed`,
    );
    for (const problem of problems) {
      const where = problem.location === undefined ? file : `${file}:${problem.location}`;
      const path = problem.path === '' ? '' : `${p.cyan(problem.path)}: `;
      this.#io.err(`  ${p.dim(where)}  ${path}${problem.message}`);
    }
  }

  #summary(config: TvmConfig): string {
    return `${config.providers.length} provider(s), ${config.mappings.length} mapping(s)`;
  }

  validate(file: string): number {
    const config = this.#readConfig(file);
    if (config === undefined) return EXIT.invalid;
    this.#io.out(
      `${this.#paint.green('✓')} ${this.#paint.bold(file)} is valid for stage ${this.#options.stage}: ${this.#summary(config)}`,
    );
    return EXIT.ok;
  }

  async #current(store: ConfigAdmin): Promise<ConfigGeneration | undefined> {
    return store.current();
  }

  async diff(file: string): Promise<number> {
    const config = this.#readConfig(file);
    if (config === undefined) return EXIT.invalid;
    const store = this.#deps.openStore(this.#options);
    const current = await this.#current(store);
    this.#printChanges(diffConfigs(current?.config, config), current);
    return EXIT.ok;
  }

  async apply(file: string, dryRun: boolean): Promise<number> {
    const config = this.#readConfig(file);
    if (config === undefined) return EXIT.invalid;
    const store = this.#deps.openStore(this.#options);
    const current = await this.#current(store);
    const changes = diffConfigs(current?.config, config);
    this.#printChanges(changes, current);
    if (dryRun) {
      this.#io.out(this.#paint.yellow('dry run: nothing was applied'));
      return EXIT.ok;
    }
    const result = await store.apply(config, { appliedBy: this.#options.by });
    if (result.status === 'unchanged') {
      this.#io.out(
        `Already current: generation ${result.pointer.generation}; nothing was applied.`,
      );
      return EXIT.ok;
    }
    const from = result.previous === null ? '' : ` (was ${result.previous.generation})`;
    this.#io.out(
      `${this.#paint.green('✓')} applied ${file} as generation ${result.pointer.generation}${from} to table ${this.#options.table}, revision ${result.pointer.revision}, sha256 ${result.pointer.hash.slice(0, 12)}`,
    );
    return EXIT.ok;
  }

  async export(generation: number | undefined, format: 'yaml' | 'json'): Promise<number> {
    const store = this.#deps.openStore(this.#options);
    const loaded = generation === undefined ? await store.current() : await store.load(generation);
    if (loaded === undefined) {
      this.#io.err(
        `${this.#paint.red('error:')} no config has been applied to ${this.#options.table}`,
      );
      return EXIT.invalid;
    }
    const header = `generation ${loaded.generation}, sha256 ${loaded.hash}, created ${loaded.createdAt} by ${loaded.createdBy}`;
    if (format === 'json') {
      this.#io.out(JSON.stringify(loaded.config, null, 2));
    } else {
      this.#io.out(`# ${header}\n${stringify(loaded.config, { lineWidth: 0 })}`);
    }
    return EXIT.ok;
  }

  async rollback(to: number | undefined): Promise<number> {
    const store = this.#deps.openStore(this.#options);
    const current = await store.current();
    const pointer = await store.rollback({
      appliedBy: this.#options.by,
      ...(to === undefined ? {} : { toGeneration: to }),
    });
    const restored = await store.load(pointer.generation);
    this.#printChanges(diffConfigs(current?.config, restored.config), current);
    this.#io.out(
      `${this.#paint.green('✓')} rolled back to generation ${pointer.generation} (was ${pointer.previousGeneration}), revision ${pointer.revision}`,
    );
    return EXIT.ok;
  }

  async history(limit: number): Promise<number> {
    const store = this.#deps.openStore(this.#options);
    const entries = await store.history(limit);
    const pointer = await store.pointer();
    if (entries.length === 0) {
      this.#io.out('No config has been applied yet.');
      return EXIT.ok;
    }
    this.#io.out(
      this.#paint.bold('revision  action    generation  from  at                        by'),
    );
    for (const entry of entries) {
      const mark = entry.revision === pointer?.revision ? this.#paint.green(' ← current') : '';
      this.#io.out(
        `${String(entry.revision).padEnd(10)}${entry.action.padEnd(10)}${String(entry.generation).padEnd(12)}${String(entry.fromGeneration ?? '-').padEnd(6)}${entry.at.padEnd(26)}${entry.by}${mark}`,
      );
    }
    return EXIT.ok;
  }

  /** Claims from inline JSON (starting with `{` or `[`) or a file; undefined after printing why not. */
  #readClaims(source: string): Identity['claims'] | undefined {
    const p = this.#paint;
    let text = source;
    if (!/^\s*[{[]/.test(source)) {
      try {
        text = this.#deps.readFile(source);
      } catch (error) {
        this.#io.err(`${p.red('✗')} cannot read ${source}: ${(error as Error).message}`);
        return undefined;
      }
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (error) {
      this.#io.err(`${p.red('✗')} --claims is not valid JSON: ${(error as Error).message}`);
      return undefined;
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      this.#io.err(`${p.red('✗')} --claims must be a JSON object of claim name → value`);
      return undefined;
    }
    // The same typing the token verifiers apply: anything else counts as absent.
    const claims = toClaims(payload as Record<string, unknown>);
    for (const name of Object.keys(payload)) {
      if (!Object.hasOwn(claims, name)) {
        this.#io.err(
          `${p.yellow('warning:')} claim ${JSON.stringify(name)} is ignored: not a string, finite number, boolean or list of strings (the TVM treats it as absent)`,
        );
      }
    }
    return claims;
  }

  async explain(input: {
    provider: string;
    claims: string;
    mapping: string | undefined;
    duration: number | undefined;
    config: string | undefined;
  }): Promise<number> {
    const claims = this.#readClaims(input.claims);
    if (claims === undefined) return EXIT.invalid;
    let config: TvmConfig | undefined;
    let source: string;
    if (input.config === undefined) {
      const current = await this.#deps.openStore(this.#options).current();
      if (current === undefined) {
        this.#io.err(
          `${this.#paint.red('error:')} no config has been applied to ${this.#options.table}`,
        );
        return EXIT.invalid;
      }
      config = current.config;
      source = `generation ${current.generation} of ${this.#options.table} (sha256 ${current.hash.slice(0, 12)})`;
    } else {
      config = this.#readConfig(input.config);
      if (config === undefined) return EXIT.invalid;
      source = input.config;
    }
    const sub = claims.sub;
    const identity: Identity = {
      provider: input.provider,
      subject: typeof sub === 'string' ? sub : '',
      claims,
    };
    const explanation = explainDecision(identity, config, {
      ...(input.mapping === undefined ? {} : { mappingId: input.mapping }),
      ...(input.duration === undefined ? {} : { durationSeconds: input.duration }),
    });
    this.#io.out(`${this.#paint.bold('Config')}   ${source}`);
    for (const line of formatExplanation(explanation, this.#paint)) this.#io.out(line);
    return explanation.outcome.kind === 'chosen' ? EXIT.ok : EXIT.invalid;
  }

  #printChanges(changes: ConfigChange[], current: ConfigGeneration | undefined): void {
    const p = this.#paint;
    const base = current === undefined ? 'an empty table' : `generation ${current.generation}`;
    if (changes.length === 0) {
      this.#io.out(`No changes against ${base}.`);
      return;
    }
    this.#io.out(`Changes against ${base}:`);
    for (const change of changes) {
      const label = `${change.kind} ${change.id}`;
      if (change.change === 'added') this.#io.out(p.green(`  + ${label}`));
      else if (change.change === 'removed') this.#io.out(p.red(`  - ${label}`));
      else {
        this.#io.out(p.yellow(`  ~ ${label}`));
        for (const field of change.fields) {
          this.#io.out(
            `      ${field.path}: ${p.red(show(field.before))} → ${p.green(show(field.after))}`,
          );
        }
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
