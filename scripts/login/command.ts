/** What a tvm-login command is, and what it runs with. */

import type { OpenBrowser } from './browser.ts';
import type { LockTiming } from './cache.ts';

export interface LoginIo {
  /** The command's output: credential_process JSON, the configure diff. One line per call. */
  out(line: string): void;
  /** Messages for the person at the terminal. One line per call. */
  err(line: string): void;
}

export interface LoginDeps {
  env: NodeJS.ProcessEnv;
  home: string;
  platform: NodeJS.Platform;
  fetch: typeof fetch;
  now(): Date;
  openBrowser: OpenBrowser;
  /**
   * The argv that starts this launcher, written into `credential_process`; undefined when
   * tvm-login is not running from its built launcher (e.g. from the TypeScript source).
   */
  launcher: readonly string[] | undefined;
  lockTiming: LockTiming;
  /** Per TVM request. */
  httpTimeoutMs: number;
  /** Waits between device-flow polls (tests pass one that moves their clock instead). */
  sleep?: (ms: number) => Promise<void>;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  value?: string;
  required?: boolean;
  help: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandContext {
  io: LoginIo;
  deps: LoginDeps;
  values: OptionValues;
}

export interface CommandSpec {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  run(context: CommandContext): Promise<void>;
}

export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    value: '<base url>',
    required: true,
    help: 'The TVM, e.g. https://tvm.example.com',
  },
  provider: {
    type: 'string',
    value: '<id>',
    required: true,
    help: 'The SAML provider you sign in with',
  },
};
