/**
 * The SP's AuthnRequest signing key pair, for providers that set `signAuthnRequests`. It is a
 * secret, so it lives in SSM Parameter Store as a SecureString (never in config, the table or
 * the environment) and is read on first use, then kept in memory for a few minutes so that a
 * rotation is picked up without a deploy. A missing parameter is remembered for 30 s at most, so
 * that creating it takes effect on the next login after that, not minutes later.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { SpSigningKey } from './sp.ts';

export class SigningKeyError extends Error {}

/** How long "the parameter does not exist" is believed: the next login after this reads again. */
export const MISSING_KEY_RETRY_MS = 30_000;

/** The parameter's JSON: `{"privateKey": "<PEM>", "certificate": "<PEM>"}`, a matching pair. */
export function parseSigningKey(text: string, label = 'signing'): SpSigningKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SigningKeyError(`the SAML ${label} key parameter is not JSON`);
  }
  const { privateKey, certificate } = (value ?? {}) as Record<string, unknown>;
  if (typeof privateKey !== 'string' || typeof certificate !== 'string') {
    throw new SigningKeyError(
      `the SAML ${label} key parameter needs privateKey and certificate (PEM)`,
    );
  }
  let matches = false;
  try {
    const key = createPrivateKey(privateKey);
    matches = new X509Certificate(certificate).checkPrivateKey(key);
  } catch {
    throw new SigningKeyError(
      `the SAML ${label} key parameter holds an unreadable key or certificate`,
    );
  }
  if (!matches) throw new SigningKeyError(`the SAML ${label} certificate does not match its key`);
  return { privateKey, certificate };
}

/**
 * A loader for the key in `parameterName`: undefined when the parameter does not exist (signed
 * logins then fail closed), an error when it exists but is unusable. A key found is kept for
 * `ttlMs`; a missing one for `missingTtlMs` (default: the shorter of `ttlMs` and 30 s).
 */
export function ssmSigningKey(
  ssm: SSMClient | (() => Promise<SSMClient>),
  parameterName: string,
  /** `label`: which key, in errors (the decryption key has the same shape and loader). */
  options: { ttlMs: number; missingTtlMs?: number; now?: () => number; label?: string },
): () => Promise<SpSigningKey | undefined> {
  const now = options.now ?? Date.now;
  const missingTtlMs = Math.min(options.missingTtlMs ?? MISSING_KEY_RETRY_MS, options.ttlMs);
  let cached: { key: SpSigningKey | undefined; until: number } | undefined;
  let client: SSMClient | undefined;
  return async () => {
    if (cached !== undefined && cached.until > now()) return cached.key;
    // Loaded on the first signed login only: the SSM client costs ~50 ms of init otherwise.
    const { GetParameterCommand, ParameterNotFound } = await import('@aws-sdk/client-ssm');
    client ??= typeof ssm === 'function' ? await ssm() : ssm;
    let key: SpSigningKey | undefined;
    try {
      const { Parameter } = await client.send(
        new GetParameterCommand({ Name: parameterName, WithDecryption: true }),
        { abortSignal: AbortSignal.timeout(2_000) },
      );
      key =
        Parameter?.Value === undefined
          ? undefined
          : parseSigningKey(Parameter.Value, options.label);
    } catch (error) {
      if (!(error instanceof ParameterNotFound)) throw error;
      key = undefined;
    }
    cached = { key, until: now() + (key === undefined ? missingTtlMs : options.ttlMs) };
    return key;
  };
}
