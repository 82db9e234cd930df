/**
 * The one error type of tvm-login. Its message is the single line the user sees after
 * `tvm-login: `; it never carries a secret (no handle, code, verifier or key), and the `code`
 * is what tests assert on.
 */

export type LoginErrorCode =
  | 'usage'
  | 'not_signed_in'
  | 'session_ended'
  | 'refused'
  | 'rate_limited'
  | 'server_error'
  | 'unexpected_answer'
  | 'unreachable'
  | 'login_failed'
  | 'login_timeout'
  | 'config_conflict'
  | 'cache_unsafe'
  | 'lock_timeout';

/** 0 ok, 1 the command failed (signed out, refused, ...), 2 the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export class LoginError extends Error {
  readonly code: LoginErrorCode;

  constructor(code: LoginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  get exitCode(): number {
    return this.code === 'usage' ? EXIT.usage : EXIT.failed;
  }
}

export const usageError = (message: string) => new LoginError('usage', message);
