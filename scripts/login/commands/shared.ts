/** What the commands have in common: the target, the cache and the TVM client of a run. */
import { cacheDir, LoginCache, type StoredSession } from '../cache.ts';
import type { CommandContext } from '../command.ts';
import { LoginError, usageError } from '../errors.ts';
import { loginCommand, parseBaseUrl, parseId, type Target } from '../target.ts';
import { TvmApi } from '../tvm-api.ts';

export function targetOf(context: CommandContext): Target {
  return {
    url: parseBaseUrl(text(context, 'url')),
    provider: parseId('--provider', text(context, 'provider')),
  };
}

export function text(context: CommandContext, name: string): string {
  const value = context.values[name];
  if (typeof value !== 'string') throw usageError(`--${name} is required`);
  return value;
}

export function openCache(context: CommandContext): LoginCache {
  return LoginCache.open(cacheDir(context.deps.env, context.deps.home));
}

export function apiFor(context: CommandContext, target: Target): TvmApi {
  return new TvmApi(target, { fetch: context.deps.fetch, timeoutMs: context.deps.httpTimeoutMs });
}

export function notSignedIn(target: Target): LoginError {
  return new LoginError(
    'not_signed_in',
    `you are not signed in to ${target.provider} at ${target.url}; run: ${loginCommand(target)}`,
  );
}

export function sessionEnded(target: Target): LoginError {
  return new LoginError(
    'session_ended',
    `your session for ${target.provider} at ${target.url} has ended; run: ${loginCommand(target)}`,
  );
}

/** The stored session, if it has not expired by the clock; no TVM call is made for a dead one. */
export function liveSession(cache: LoginCache, target: Target, now: Date): StoredSession {
  const session = cache.readSession(target);
  if (session === undefined)
    throw cache.sessionEnded(target) ? sessionEnded(target) : notSignedIn(target);
  if (Date.parse(session.expiresAt) <= now.getTime()) throw sessionEnded(target);
  return session;
}

/** Runs a session request; a 401 means the session is gone at the TVM, so the local copy goes too. */
export async function withSession<T>(
  cache: LoginCache,
  target: Target,
  session: StoredSession,
  request: (handle: string) => Promise<T>,
): Promise<T> {
  try {
    return await request(session.session);
  } catch (error) {
    if (error instanceof LoginError && error.code === 'session_ended') {
      cache.forgetSession(target, session.session, new Date());
    }
    throw error;
  }
}
