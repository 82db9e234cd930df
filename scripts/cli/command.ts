/**
 * What a CLI command is: its name, arguments and options (with types, defaults and help), and
 * the function that runs it. scripts/cli/commands.ts declares every command with `command()`;
 * the parser, the checks and the help text are all derived from those declarations.
 */
import type { createColors } from 'picocolors';
import type { DoctorAws } from '#shared/admin/doctor.ts';
import type { RolePolicies, VendHistory } from '#shared/admin/revoke.ts';
import type { AuditLog } from '#shared/audit/history.ts';
import type { ConfigAdmin } from '#shared/config/store.ts';
import type { DenyList } from '#shared/guard/deny-list.ts';
import type { LoginSessionAdmin } from '#shared/login/store.ts';

/**
 * Exit codes: 0 ok, 1 invalid input, 2 usage, 3 upstream failure (AWS unreachable, table
 * missing, stored config damaged), 4 conflict (another apply or rollback won the race; nothing
 * was changed, re-running is safe).
 */
export const EXIT = { ok: 0, invalid: 1, usage: 2, upstream: 3, conflict: 4 } as const;

/** What each exit code means, for the help text. */
export const EXIT_MEANINGS: Record<keyof typeof EXIT, string> = {
  ok: 'ok',
  invalid: 'invalid input',
  usage: 'usage',
  upstream: 'upstream failure',
  conflict: 'conflict',
};

/** A mistake in the command line (exit 2): the message is followed by the command's help. */
export class UsageError extends Error {}

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
  /** Audit records by principal or by access key id (`audit list`, `audit key`). */
  openAuditLog?(options: GlobalOptions): AuditLog;
  /** `doctor`: the read-only AWS calls it makes, and the HTTP client for OIDC issuers. */
  openDoctor?(options: GlobalOptions): { aws: DoctorAws; fetch: typeof fetch };
  /** Terminal login sessions (`tvm-login`), which `deny add` and `revoke` end. */
  openLoginSessions?(options: GlobalOptions): LoginSessionAdmin;
  now?(): Date;
}

export type Paint = ReturnType<typeof createColors>;

/** What every command runs with. */
export interface CommandContext {
  io: CliIo;
  deps: Required<CliDeps>;
  options: GlobalOptions;
  paint: Paint;
}

interface OptionBase {
  help: string;
}

/** `--name <value>`; `check` sees every given value (also ''), and throws to refuse it. */
export interface StringOption extends OptionBase {
  type: 'string';
  /** The placeholder in help and in errors: `<id>`. */
  value: string;
  /** Absent or empty is a usage error (unless `check` decides about the empty string). */
  required?: boolean;
  default?: string;
  check?: (value: string) => void;
}

/** `--name <value>`, repeatable: every value, in order. */
export interface ListOption extends OptionBase {
  type: 'list';
  value: string;
}

export interface FlagOption extends OptionBase {
  type: 'boolean';
}

/** A positive integer. */
export interface IntegerOption extends OptionBase {
  type: 'integer';
  value: string;
  default?: number;
}

export interface ChoiceOption<C extends string = string> extends OptionBase {
  type: 'choice';
  choices: readonly C[];
  default: C;
}

export type OptionSpec = StringOption | ListOption | FlagOption | IntegerOption | ChoiceOption;

export interface ArgSpec {
  /** The placeholder: `<file>`. */
  name: string;
  help: string;
}

type ValueOf<S> = S extends FlagOption
  ? boolean
  : S extends ListOption
    ? string[]
    : S extends ChoiceOption<infer C>
      ? C
      : S extends { type: 'integer'; default: number }
        ? number
        : S extends IntegerOption
          ? number | undefined
          : S extends { required: true } | { default: string }
            ? string
            : string | undefined;

export type OptionValues<O> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export interface CommandInput<A extends readonly ArgSpec[], O> {
  args: { -readonly [K in keyof A]: string };
  options: OptionValues<O>;
}

export interface CommandSpec<
  A extends readonly ArgSpec[] = readonly ArgSpec[],
  O extends Record<string, OptionSpec> = Record<string, OptionSpec>,
> {
  /** One word (`explain`) or `<group> <verb>` (`config apply`). */
  name: string;
  args: A;
  options: O;
  /** One line, for the command list. */
  summary: string;
  /** More lines for `<command> --help`. */
  description?: string;
  run(context: CommandContext, input: CommandInput<A, O>): number | Promise<number>;
}

/** Declares a command; the literal types of its arguments and options type `run`'s input. */
export function command<
  const A extends readonly ArgSpec[],
  const O extends Record<string, OptionSpec>,
>(spec: CommandSpec<A, O>): CommandSpec {
  return spec as unknown as CommandSpec;
}
