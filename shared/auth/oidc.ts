/**
 * OIDC authentication: an ID token in, an Identity out, or an AuthenticationError whose `reason`
 * goes to the audit record (never to the client). A JWKS outage is an UpstreamError (503).
 *
 * Order: size cap, then structural checks on the raw token and its header (no key lookup, no
 * fetch), then the provider named by the exact `iss`, then jose `jwtVerify` with everything taken
 * from config, then the access-token markers (on the verified header and payload), then the claim
 * rules jose does not know (azp, token_use, iat, sub).
 */
import type { JWTPayload } from 'jose';
import { jwtVerify } from 'jose';
import type { AuthFailureReason, Identity } from '#shared/auth/identity.ts';
import { toClaims } from '#shared/auth/identity.ts';
import { createJwksStore } from '#shared/auth/jwks.ts';
import { OIDC_ALGORITHMS } from '#shared/config/limits.ts';
import type { OidcProvider } from '#shared/config/schema.ts';
import { AppError, AuthenticationError } from '#shared/errors.ts';
import type { Metrics } from '#shared/metrics.ts';

/** Largest token we decode (16 KB); real ID tokens are 1–2 KB. */
export const MAX_TOKEN_CHARS = 16_384;

/** Longest `sub` we accept; OpenID Connect Core §2 allows 255 ASCII characters. */
export const MAX_SUBJECT_CHARS = 255;

export interface OidcAuthenticatorOptions {
  fetch?: typeof fetch;
  /** Milliseconds since the epoch; injected so that expiry is tested exactly. */
  now?: () => number;
  /** Deployment stage: only `local` may fetch keys over http:// from loopback. */
  stage: string;
  /** Where JWKS outages are counted; none in tests and scripts. */
  metrics?: Metrics;
}

export interface AuthenticateHint {
  /** The provider the client named; it must be the one the token's `iss` selects. */
  provider?: string;
}

export interface OidcAuthenticator {
  authenticate(
    token: string,
    providers: readonly OidcProvider[],
    hint?: AuthenticateHint,
  ): Promise<Identity>;
}

/** Header parameters that carry or point at a key: trusting them lets the sender pick the key. */
const EMBEDDED_KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

const SUPPORTED_ALGORITHMS: ReadonlySet<string> = new Set(OIDC_ALGORITHMS);

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Create once per Lambda instance (module scope): the JWKS cache lives inside. */
export function createOidcAuthenticator(options: OidcAuthenticatorOptions): OidcAuthenticator {
  const now = options.now ?? Date.now;
  const jwks = createJwksStore({
    fetch: options.fetch ?? globalThis.fetch,
    now,
    stage: options.stage,
    metrics: options.metrics,
  });

  return {
    async authenticate(token, providers, hint = {}) {
      const { header, payload } = inspect(token);
      const provider = selectProvider(payload, providers, hint);
      // The algorithm comes from config only: the header may merely pick one of the allowed.
      if (!(provider.algorithms as readonly string[]).includes(header.alg as string)) {
        throw fail('algorithm_not_allowed');
      }

      const tolerance = provider.clockToleranceSeconds;
      let verified: JWTPayload;
      try {
        ({ payload: verified } = await jwtVerify(token, jwks.keyResolver(provider), {
          algorithms: [...provider.algorithms],
          issuer: provider.issuer,
          audience: [...provider.audiences],
          clockTolerance: tolerance,
          currentDate: new Date(now()),
          // An ID token without exp would never expire; OIDC Core §2 requires both.
          requiredClaims: ['exp', 'iat'],
          ...(provider.maxTokenAgeSeconds === undefined
            ? {}
            : { maxTokenAge: provider.maxTokenAgeSeconds }),
          ...(provider.requiredTyp === undefined ? {} : { typ: provider.requiredTyp }),
        }));
      } catch (error) {
        // jose checks typ only once the signature holds, so this header is verified bytes.
        if (isTypFailure(error) && isAccessTokenTyp(header.typ)) {
          throw fail('access_token', { marker: 'header_typ' });
        }
        throw asAuthenticationError(error);
      }

      // `header` is the protected header jose just verified. Ahead of our claim rules, so that a
      // Cognito access token is named as such under the preset too.
      // A generation applied before this field existed lacks it (the runtime does not re-parse).
      const allowed = provider.allowAccessTokenMarkers ?? [];
      const marker = accessTokenMarker(header, verified, allowed);
      if (marker !== undefined) throw fail('access_token', { marker });

      checkClaims(verified, provider, Math.floor(now() / 1000), tolerance);
      const subject = verified.sub as string;
      // jose checked `iss` against provider.issuer: the configured value is the verified one.
      return {
        provider: provider.id,
        issuer: provider.issuer,
        subject,
        claims: toClaims(verified),
      };
    },
  };
}

function fail(reason: AuthFailureReason, cause?: unknown): AuthenticationError {
  return new AuthenticationError(reason, cause === undefined ? {} : { cause });
}

interface Inspected {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** Structural checks that need no key: every one runs before any JWKS lookup or fetch. */
function inspect(token: string): Inspected {
  if (typeof token !== 'string' || token === '') throw fail('missing_token');
  // Bounded before any decoding, so a huge header cannot cost us CPU or memory.
  if (token.length > MAX_TOKEN_CHARS) throw fail('token_too_large');
  // JSON serialization may carry unprotected headers that jose would merge into the header.
  if (token.startsWith('{')) throw fail('malformed_token');
  const parts = token.split('.');
  // Five parts is a JWE: an encrypted token proves nothing about who signed it.
  if (parts.length === 5) throw fail('unsupported_token_type');
  if (parts.length !== 3) throw fail('malformed_token');
  const [encodedHeader = '', encodedPayload = '', signature = ''] = parts;
  if (!BASE64URL.test(encodedHeader) || !BASE64URL.test(encodedPayload)) {
    throw fail('malformed_token');
  }
  if (signature !== '' && !BASE64URL.test(signature)) throw fail('malformed_token');

  const header = decodeSegment(encodedHeader);
  for (const name of EMBEDDED_KEY_HEADERS) {
    if (Object.hasOwn(header, name)) throw fail('embedded_key_header', { header: name });
  }
  // crit can redefine how the token is processed (b64=false changes what is signed).
  if (Object.hasOwn(header, 'crit')) throw fail('unsupported_crit_header');
  if (Object.hasOwn(header, 'kid') && typeof header.kid !== 'string') throw fail('invalid_kid');
  // none and HS* are never accepted: HS256 keyed with our RSA public key is a classic forgery.
  if (typeof header.alg !== 'string' || !SUPPORTED_ALGORITHMS.has(header.alg)) {
    throw fail('algorithm_not_allowed');
  }
  if (signature === '') throw fail('signature_invalid');
  return { header, payload: decodeSegment(encodedPayload) };
}

/** One decoder for every token: fatal, so invalid UTF-8 is refused instead of replaced. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    const bytes = Buffer.from(segment, 'base64url');
    value = JSON.parse(UTF8.decode(bytes));
  } catch (cause) {
    throw fail('malformed_token', cause);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('malformed_token');
  }
  return value as Record<string, unknown>;
}

/**
 * The provider whose issuer equals `iss` exactly: no normalisation, so `https://idp/` and
 * `https://idp` are different issuers. Reading `iss` before verification is safe because the
 * chosen provider's config then verifies everything, `iss` included.
 */
function selectProvider(
  payload: Record<string, unknown>,
  providers: readonly OidcProvider[],
  hint: AuthenticateHint,
): OidcProvider {
  const iss = payload.iss;
  if (typeof iss !== 'string') throw fail('unknown_issuer');
  const candidates = providers.filter((p) => p.type === 'oidc' && p.issuer === iss);
  if (candidates.length === 0) throw fail('unknown_issuer');
  if (hint.provider !== undefined) {
    const named = candidates.find((p) => p.id === hint.provider);
    // The client may choose among providers, but not one the token was not issued for.
    if (named === undefined) throw fail('provider_mismatch');
    return named;
  }
  if (candidates.length === 1) return candidates[0] as OidcProvider;
  // Several providers share the issuer (e.g. two app clients of one user pool): `aud` decides.
  const tokenAudiences = audiencesOf(payload.aud);
  const matching = candidates.filter((p) => p.audiences.some((a) => tokenAudiences.includes(a)));
  if (matching.length !== 1) throw fail('provider_mismatch', { ambiguousIssuer: iss });
  return matching[0] as OidcProvider;
}

function audiencesOf(aud: unknown): readonly unknown[] {
  return Array.isArray(aud) ? aud : [aud];
}

/** What marks a token as an OAuth access token; see docs/configuration.md, "ID tokens only". */
export type AccessTokenMarker = 'header_typ' | OidcProvider['allowAccessTokenMarkers'][number];

function isAccessTokenTyp(typ: unknown): boolean {
  return typeof typ === 'string' && /^(application\/)?at\+jwt$/i.test(typ);
}

function isTypFailure(error: unknown): boolean {
  const { code, claim } = (error ?? {}) as { code?: unknown; claim?: unknown };
  return code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'typ';
}

/**
 * The first access-token marker a verified token carries, or undefined. IdPs sign access and ID
 * tokens with the same keys, and an admin's audience mapper can put our client id in an access
 * token's `aud`: only these markers then tell the access token (issued for an API) apart.
 */
function accessTokenMarker(
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
  allowed: readonly AccessTokenMarker[],
): AccessTokenMarker | undefined {
  // RFC 9068 §2.1: at+jwt is an access token by definition, so no switch turns this off.
  if (isAccessTokenTyp(header.typ)) return 'header_typ';
  // Keycloak access tokens keep header typ JWT but say `typ: Bearer` in the payload.
  if (!allowed.includes('payload_typ') && equalsIgnoringCase(payload.typ, 'bearer')) {
    return 'payload_typ';
  }
  // Cognito's access tokens, whether or not the provider uses the cognito preset.
  if (!allowed.includes('token_use') && equalsIgnoringCase(payload.token_use, 'access')) {
    return 'token_use';
  }
  // Okta and Entra ID (scp), Auth0 (scope): OAuth scopes belong to access tokens. An explicit
  // ID-token marker, set exactly as Keycloak and Cognito set it, outweighs them.
  const hasScope = Object.hasOwn(payload, 'scope') || Object.hasOwn(payload, 'scp');
  const saysIdToken = payload.typ === 'ID' || payload.token_use === 'id';
  if (!allowed.includes('scope') && hasScope && !saysIdToken) return 'scope';
  return undefined;
}

function equalsIgnoringCase(value: unknown, expected: string): boolean {
  return typeof value === 'string' && value.toLowerCase() === expected;
}

/** Claim rules jose does not apply; run on the verified payload only. */
function checkClaims(
  payload: JWTPayload,
  provider: OidcProvider,
  nowSeconds: number,
  tolerance: number,
): void {
  // JSON numbers like 1e999 parse to Infinity: an exp that never passes.
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const value = payload[name];
    if (value !== undefined && !Number.isFinite(value))
      throw fail('invalid_claims', { claim: name });
  }
  // A future iat means a broken or forged clock; jose checks it only with maxTokenAge.
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + tolerance) {
    throw fail('issued_in_future');
  }

  // OIDC Core §2: with several audiences, azp names the party the token was issued to.
  const allowedParties = provider.authorizedParties ?? provider.audiences;
  const azp = payload.azp;
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && azp === undefined) {
    throw fail('azp_mismatch');
  }
  if (azp !== undefined && (typeof azp !== 'string' || !allowedParties.includes(azp))) {
    throw fail('azp_mismatch');
  }

  // Cognito signs access tokens with the same keys: only an ID token proves who the user is.
  if (provider.preset === 'cognito' && payload.token_use !== 'id') {
    throw fail('token_use_mismatch');
  }

  const sub = payload.sub;
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT_CHARS) {
    throw fail('missing_subject');
  }
}

/** Maps jose's stable error codes to audit reasons; anything unknown fails closed. */
function asAuthenticationError(error: unknown): AppError {
  // Our own errors from the key resolver: unknown_kid, or a 503 when the JWKS is unavailable.
  if (error instanceof AppError) return error;
  const { code, claim, reason } = (error ?? {}) as {
    code?: unknown;
    claim?: unknown;
    reason?: unknown;
  };
  switch (code) {
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return fail('algorithm_not_allowed', error);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('signature_invalid', error);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return fail('unknown_kid', error);
    case 'ERR_JWS_INVALID':
      return fail('malformed_token', error);
    // The claims set is not a JSON object (e.g. a literal NaN): signed, but not a JWT.
    case 'ERR_JWT_INVALID':
      return fail('invalid_claims', error);
    case 'ERR_JWT_EXPIRED':
      return fail(claim === 'iat' ? 'token_too_old' : 'expired', error);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return fail(claimFailureReason(claim, reason), error);
    default:
      // Key import failures (e.g. an RSA key under 2048 bits) and anything unforeseen.
      return fail('signature_invalid', error);
  }
}

function claimFailureReason(claim: unknown, reason: unknown): AuthFailureReason {
  if (reason === 'invalid') return 'invalid_claims';
  switch (claim) {
    case 'aud':
      return 'audience_mismatch';
    case 'iss':
      return 'unknown_issuer';
    case 'typ':
      return 'typ_mismatch';
    case 'nbf':
      return 'not_yet_valid';
    case 'iat':
      return reason === 'check_failed' ? 'issued_in_future' : 'invalid_claims';
    default:
      return 'invalid_claims';
  }
}
