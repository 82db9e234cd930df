/**
 * The signing keys of each configured OIDC provider, fetched only from the provider's configured
 * JWKS (its `jwksUri`, or the `jwks_uri` of its discovery document) and cached per instance.
 *
 * Cache policy, per provider:
 * - Keys are refreshed when they are older than JWKS_MAX_AGE_SECONDS (the schema has no setting
 *   for it; 10 minutes is jose's `createRemoteJWKSet` default), so a key the IdP removed stops
 *   being trusted within that bound.
 * - An unknown `kid` triggers a refresh, but fetches start at most once per
 *   `jwks.cooldownSeconds` (failed ones too, so a down IdP is not hammered either), and
 *   concurrent requests share the one in-flight fetch.
 * - When a refresh fails, the cached keys keep being served while their age is at most
 *   `jwks.staleMaxAgeSeconds`; beyond that, or with no keys at all, verification fails with
 *   JwksUnavailableError: a 503 UpstreamError whose `reason` is `jwks_unavailable`.
 */
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { createLocalJWKSet } from 'jose';
import type { OidcProvider } from '#shared/config/schema.ts';
import { AuthenticationError, UpstreamError } from '#shared/errors.ts';
import type { Metrics } from '#shared/metrics.ts';

/** Refresh cached keys older than this, even when every `kid` is known. */
export const JWKS_MAX_AGE_SECONDS = 600;

/** Largest discovery document or JWKS we read; real ones are a few KB. */
export const JWKS_MAX_BYTES = 256 * 1024;

/** More keys than any real issuer publishes; bounds the work a hostile JWKS can cause. */
export const JWKS_MAX_KEYS = 100;

export interface JwksStoreOptions {
  fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Deployment stage: only `local` may fetch over http://, and only from loopback hosts. */
  stage: string;
  /** Counts the requests refused for want of keys (JwksUnavailable, by provider). */
  metrics?: Metrics;
}

export interface JwksStore {
  /** The jose key resolver for one provider, backed by the shared cache. */
  keyResolver(provider: OidcProvider): JWTVerifyGetKey;
}

/**
 * 503: no usable keys (endpoint down beyond the stale bound, or never reached). `reason` is what
 * the audit record shows; the client gets the generic 503 with Retry-After.
 */
export class JwksUnavailableError extends UpstreamError {
  provider: string;
  constructor(provider: string, cause: unknown, retryAfterSeconds: number) {
    super(cause, retryAfterSeconds, 'jwks_unavailable');
    this.provider = provider;
  }
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

interface CacheEntry {
  keySet: LocalKeySet | undefined;
  /** When the cached keys were fetched (ms). */
  fetchedAt: number;
  /** When the last fetch started, successful or not (ms); drives the cooldown. */
  attemptedAt: number | undefined;
  /** Why the most recent fetch failed; undefined after a success. */
  lastError: unknown;
  inFlight: Promise<void> | undefined;
}

export function createJwksStore(options: JwksStoreOptions): JwksStore {
  const { now, metrics } = options;
  const source = createKeySource(options);
  // Keyed by the key source too, so a config change to a provider's issuer or jwksUri never
  // serves the keys of the old source.
  const cache = new Map<string, CacheEntry>();

  function entryFor(provider: OidcProvider): CacheEntry {
    const key = JSON.stringify([provider.id, provider.issuer, provider.jwksUri ?? null]);
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = {
        keySet: undefined,
        fetchedAt: 0,
        attemptedAt: undefined,
        lastError: undefined,
        inFlight: undefined,
      };
      cache.set(key, entry);
    }
    return entry;
  }

  function coolingDown(entry: CacheEntry, provider: OidcProvider): boolean {
    return (
      entry.attemptedAt !== undefined &&
      now() - entry.attemptedAt < provider.jwks.cooldownSeconds * 1000
    );
  }

  /** Joins the fetch in flight, or starts one unless the cooldown forbids it; false if neither. */
  async function refreshUnlessCoolingDown(
    entry: CacheEntry,
    provider: OidcProvider,
  ): Promise<boolean> {
    if (entry.inFlight === undefined && coolingDown(entry, provider)) return false;
    await refresh(entry, provider);
    return true;
  }

  function refresh(entry: CacheEntry, provider: OidcProvider): Promise<void> {
    // Concurrent requests share one fetch: a burst costs the IdP one request, not one each.
    if (entry.inFlight !== undefined) return entry.inFlight;
    entry.attemptedAt = now();
    const attempt = loadKeySet(provider).then(
      (keySet) => {
        entry.keySet = keySet;
        entry.fetchedAt = now();
        entry.lastError = undefined;
      },
      (error: unknown) => {
        entry.lastError = error;
      },
    );
    const inFlight = attempt.finally(() => {
      if (entry.inFlight === inFlight) entry.inFlight = undefined;
    });
    entry.inFlight = inFlight;
    return inFlight;
  }

  /** The cached keys if they may be used now, else a 503. */
  function usableKeys(entry: CacheEntry, provider: OidcProvider): LocalKeySet {
    const ageMs = now() - entry.fetchedAt;
    if (
      entry.keySet === undefined ||
      (entry.lastError !== undefined && ageMs > provider.jwks.staleMaxAgeSeconds * 1000)
    ) {
      metrics?.count('JwksUnavailable', { provider: provider.id });
      throw new JwksUnavailableError(
        provider.id,
        entry.lastError ?? new Error('no JWKS fetched yet'),
        Math.max(1, provider.jwks.cooldownSeconds),
      );
    }
    return entry.keySet;
  }

  async function loadKeySet(provider: OidcProvider): Promise<LocalKeySet> {
    const jwksUri = provider.jwksUri ?? (await source.discoverJwksUri(provider));
    return createLocalJWKSet(await source.fetchJwks(jwksUri, provider));
  }

  return {
    keyResolver(provider) {
      return async (protectedHeader, token) => {
        const entry = entryFor(provider);
        const stale =
          entry.keySet === undefined || now() - entry.fetchedAt > JWKS_MAX_AGE_SECONDS * 1000;
        if (stale) await refreshUnlessCoolingDown(entry, provider);
        try {
          return await usableKeys(entry, provider)(protectedHeader, token);
        } catch (error) {
          if (!isNoMatchingKey(error)) throw error;
        }
        // Unknown kid: a key rotation, or random kids meant to make us hammer the IdP.
        if (!(await refreshUnlessCoolingDown(entry, provider))) {
          throw new AuthenticationError('unknown_kid');
        }
        return usableKeys(entry, provider)(protectedHeader, token);
      };
    },
  };
}

/** Where a provider's keys come from, over HTTP, with every rule of the fetch. */
export interface KeySource {
  /** The `jwks_uri` of the issuer's discovery document, which must name the issuer exactly. */
  discoverJwksUri(provider: OidcProvider): Promise<string>;
  /** The JWKS at `jwksUri`, checked for shape and size. */
  fetchJwks(jwksUri: string, provider: OidcProvider): Promise<JSONWebKeySet>;
}

/**
 * The fetches behind the key cache: https only (loopback http in the local stage), no redirects,
 * the provider's timeout, a size cap. `tvm doctor` checks an issuer through the same code.
 */
export function createKeySource(options: Pick<JwksStoreOptions, 'fetch' | 'stage'>): KeySource {
  const { fetch: fetchImpl, stage } = options;

  async function discoverJwksUri(provider: OidcProvider): Promise<string> {
    const timeoutMs = provider.jwks.timeoutMs;
    // OpenID Connect Discovery 1.0, §4: a trailing "/" of the issuer is removed before appending.
    const base = provider.issuer.endsWith('/') ? provider.issuer.slice(0, -1) : provider.issuer;
    const discoveryUrl = checkedUrl(`${base}/.well-known/openid-configuration`, 'discovery');
    const document = await fetchJson(discoveryUrl, timeoutMs);
    if (!isPlainObject(document)) throw new Error('discovery document is not a JSON object');
    // Discovery §4.3: a document naming another issuer would hand us someone else's keys.
    if (document.issuer !== provider.issuer) {
      throw new Error(
        `discovery issuer ${JSON.stringify(document.issuer)} is not the configured issuer`,
      );
    }
    if (typeof document.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
    return document.jwks_uri;
  }

  /** https only (loopback http in the local stage): keys fetched in clear text could be swapped. */
  function checkedUrl(value: string, label: string): URL {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`${label} URL is not absolute`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new Error(`${label} URL carries credentials`);
    }
    const allowed =
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && stage === 'local' && isLoopbackHost(url.hostname));
    if (!allowed) throw new Error(`${label} URL must be https: ${url.origin}`);
    return url;
  }

  async function fetchJson(url: URL, timeoutMs: number): Promise<unknown> {
    const response = await fetchImpl(url, {
      headers: { accept: 'application/json' },
      // A redirect could lead to a host or scheme the URL check never saw.
      redirect: 'error',
      // Covers the body too: a server that trickles bytes cannot hold the request open.
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`${url.origin}${url.pathname} answered HTTP ${response.status}`);
    }
    const text = await readCapped(response, JWKS_MAX_BYTES);
    return JSON.parse(text);
  }

  return {
    discoverJwksUri,
    async fetchJwks(jwksUri, provider) {
      const timeoutMs = provider.jwks.timeoutMs;
      return asJwks(await fetchJson(checkedUrl(jwksUri, 'jwksUri'), timeoutMs));
    },
  };
}

function isNoMatchingKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_JWKS_NO_MATCHING_KEY';
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asJwks(value: unknown): JSONWebKeySet {
  if (!isPlainObject(value) || !Array.isArray(value.keys)) {
    throw new Error('JWKS is not a {"keys": [...]} object');
  }
  if (value.keys.length > JWKS_MAX_KEYS) throw new Error('JWKS has too many keys');
  if (!value.keys.every(isPlainObject)) throw new Error('JWKS keys must be objects');
  return { keys: value.keys };
}

/** Reads a body up to `maxBytes`, aborting as soon as it grows past the cap. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`response of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`response exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
}
