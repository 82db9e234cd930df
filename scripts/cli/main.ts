/**
 * The admin CLI, `npm run tvm -- <command>`. Exit codes: 0 ok, 1 invalid input, 2 usage,
 * 3 upstream failure (AWS unreachable, table missing, stored config damaged), 4 conflict
 * (another apply or rollback won the race; nothing was changed, re-running is safe).
 */
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import pc from 'picocolors';
import { stringify } from 'yaml';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer, providersOfIssuer } from '#shared/auth/principal.ts';
import { createDocumentClient } from '#shared/aws.ts';
import { type ConfigChange, diffConfigs } from '#shared/config/diff.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { parseConfigText } from '#shared/config/parse.ts';
import { ConfigFileSchema, type TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin, ConfigGeneration } from '#shared/config/store.ts';
import { configWarnings } from '#shared/config/validate.ts';
import {
  AppError,
  ConfigConflictError,
  ConfigInvalidError,
  type ConfigProblem,
  ValidationError,
} from '#shared/errors.ts';
import {
  type DenyEntry,
  type DenyList,
  DynamoDenyList,
  inForce,
  legacyDenyPartition,
} from '#shared/guard/deny-list.ts';
import {
  DynamoVendHistory,
  IamRolePolicies,
  type Origin,
  REVOKE_MARGIN_SECONDS,
  REVOKE_POLICY_NAME,
  type RevokeResult,
  ROLE_INLINE_POLICY_MAX_CHARS,
  type RoleOutcome,
  type RolePolicies,
  revokePrincipal,
  type VendHistory,
} from '#shared/guard/revoke.ts';
import { explainDecision, formatExplanation } from '#shared/mapping/explain.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
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
  /*
   * The rest are optional so that deps written for the config commands still type-check;
   * runCli fills what is missing from defaultDeps(env).
   */
  openDenyList?(options: GlobalOptions): DenyList;
  /** The `allowed` audit records of a principal: which roles and SourceIdentity values it got. */
  openVendHistory?(options: GlobalOptions): VendHistory;
  /** IAM inline role policies, as the operator (or `--iam-profile`) credentials. */
  openIam?(options: GlobalOptions, iamProfile: string | undefined): RolePolicies;
  now?(): Date;
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
  deny add --provider <id> --subject <sub> [--until <time|30m|2h|7d|2w>] [--reason <text>]
                                    refuse this principal from its next request (403), whatever
                                    its token says, until removed or until --until
  deny remove --provider <id> --subject <sub>
                                    lift a deny entry (sessions already revoked stay revoked)
  deny list --provider <id>         the provider's deny entries; expired ones are marked
  saml sp-metadata <provider> [--base-url <url>] [--config <file>]
                                    print the SP metadata XML to give the IdP admin (entity id,
                                    ACS URL, NameID formats); --base-url is the API's public URL
                                    (default $TVM_PUBLIC_BASE_URL)
  revoke --provider <id> --subject <sub> [--reason <text>] [--dry-run] [--prune]
         [--iam-profile <profile>]  deny the principal, then end the sessions already issued to
                                    it: every role it could reach gets a Deny for its source
                                    identities issued before now (inline policy
                                    ${REVOKE_POLICY_NAME}). --prune drops revocations older than
                                    12 h; --iam-profile uses another AWS profile for the IAM calls
                                    (roles in another account). Exit 3 if any role was not covered

options:
  --stage <s>         stage whose rules apply (default $TVM_STAGE or dev); http:// URLs are
                      accepted for loopback hosts only in the local stage
  --table <name>      DynamoDB table (default $TVM_TABLE_NAME or tvm-<stage>)
  --region <r>        AWS region (default from the AWS environment)
  --endpoint-url <u>  AWS endpoint, for the local emulator (default $AWS_ENDPOINT_URL)
  --by <who>          who is applying or denying, for the record (default user@host)

exit codes: 0 ok, 1 invalid input, 2 usage, 3 upstream failure, 4 conflict`;

class UsageError extends Error {}

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
    subject?: string | undefined;
    until?: string | undefined;
    reason?: string | undefined;
    prune?: boolean | undefined;
    'iam-profile'?: string | undefined;
    'base-url'?: string | undefined;
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
        subject: { type: 'string' },
        until: { type: 'string' },
        reason: { type: 'string' },
        prune: { type: 'boolean' },
        'iam-profile': { type: 'string' },
        'base-url': { type: 'string' },
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
/** The options of every command that reaches AWS: where, and which table. */
const AWS_OPTIONS = ['stage', 'table', 'region', 'endpoint-url'] as const;

const COMMAND_OPTIONS: Record<string, { args: number; options: string[] }> = {
  'config validate': { args: 1, options: ['stage'] },
  'config apply': {
    args: 1,
    options: [...AWS_OPTIONS, 'by', 'dry-run'],
  },
  'config diff': { args: 1, options: [...AWS_OPTIONS] },
  'config export': {
    args: 0,
    options: [...AWS_OPTIONS, 'generation', 'format'],
  },
  'config rollback': { args: 0, options: [...AWS_OPTIONS, 'by', 'to'] },
  'config history': { args: 0, options: [...AWS_OPTIONS, 'limit'] },
  explain: {
    args: 0,
    options: [...AWS_OPTIONS, 'provider', 'claims', 'mapping', 'duration', 'config'],
  },
  'dev-token': { args: 0, options: ['sub', 'claim', 'issuer', 'expires-in'] },
  'deny add': {
    args: 0,
    options: [...AWS_OPTIONS, 'by', 'provider', 'subject', 'until', 'reason'],
  },
  'deny remove': {
    args: 0,
    options: [...AWS_OPTIONS, 'provider', 'subject'],
  },
  'deny list': { args: 0, options: [...AWS_OPTIONS, 'provider'] },
  'saml sp-metadata': { args: 1, options: [...AWS_OPTIONS, 'base-url', 'config'] },
  revoke: {
    args: 0,
    options: [
      ...AWS_OPTIONS,
      'by',
      'provider',
      'subject',
      'reason',
      'dry-run',
      'prune',
      'iam-profile',
    ],
  },
};

/** OIDC: `sub` is at most 255 ASCII characters (Core 1.0 §2); SAML NameIDs are held to the same. */
export const MAX_SUBJECT_CHARS = 255;
export const MAX_REASON_CHARS = 1024;
const CONTROL_CHARACTER = /\p{Cc}/u;

export function checkSubject(subject: string): string {
  if (subject === '') throw new ValidationError('--subject must not be empty');
  if (subject.length > MAX_SUBJECT_CHARS) {
    throw new ValidationError(
      `--subject is ${subject.length} characters; a subject has at most ${MAX_SUBJECT_CHARS}`,
    );
  }
  if (CONTROL_CHARACTER.test(subject)) {
    throw new ValidationError('--subject must not contain control characters');
  }
  return subject;
}

function checkReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (reason.length > MAX_REASON_CHARS || CONTROL_CHARACTER.test(reason)) {
    throw new ValidationError(
      `--reason must be at most ${MAX_REASON_CHARS} characters, without control characters`,
    );
  }
  return reason;
}

const DURATION_PATTERN = /^([1-9][0-9]{0,5})([smhdw])$/;
const DURATION_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 } as const;
/** A date (midnight UTC), or a date-time with an explicit zone: local time would be a guess. */
const ISO_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * `--until`: an ISO 8601 time with a zone, a date, or a duration from now (`30m`, `2h`, `7d`,
 * `2w`). Must be in the future: a past `until` would write an entry that never applies.
 */
export function parseUntil(text: string, now: Date): Date {
  let until: Date | undefined;
  const duration = DURATION_PATTERN.exec(text);
  if (duration?.[1] !== undefined && duration[2] !== undefined) {
    const unit = duration[2] as keyof typeof DURATION_SECONDS;
    until = new Date(now.getTime() + Number(duration[1]) * DURATION_SECONDS[unit] * 1000);
  } else {
    const parts = ISO_TIME_PATTERN.exec(text);
    if (parts !== null) {
      const [year, month, day, hour, minute, second, zoneHour, zoneMinute] = parts
        .slice(1)
        .map((part) => (part === undefined ? 0 : Number(part)));
      // Date.parse rolls 2025-02-30 over to March 2; refuse impossible dates instead.
      const daysInMonth = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
      const valid =
        (month ?? 0) >= 1 &&
        (month ?? 0) <= 12 &&
        (day ?? 0) >= 1 &&
        (day ?? 0) <= daysInMonth &&
        (hour ?? 0) <= 23 &&
        (minute ?? 0) <= 59 &&
        (second ?? 0) <= 59 &&
        (zoneHour ?? 0) <= 14 &&
        (zoneMinute ?? 0) <= 59;
      const ms = Date.parse(text);
      if (valid && !Number.isNaN(ms)) until = new Date(ms);
    }
  }
  if (until === undefined) {
    throw new ValidationError(
      `--until must be an ISO 8601 time with a zone (2030-05-01T12:00:00Z), a date (2030-05-01, midnight UTC) or a duration such as 30m, 2h, 7d, 2w; got ${JSON.stringify(text)}`,
    );
  }
  if (until.getTime() <= now.getTime()) {
    throw new ValidationError(
      `--until ${until.toISOString()} is not in the future (now ${now.toISOString()}); an entry that has already ended would deny nothing`,
    );
  }
  return until;
}

/** Stored values are shown, never interpreted: control characters become escapes. */
function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

function principal(provider: string, subject: string): string {
  return `${provider}/${JSON.stringify(printable(subject))}`;
}

/** --provider and --subject, required by every deny and revoke command. */
function principalOptions(parsed: Parsed, name: string): { provider: string; subject: string } {
  const { provider, subject } = parsed.values;
  if (provider === undefined || provider === '')
    throw new UsageError(`"${name}" needs --provider <id>`);
  if (subject === undefined) throw new UsageError(`"${name}" needs --subject <sub>`);
  return { provider, subject: checkSubject(subject) };
}

export async function runCli(
  argv: string[],
  io: CliIo,
  given: CliDeps = defaultDeps(),
): Promise<number> {
  const paint = pc.createColors(io.color);
  try {
    const fallback = defaultDeps(given.env);
    const deps: Required<CliDeps> = {
      env: given.env,
      readFile: given.readFile,
      openStore: given.openStore,
      openDenyList: given.openDenyList ?? fallback.openDenyList,
      openVendHistory: given.openVendHistory ?? fallback.openVendHistory,
      openIam: given.openIam ?? fallback.openIam,
      now: given.now ?? fallback.now,
    };
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
        spec.args === 0
          ? `"${name}" takes no arguments`
          : name === 'saml sp-metadata'
            ? `"${name}" needs exactly one <provider>`
            : `"${name}" needs exactly one <file>`,
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
      case 'deny add': {
        const { provider, subject } = principalOptions(parsed, name);
        const reason = checkReason(parsed.values.reason);
        const until =
          parsed.values.until === undefined
            ? undefined
            : parseUntil(parsed.values.until, deps.now());
        return await commands.denyAdd({ provider, subject, until, reason });
      }
      case 'deny remove':
        return await commands.denyRemove(principalOptions(parsed, name));
      case 'deny list': {
        const { provider } = parsed.values;
        if (provider === undefined || provider === '')
          throw new UsageError('"deny list" needs --provider <id>');
        return await commands.denyList(provider);
      }
      case 'revoke': {
        const { provider, subject } = principalOptions(parsed, name);
        const iamProfile = parsed.values['iam-profile'];
        if (iamProfile === '') throw new UsageError('--iam-profile needs a profile name');
        return await commands.revoke({
          provider,
          subject,
          reason: checkReason(parsed.values.reason),
          dryRun: parsed.values['dry-run'] === true,
          prune: parsed.values.prune === true,
          iamProfile,
        });
      }
      case 'saml sp-metadata': {
        const baseUrl = parsed.values['base-url'] ?? deps.env.TVM_PUBLIC_BASE_URL;
        if (baseUrl === undefined || !/^https?:\/\/[^/]+/.test(baseUrl)) {
          throw new UsageError(
            '"saml sp-metadata" needs --base-url <https://your-api-domain> (or $TVM_PUBLIC_BASE_URL)',
          );
        }
        return await commands.spMetadata(file, baseUrl, parsed.values.config);
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
  readonly #deps: Required<CliDeps>;
  readonly #options: GlobalOptions;
  readonly #paint: ReturnType<typeof pc.createColors>;

  constructor(
    io: CliIo,
    deps: Required<CliDeps>,
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
    if (result.ok) {
      for (const warning of configWarnings(result.config)) {
        this.#io.err(
          `${this.#paint.yellow('!')} ${this.#paint.cyan(warning.path)}: ${warning.message}`,
        );
      }
      return result.config;
    }
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
    // Kept as sent, like the token verifiers do: decide() reads them against the declared types.
    const claims = toClaims(payload as Record<string, unknown>);
    return claims;
  }

  /**
   * The config of `--config <file>`, or the current generation, with a line saying which; an
   * error is reported and undefined returned when there is none.
   */
  async #configOf(
    file: string | undefined,
  ): Promise<{ config: TvmConfig; source: string } | undefined> {
    if (file !== undefined) {
      const config = this.#readConfig(file);
      return config === undefined ? undefined : { config, source: file };
    }
    const current = await this.#deps.openStore(this.#options).current();
    if (current === undefined) {
      this.#io.err(
        `${this.#paint.red('error:')} no config has been applied to ${this.#options.table}`,
      );
      return undefined;
    }
    return {
      config: current.config,
      source: `generation ${current.generation} of ${this.#options.table} (sha256 ${current.hash.slice(0, 12)})`,
    };
  }

  /** The SP metadata for one SAML provider of the current generation (or --config file). */
  async spMetadata(providerId: string, baseUrl: string, file: string | undefined): Promise<number> {
    const loaded = await this.#configOf(file);
    if (loaded === undefined) return EXIT.invalid;
    const { config } = loaded;
    const provider = config.providers.find((candidate) => candidate.id === providerId);
    if (provider?.type !== 'saml') {
      const known = config.providers.filter((p) => p.type === 'saml').map((p) => p.id);
      this.#io.err(
        `${this.#paint.red('error:')} no SAML provider "${providerId}" (SAML providers: ${known.join(', ') || 'none'})`,
      );
      return EXIT.invalid;
    }
    const urls = spUrls(baseUrl, provider);
    this.#io.err(`SP entity id (Audience):   ${provider.spEntityId}`);
    this.#io.err(`ACS URL (HTTP-POST):       ${urls.acs}`);
    this.#io.err(`Metadata URL:              ${urls.metadata}`);
    this.#io.err(`SP-initiated login:        ${urls.login}?target=console|credentials`);
    this.#io.out(spMetadataXml(provider, urls));
    return EXIT.ok;
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
    const loaded = await this.#configOf(input.config);
    if (loaded === undefined) return EXIT.invalid;
    const { config, source } = loaded;
    const sub = claims.sub;
    const named = config.providers.find((candidate) => candidate.id === input.provider);
    const identity: Identity = {
      provider: input.provider,
      // An unknown provider is refused by explainDecision, naming the known ones.
      issuer: named === undefined ? '' : principalIssuer(named),
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

  /** The current config, or undefined after saying that none was applied. */
  async #currentConfig(): Promise<ConfigGeneration | undefined> {
    const current = await this.#deps.openStore(this.#options).current();
    if (current === undefined) {
      this.#io.err(
        `${this.#paint.red('error:')} no config has been applied to ${this.#options.table}`,
      );
    }
    return current;
  }

  /** The issuer of a provider entry, and every entry sharing it (its controls cover them all). */
  #principalScope(
    current: ConfigGeneration | undefined,
    providerId: string,
  ): { issuer: string; providers: string[] } | undefined {
    const named = current?.config.providers.find((candidate) => candidate.id === providerId);
    if (current === undefined || named === undefined) return undefined;
    const issuer = principalIssuer(named);
    const providers = providersOfIssuer(current.config.providers, issuer).map((p) => p.id);
    return { issuer, providers };
  }

  /** One line naming the issuer and its entries, when more than the named one shares it. */
  #issuerLine(scope: { issuer: string; providers: string[] }): string {
    const entries =
      scope.providers.length === 1
        ? `provider ${scope.providers[0]}`
        : `every provider sharing it: ${scope.providers.join(', ')}`;
    return `  Principal: issuer ${JSON.stringify(printable(scope.issuer))} + subject (${entries}).`;
  }

  /** False (after saying why) when the provider is not in this generation. */
  #knownProvider(current: ConfigGeneration, provider: string): boolean {
    if (current.config.providers.some((candidate) => candidate.id === provider)) return true;
    const known = current.config.providers.map((candidate) => candidate.id).join(', ');
    this.#io.err(
      `${this.#paint.red('error:')} provider ${JSON.stringify(provider)} is not in the current config (generation ${current.generation} of ${this.#options.table}); its providers are: ${known || '(none)'}`,
    );
    return false;
  }

  async denyAdd(input: {
    provider: string;
    subject: string;
    until: Date | undefined;
    reason: string | undefined;
  }): Promise<number> {
    const current = await this.#currentConfig();
    if (current === undefined || !this.#knownProvider(current, input.provider)) {
      return EXIT.invalid;
    }
    const scope = this.#principalScope(current, input.provider);
    if (scope === undefined) return EXIT.invalid;
    await this.#deps.openDenyList(this.#options).add({
      issuer: scope.issuer,
      provider: input.provider,
      subject: input.subject,
      ...(input.until === undefined ? {} : { until: input.until.toISOString() }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      by: this.#options.by,
      at: this.#deps.now().toISOString(),
    });
    const until =
      input.until === undefined ? 'until removed' : `until ${input.until.toISOString()}`;
    this.#io.out(
      `${this.#paint.green('✓')} denied ${principal(input.provider, input.subject)} ${until}: the TVM refuses it from its next request (403 denied_principal)`,
    );
    this.#io.out(this.#issuerLine(scope));
    this.#io.out(
      '  Credentials already issued stay valid until they expire; `revoke` ends them too.',
    );
    return EXIT.ok;
  }

  async denyRemove(input: { provider: string; subject: string }): Promise<number> {
    const current = await this.#deps.openStore(this.#options).current();
    const scope = this.#principalScope(current, input.provider);
    // The issuer's entry and the legacy ones of every entry sharing it; for a provider that left
    // the config, its own legacy entry can still be lifted.
    const removed = await this.#deps
      .openDenyList(this.#options)
      .remove(scope?.issuer, input.subject, scope?.providers ?? [input.provider]);
    if (removed) {
      this.#io.out(
        `${this.#paint.green('✓')} removed the deny entry of ${principal(input.provider, input.subject)}`,
      );
      this.#io.out(
        `  Sessions revoked earlier stay revoked (policy ${REVOKE_POLICY_NAME}); new ones are vended again.`,
      );
      return EXIT.ok;
    }
    if (current === undefined) {
      this.#io.err(
        `${this.#paint.red('error:')} no config has been applied to ${this.#options.table}`,
      );
      return EXIT.invalid;
    }
    if (!this.#knownProvider(current, input.provider)) return EXIT.invalid;
    this.#io.err(
      `${this.#paint.red('error:')} ${principal(input.provider, input.subject)} is not on the deny list; nothing was changed`,
    );
    return EXIT.invalid;
  }

  async denyList(provider: string): Promise<number> {
    const p = this.#paint;
    const current = await this.#deps.openStore(this.#options).current();
    const scope = this.#principalScope(current, provider);
    const entries = await this.#deps
      .openDenyList(this.#options)
      .list(scope?.issuer, scope?.providers ?? [provider]);
    const known = scope !== undefined;
    if (entries.length === 0) {
      if (current !== undefined && known !== true) {
        this.#knownProvider(current, provider);
        return EXIT.invalid;
      }
      this.#io.out(`No deny entries for provider ${provider}.`);
      return EXIT.ok;
    }
    if (known !== true) {
      this.#io.err(
        `${p.yellow('warning:')} provider ${JSON.stringify(provider)} is not in the current config; these entries apply to nothing until it is back`,
      );
    }
    if (scope !== undefined) this.#io.out(this.#issuerLine(scope).trim());
    const now = this.#deps.now();
    // A legacy entry (keyed on a provider id before issue 10) applies like any other.
    const via = (entry: DenyEntry) =>
      entry.issuer === undefined
        ? `${legacyDenyPartition(entry.provider)} (legacy)`
        : entry.provider;
    const rows = entries
      .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))
      .map((entry) => ({
        active: inForce(entry, now),
        cells: [
          JSON.stringify(printable(entry.subject)),
          via(entry),
          inForce(entry, now) ? 'active' : 'expired',
          entry.until ?? 'never',
          printable(entry.by),
          entry.at,
          printable(entry.reason ?? ''),
        ],
      }));
    const header = ['subject', 'added via', 'state', 'until', 'by', 'at', 'reason'];
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map((row) => (row.cells[column] ?? '').length)),
    );
    const line = (cells: string[]) =>
      cells
        .map((cell, column) =>
          column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join('  ')
        .trimEnd();
    this.#io.out(p.bold(line(header)));
    for (const row of rows) {
      const text = line(row.cells);
      this.#io.out(row.active ? text : p.dim(text));
    }
    const expired = rows.filter((row) => !row.active).length;
    this.#io.out(
      `${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}${expired === 0 ? '' : `, ${expired} expired (no longer enforced; DynamoDB TTL deletes them)`}`,
    );
    return EXIT.ok;
  }

  async revoke(input: {
    provider: string;
    subject: string;
    reason: string | undefined;
    dryRun: boolean;
    prune: boolean;
    iamProfile: string | undefined;
  }): Promise<number> {
    const current = await this.#currentConfig();
    if (current === undefined || !this.#knownProvider(current, input.provider)) {
      return EXIT.invalid;
    }
    const result = await revokePrincipal(
      {
        provider: input.provider,
        subject: input.subject,
        ...(input.reason === undefined ? {} : { reason: input.reason }),
        by: this.#options.by,
        dryRun: input.dryRun,
        prune: input.prune,
      },
      {
        config: current.config,
        denyList: this.#deps.openDenyList(this.#options),
        history: this.#deps.openVendHistory(this.#options),
        policies: this.#deps.openIam(this.#options, input.iamProfile),
        now: () => this.#deps.now(),
      },
    );
    return this.#printRevocation(result, current);
  }

  #printRevocation(result: RevokeResult, current: ConfigGeneration): number {
    const p = this.#paint;
    const out = (line: string) => this.#io.out(line);
    const who = principal(result.denyEntry.provider, result.denyEntry.subject);
    const would = (done: string, planned: string) => (result.dryRun ? planned : done);
    out(
      `${result.dryRun ? `${p.yellow('dry run:')} ` : ''}revoking ${who} against generation ${current.generation} of ${this.#options.table}`,
    );
    out(
      `${p.green('✓')} deny list: ${who} ${would('is denied', 'would be denied')} until removed; the TVM refuses it from its next request`,
    );
    out(this.#issuerLine({ issuer: result.denyEntry.issuer, providers: result.providers }));
    for (const { mappingId, roleArn } of result.plan.underivable) {
      out(
        `${p.yellow('warning:')} mapping ${mappingId} (${roleArn}): its sourceIdentity needs claims other than sub; only the values its audit records show are covered`,
      );
    }
    if (result.plan.targets.length === 0) {
      out(
        'No role to update: no mapping of these providers gives a source identity for the subject, and its audit records show no vends.',
      );
    } else {
      out(
        `Sessions issued before ${result.issuedBefore} (now + ${REVOKE_MARGIN_SECONDS} s) with these source identities (or, SAML native, session names) are denied every action, in inline policy ${REVOKE_POLICY_NAME}:`,
      );
    }
    for (const outcome of result.roles) this.#printRole(outcome, result.dryRun);
    const missed = result.roles.filter(
      (role) => role.status === 'skipped' || role.status === 'failed',
    ).length;
    for (const roleArn of result.plan.unparsable) {
      out(`  ${p.red('✗ failed ')}   ${roleArn}: not an IAM role ARN (from an audit record)`);
    }
    for (const { providerId } of result.plan.unknowable) {
      // Reporting success here would be false: the IdP names these sessions, and nothing says how.
      this.#io.err(
        `${p.red('✗ not revoked:')} provider ${providerId} is in SAML native mode: its IdP names the sessions (RoleSessionName / SourceIdentity attributes), and no audit record of this principal says what it named them, so its sessions cannot be found. Revoke them role-wide (IAM console: "Revoke active sessions") on each role its mappings allow${result.dryRun ? '' : '; the deny entry is in place, but it does not bind whoever holds an assertion (docs/saml.md)'}`,
      );
    }
    const rolesMissed = missed + result.plan.unparsable.length;
    const unknowable = result.plan.unknowable.length;
    if (rolesMissed + unknowable > 0) {
      const what = [
        ...(rolesMissed > 0 ? [`${rolesMissed} role(s)`] : []),
        ...(unknowable > 0 ? [`the sessions of ${unknowable} native-mode provider(s)`] : []),
      ].join(' and ');
      this.#io.err(
        `${p.red('✗ incomplete:')} ${what} not covered (see above)${result.dryRun ? '' : '; the deny entry is in place'}`,
      );
      return EXIT.upstream;
    }
    if (result.dryRun) out(p.yellow('dry run: nothing was changed'));
    return EXIT.ok;
  }

  #printRole(outcome: RoleOutcome, dryRun: boolean): void {
    const p = this.#paint;
    const { role } = outcome.target;
    const labels: Record<RoleOutcome['status'], [string, (text: string) => string]> = {
      updated: [dryRun ? '+ would update' : '✓ updated', p.green],
      unchanged: ['= unchanged', (text) => text],
      skipped: [dryRun ? '! would skip' : '! skipped', p.yellow],
      failed: [dryRun ? '✗ would fail' : '✗ failed', p.red],
    };
    const [text, colour] = labels[outcome.status];
    const label = colour(text.padEnd(dryRun ? 14 : 11));
    const size =
      outcome.chars === undefined
        ? ''
        : ` (${outcome.statements} statement(s), ${outcome.chars.toLocaleString('en-US')} of ${ROLE_INLINE_POLICY_MAX_CHARS.toLocaleString('en-US')} characters${outcome.pruned ? `, ${outcome.pruned} pruned` : ''})`;
    this.#io.out(`  ${label} ${role.roleArn}${size}`);
    if (outcome.reason !== undefined) this.#io.out(`      ${outcome.reason}`);
    const from = (origins: Origin[]) =>
      origins
        .map((origin) =>
          origin.kind === 'audit' ? 'audit records' : `mapping ${origin.mappingId}`,
        )
        .join(', ');
    for (const [sourceIdentity, origins] of outcome.target.sourceIdentities) {
      this.#io.out(`      ${printable(sourceIdentity)}  ${p.dim(`from ${from(origins)}`)}`);
    }
    for (const [name, origins] of outcome.target.sessionNames) {
      this.#io.out(
        `      aws:userid *:${printable(name)}  ${p.dim(`session name set by the IdP, from ${from(origins)}`)}`,
      );
    }
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
