/**
 * What a tvm-login command works on: one TVM (its base URL) and one of its providers, and for
 * credentials one mapping. Every value is checked here, because each ends up in a URL, a file
 * name in the cache, or a `credential_process` line in the user's AWS config.
 */
import { createHash } from 'node:crypto';
import { ID_PATTERN } from '#shared/config/limits.ts';
import { usageError } from './errors.ts';

export interface Target {
  /** Normalised: scheme, host, port and path, no trailing slash, no query or fragment. */
  url: string;
  provider: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The TVM's base URL. https only, except on loopback (the local stage): the session handle is
 * a bearer secret and must not cross a network in clear text.
 */
export function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(
      `--url must be an absolute URL such as https://tvm.example.com (got "${raw}")`,
    );
  }
  if (
    url.protocol !== 'https:' &&
    !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
  ) {
    throw usageError(
      '--url must be https (plain http is accepted only for 127.0.0.1, [::1] or localhost)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError('--url must not carry a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw usageError('--url must not have a query or a fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** A provider or mapping id, with the config's own pattern. */
export function parseId(flag: '--provider' | '--role', raw: string): string {
  if (!ID_PATTERN.test(raw)) {
    throw usageError(`${flag} must be an id of lowercase letters, digits and "-" (got "${raw}")`);
  }
  return raw;
}

/** The file-name stem of a target in the cache: readable, and unique per (url, provider). */
export function targetKey(target: Target): string {
  const digest = createHash('sha256')
    .update(`${target.url}\n${target.provider}`, 'utf8')
    .digest('hex');
  return `${target.provider}-${digest.slice(0, 16)}`;
}

/** The command that starts a new login, as the error messages print it. */
export function loginCommand(target: Target): string {
  return `tvm-login login --url ${target.url} --provider ${target.provider}`;
}
