/**
 * The terminal login's start (RFC 8252 loopback redirect with RFC 7636 PKCE): what a CLI may
 * name when it opens `GET /v1/saml/{provider}/login?target=cli`, and the S256 check at the code
 * exchange. No HTTP here: the edge hands in the query parameters.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '#shared/errors.ts';

/** What a pending terminal login keeps until the IdP answers. */
export interface CliStart {
  /** Exactly as the CLI sent it; the code exchange must name the same string. */
  redirectUri: string;
  /** Echoed to the loopback with the code; the CLI checks it (RFC 6749 §10.12). */
  state: string;
  /** BASE64URL(SHA-256(code_verifier)) (RFC 7636 §4.2). */
  codeChallenge: string;
}

export const MAX_REDIRECT_URI_CHARS = 256;
/**
 * Only an IP literal on loopback, never `localhost` (RFC 8252 §8.3: a name can resolve
 * elsewhere), plain http (nothing else can listen there), an explicit port, an optional plain
 * path; no userinfo, query or fragment, so no parser can read another host out of it.
 */
const LOOPBACK_REDIRECT =
  /^http:\/\/(?:127\.0\.0\.1|\[::1\]):([1-9][0-9]{3,4})(\/[A-Za-z0-9._~/-]*)?$/;
export const STATE_PATTERN = /^[A-Za-z0-9._~-]{16,256}$/;
/** S256 of a verifier: 32 bytes, base64url without padding. */
export const CODE_CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
export const CODE_VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;

/** The redirect URI when it is a loopback one we accept, else undefined. */
export function loopbackRedirectUri(value: string): string | undefined {
  if (value.length > MAX_REDIRECT_URI_CHARS) return undefined;
  const match = LOOPBACK_REDIRECT.exec(value);
  const port = Number(match?.[1]);
  // Below 1024 only root listens; a user's CLI never does.
  if (match === null || port < 1024 || port > 65_535) return undefined;
  return value;
}

function single(query: Readonly<Record<string, string | undefined>>, name: string): string {
  return query[name] ?? '';
}

/** The CLI's start parameters, or a 400 with the audit reason of the first one that is wrong. */
export function parseCliStart(query: Readonly<Record<string, string | undefined>>): CliStart {
  const redirectUri = loopbackRedirectUri(single(query, 'redirect_uri'));
  if (redirectUri === undefined) {
    throw new ValidationError(
      'redirect_uri must be http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path> (port 1024-65535, no query or fragment)',
      { reason: 'invalid_redirect_uri' },
    );
  }
  const method = single(query, 'code_challenge_method');
  const codeChallenge = single(query, 'code_challenge');
  // A `plain` challenge is the verifier itself: anyone who sees the URL could redeem the code.
  if (method !== 'S256' || codeChallenge === '') {
    throw new ValidationError('PKCE is required: code_challenge with code_challenge_method=S256', {
      reason: 'pkce_required',
    });
  }
  if (!CODE_CHALLENGE_PATTERN.test(codeChallenge)) {
    throw new ValidationError('code_challenge must be 43 base64url characters', {
      reason: 'invalid_parameter',
    });
  }
  const state = single(query, 'state');
  if (!STATE_PATTERN.test(state)) {
    throw new ValidationError('state must be 16-256 characters of [A-Za-z0-9._~-]', {
      reason: 'invalid_parameter',
    });
  }
  return { redirectUri, state, codeChallenge };
}

/** S256 (RFC 7636 §4.6), compared in constant time. */
export function verifierMatches(verifier: string, codeChallenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'));
  const expected = Buffer.from(codeChallenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
