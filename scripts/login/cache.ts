/**
 * The local cache: `$TVM_LOGIN_HOME` or `~/.tvm-login/`, a directory of mode 0700 holding files
 * of mode 0600, each written to a private temporary file and renamed into place (a reader sees
 * the old file or the new one, never half of one):
 * - `<provider>-<hash>.session.json`: the session handle of one (url, provider);
 * - `<provider>-<hash>.<mapping>.credentials.json`: the last credentials of one role;
 * - `<provider>-<hash>.<mapping>.lock`: held while those credentials are being refreshed.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { LoginError } from './errors.ts';
import { type Target, targetKey } from './target.ts';
import { SESSION_HANDLE, type SessionGrant, type VendedCredentials } from './tvm-api.ts';

export interface StoredSession {
  version: 1;
  url: string;
  provider: string;
  session: string;
  expiresAt: string;
  createdAt: string;
}

export interface StoredCredentials extends VendedCredentials {
  version: 1;
  url: string;
  provider: string;
  mapping: string;
}

export interface LockTiming {
  /** A lock older than this is taken over: its holder died or hung (a refresh takes seconds). */
  staleMs: number;
  /** How long to wait for another process's refresh before giving up. */
  waitMs: number;
  pollMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { staleMs: 30_000, waitMs: 45_000, pollMs: 50 };

export function cacheDir(env: NodeJS.ProcessEnv, home: string): string {
  const override = env.TVM_LOGIN_HOME;
  return override !== undefined && override !== ''
    ? path.resolve(override)
    : path.join(home, '.tvm-login');
}

export class LoginCache {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory if needed; refuses one owned by someone else, and closes one left open. */
  static open(dir: string): LoginCache {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    if (!stat.isDirectory()) {
      throw new LoginError('cache_unsafe', `the cache ${dir} is not a directory`);
    }
    if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) {
      throw new LoginError(
        'cache_unsafe',
        `the cache ${dir} belongs to another user; refusing to use it`,
      );
    }
    if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
    return new LoginCache(dir);
  }

  sessionFile(target: Target): string {
    return path.join(this.dir, `${targetKey(target)}.session.json`);
  }

  credentialsFile(target: Target, mapping: string): string {
    return path.join(this.dir, `${targetKey(target)}.${mapping}.credentials.json`);
  }

  readSession(target: Target): StoredSession | undefined {
    const stored = this.#read(this.sessionFile(target));
    if (
      stored?.version !== 1 ||
      stored.url !== target.url ||
      stored.provider !== target.provider ||
      typeof stored.session !== 'string' ||
      !SESSION_HANDLE.test(stored.session) ||
      typeof stored.expiresAt !== 'string' ||
      Number.isNaN(Date.parse(stored.expiresAt))
    ) {
      return undefined;
    }
    return stored as unknown as StoredSession;
  }

  writeSession(target: Target, grant: SessionGrant, now: Date): void {
    const stored: StoredSession = {
      version: 1,
      url: target.url,
      provider: target.provider,
      session: grant.session,
      expiresAt: grant.expiresAt,
      createdAt: now.toISOString(),
    };
    this.#write(this.sessionFile(target), stored);
  }

  /**
   * Replaces a session the TVM has ended with a marker that holds no handle, so later runs say
   * "has ended" without asking the TVM; unless a newer login has replaced the handle meanwhile.
   */
  forgetSession(target: Target, handle: string, now: Date): void {
    if (this.readSession(target)?.session !== handle) return;
    this.#write(this.sessionFile(target), {
      version: 1,
      url: target.url,
      provider: target.provider,
      endedAt: now.toISOString(),
    });
  }

  /** Whether the session file is the marker forgetSession() leaves. */
  sessionEnded(target: Target): boolean {
    const stored = this.#read(this.sessionFile(target));
    return (
      stored?.version === 1 &&
      stored.url === target.url &&
      stored.provider === target.provider &&
      typeof stored.endedAt === 'string' &&
      stored.session === undefined
    );
  }

  readCredentials(target: Target, mapping: string): StoredCredentials | undefined {
    const stored = this.#read(this.credentialsFile(target, mapping));
    if (
      stored?.version !== 1 ||
      stored.url !== target.url ||
      stored.provider !== target.provider ||
      stored.mapping !== mapping ||
      typeof stored.accessKeyId !== 'string' ||
      typeof stored.secretAccessKey !== 'string' ||
      typeof stored.sessionToken !== 'string' ||
      typeof stored.expiration !== 'string' ||
      Number.isNaN(Date.parse(stored.expiration))
    ) {
      return undefined;
    }
    return stored as unknown as StoredCredentials;
  }

  writeCredentials(target: Target, mapping: string, credentials: VendedCredentials): void {
    const stored: StoredCredentials = {
      version: 1,
      url: target.url,
      provider: target.provider,
      mapping,
      ...credentials,
    };
    this.#write(this.credentialsFile(target, mapping), stored);
  }

  /** Every file of one target (session, credentials, locks): what `logout` deletes. */
  removeTarget(target: Target): number {
    const prefix = `${targetKey(target)}.`;
    let removed = 0;
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(prefix)) {
        removeFile(path.join(this.dir, name));
        removed += 1;
      }
    }
    return removed;
  }

  /**
   * Runs `work` while holding `<name>.lock`, created exclusively (O_EXCL): of two processes,
   * one refreshes and the other waits, then finds fresh credentials in the cache.
   */
  async withLock<T>(
    name: string,
    work: () => Promise<T>,
    timing = DEFAULT_LOCK_TIMING,
  ): Promise<T> {
    const file = path.join(this.dir, `${name}.lock`);
    const nonce = randomBytes(12).toString('hex');
    const deadline = Date.now() + timing.waitMs;
    for (;;) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        try {
          writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), nonce }));
        } finally {
          closeSync(fd);
        }
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (lockIsStale(file, timing.staleMs)) {
        removeFile(file);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LoginError(
          'lock_timeout',
          `another tvm-login has been refreshing for over ${Math.round(timing.waitMs / 1000)} s; if none is running, delete ${file}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, timing.pollMs));
    }
    try {
      return await work();
    } finally {
      // Only our own lock: if it was taken over as stale, the new holder's file stays.
      if (readJson(file)?.nonce === nonce) removeFile(file);
    }
  }

  #read(file: string): Record<string, unknown> | undefined {
    const stored = readJson(file);
    // A file copied in with looser permissions is closed again before it is used.
    if (stored !== undefined && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return stored;
  }

  #write(file: string, value: unknown): void {
    const temporary = path.join(
      this.dir,
      `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      try {
        writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, file);
    } catch (error) {
      removeFile(temporary);
      throw error;
    }
  }
}

/** Stale: older than `staleMs`, or held by a process of this host that no longer exists. */
function lockIsStale(file: string, staleMs: number): boolean {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return false; // released meanwhile: the next attempt creates it
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  const holder = readJson(file);
  if (holder?.host !== hostname() || typeof holder.pid !== 'number') return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function readJson(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined; // damaged: treated as absent, and replaced by the next write
  }
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
