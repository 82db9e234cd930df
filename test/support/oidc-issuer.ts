/**
 * A real OIDC issuer we did not write (oauth2-mock-server) on a loopback port, for unit,
 * integration and e2e tests: discovery + JWKS served over HTTP, tokens minted with chosen claims
 * and header, every request counted, and outages on demand.
 *
 * Also crafts the attack tokens a well-behaved issuer never produces (alg none, HS256 keyed with
 * the RSA public key, embedded keys, JWE, JSON serialization, crit, raw payload bytes).
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  base64url,
  CompactEncrypt,
  CompactSign,
  type CryptoKey,
  exportSPKI,
  FlattenedSign,
  importJWK,
  type JWK,
} from 'jose';
import { Events, OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import type { z } from 'zod';
import { type OidcProvider, OidcProviderSchema } from '#shared/config/schema.ts';

/** The audience tokens carry unless a test says otherwise. */
export const TEST_AUDIENCE = 'tvm-test-client';
export const TEST_SUBJECT = 'alice';

/**
 * How the issuer misbehaves: `status` answers 503, `reset` drops the connection, `hang` never
 * answers, `not-jwks` answers 200 with JSON that is not a JWKS, `oversize` with 300 KB of JSON.
 */
export type IssuerOutage = 'none' | 'status' | 'reset' | 'hang' | 'not-jwks' | 'oversize';

export interface TestIssuerOptions {
  /** Key algorithms; one key each, the first one signs by default. Default `['RS256']`. */
  algorithms?: readonly string[];
  /** Clock for iat/nbf/exp of minted tokens, in ms (share it with the code under test). */
  now?: () => number;
  /** Default `aud` of minted tokens. */
  audience?: string;
}

export interface MintOptions {
  /** Merged into the protected header (`alg` is always the signing key's). */
  header?: Record<string, unknown>;
  /** Seconds from iat to exp. Default 3600. */
  expiresIn?: number;
  /** Which of the issuer's keys signs. Default: the first. */
  kid?: string;
}

export interface TestIssuerKey {
  kid: string;
  alg: string;
  /** As published in the JWKS. */
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export interface TestIssuer {
  /** The exact `iss` of minted tokens (no trailing slash). */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly discoveryUri: string;
  readonly keys: readonly TestIssuerKey[];
  /** The running oauth2-mock-server service, for its event hooks. */
  readonly service: OAuth2Service;
  /**
   * A token signed by the issuer. Defaults: `sub` alice, `aud` the test audience, iat/nbf/exp
   * from the clock. `claims` override them; a claim set to `undefined` is left out.
   */
  mint(claims?: Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** Key rotation: a new key, published in the JWKS from now on (the old ones stay). */
  addKey(alg?: string): Promise<TestIssuerKey>;
  /** A compact JWS with any header and payload (even non-JSON bytes), signed by an issuer key. */
  sign(header: Record<string, unknown>, payload: unknown, kid?: string): Promise<string>;
  /** Requests received, for one path (e.g. `/jwks`) or in total. */
  requests(path?: string): number;
  jwksRequests(): number;
  discoveryRequests(): number;
  setOutage(outage: IssuerOutage): void;
  stop(): Promise<void>;
}

export async function startTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const now = options.now ?? Date.now;
  const audience = options.audience ?? TEST_AUDIENCE;
  const oauthIssuer = new OAuth2Issuer();
  const service = new OAuth2Service(oauthIssuer);
  for (const alg of options.algorithms ?? ['RS256']) await oauthIssuer.keys.generate(alg);

  const counts = new Map<string, number>();
  let outage: IssuerOutage = 'none';
  const server = await listen((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    misbehave(outage, request, response, service.requestHandler);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  oauthIssuer.url = origin;

  const keys: TestIssuerKey[] = [];
  const loadKeys = async (): Promise<void> => {
    const publicByKid = new Map(oauthIssuer.keys.toJSON().map((jwk) => [jwk.kid, jwk]));
    for (const privateJwk of oauthIssuer.keys.toJSON(true)) {
      if (keys.some((key) => key.kid === privateJwk.kid)) continue;
      keys.push({
        kid: privateJwk.kid,
        alg: privateJwk.alg,
        publicJwk: publicByKid.get(privateJwk.kid) as JWK,
        privateKey: (await importJWK(privateJwk, privateJwk.alg)) as CryptoKey,
      });
    }
  };
  await loadKeys();
  const keyFor = (kid?: string): TestIssuerKey => {
    const key = kid === undefined ? keys[0] : keys.find((k) => k.kid === kid);
    if (key === undefined) throw new Error(`test issuer has no key ${kid}`);
    return key;
  };

  return {
    issuer: origin,
    jwksUri: `${origin}/jwks`,
    discoveryUri: `${origin}/.well-known/openid-configuration`,
    keys,
    service,
    mint(claims = {}, mintOptions = {}) {
      return oauthIssuer.buildToken({
        kid: keyFor(mintOptions.kid).kid,
        scopesOrTransform: (header, payload) => {
          const iat = Math.floor(now() / 1000);
          Object.assign(payload, {
            iat,
            nbf: iat - 10,
            exp: iat + (mintOptions.expiresIn ?? 3600),
            sub: TEST_SUBJECT,
            aud: audience,
          });
          Object.assign(header, mintOptions.header);
          for (const [name, value] of Object.entries(claims)) {
            // defineProperty, not assignment: a `__proto__` claim must stay a plain own key.
            if (value === undefined) Reflect.deleteProperty(payload, name);
            else Object.defineProperty(payload, name, { value, enumerable: true, writable: true });
          }
        },
      });
    },
    async addKey(alg = 'RS256') {
      const { kid } = await oauthIssuer.keys.generate(alg);
      await loadKeys();
      return keyFor(kid);
    },
    async sign(header, payload, kid) {
      const key = keyFor(kid ?? (typeof header.kid === 'string' ? header.kid : undefined));
      return signCompact(key.privateKey, { alg: key.alg, ...header }, payload);
    },
    requests: (path) =>
      path === undefined
        ? [...counts.values()].reduce((a, b) => a + b, 0)
        : (counts.get(path) ?? 0),
    jwksRequests: () => counts.get('/jwks') ?? 0,
    discoveryRequests: () => counts.get('/.well-known/openid-configuration') ?? 0,
    setOutage(next) {
      outage = next;
    },
    async stop() {
      await close(server);
    },
  };
}

function misbehave(
  outage: IssuerOutage,
  request: IncomingMessage,
  response: ServerResponse,
  handler: RequestListener,
): void {
  switch (outage) {
    case 'none':
      handler(request, response);
      return;
    case 'status':
      response.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    case 'reset':
      request.socket.destroy();
      return;
    case 'hang':
      return;
    case 'not-jwks':
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}');
      return;
    case 'oversize':
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }));
      return;
  }
}

export interface RecordingServer {
  readonly url: string;
  requests(): number;
  stop(): Promise<void>;
}

/** A loopback server that answers every request with `body` and counts what it received. */
export async function startRecordingServer(body: unknown): Promise<RecordingServer> {
  let count = 0;
  const server = await listen((_request, response) => {
    count += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => count,
    stop: () => close(server),
  };
}

async function listen(listener: RequestListener): Promise<Server> {
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Port 0: the kernel picks a free port, so parallel test files never collide.
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

async function close(server: Server): Promise<void> {
  // Hung requests (the `hang` outage) would otherwise keep close() waiting forever.
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}

// ---------------------------------------------------------------------------------------------
// Attack tokens

/** base64url of a JSON value, or of a raw string when `payload` is a string. */
export function encodeSegment(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return base64url.encode(text);
}

/** header.payload.signature, assembled by hand; `signature` defaults to empty (unsecured). */
export function assembleToken(header: unknown, payload: unknown, signature = ''): string {
  return `${encodeSegment(header)}.${encodeSegment(payload)}.${signature}`;
}

/** A compact JWS over any header and payload; a string payload is signed as raw bytes. */
export async function signCompact(
  privateKey: CryptoKey,
  header: Record<string, unknown>,
  payload: unknown,
): Promise<string> {
  const bytes = new TextEncoder().encode(
    typeof payload === 'string' ? payload : JSON.stringify(payload),
  );
  const crit = Array.isArray(header.crit)
    ? Object.fromEntries(header.crit.map((name: unknown) => [String(name), true]))
    : undefined;
  return new CompactSign(bytes)
    .setProtectedHeader(header as { alg: string })
    .sign(privateKey, crit === undefined ? undefined : { crit });
}

/** HS256 keyed with `secret`, e.g. the issuer's RSA public key as PEM or as JWK JSON. */
export function hmacToken(
  secret: string,
  header: Record<string, unknown>,
  payload: unknown,
): string {
  const signingInput = `${encodeSegment({ ...header, alg: 'HS256' })}.${encodeSegment(payload)}`;
  const mac = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${mac}`;
}

/** The RSA public key as an SPKI PEM, the form an HS256 key-confusion attack feeds HMAC. */
export async function publicKeyPem(key: TestIssuerKey): Promise<string> {
  const publicKey = await importJWK(key.publicJwk, key.alg, { extractable: true });
  return exportSPKI(publicKey as CryptoKey);
}

/** A compact JWE (five parts) around `payload`, encrypted with a random direct key. */
export async function encryptedToken(payload: unknown): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT' })
    .encrypt(randomBytes(32));
}

/** The same signature in JWS JSON serialization (flattened). */
export async function flattenedJsonToken(
  privateKey: CryptoKey,
  header: Record<string, unknown>,
  payload: unknown,
  unprotected?: Record<string, unknown>,
): Promise<string> {
  const signer = new FlattenedSign(new TextEncoder().encode(JSON.stringify(payload)));
  signer.setProtectedHeader(header as { alg: string });
  if (unprotected !== undefined) signer.setUnprotectedHeader(unprotected);
  return JSON.stringify(await signer.sign(privateKey));
}

/** Standard claims of a valid token at `nowMs`, for hand-made tokens. */
export function validClaims(
  issuer: string,
  nowMs: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    iss: issuer,
    sub: TEST_SUBJECT,
    aud: TEST_AUDIENCE,
    iat,
    nbf: iat - 10,
    exp: iat + 3600,
    ...overrides,
  };
}

export { Events as IssuerEvents };

/**
 * An OIDC provider config for `issuer`, parsed by the real schema (so defaults apply) and
 * pointing at its JWKS directly unless `jwksUri: undefined` asks for discovery.
 */
export function providerFor(
  issuer: Pick<TestIssuer, 'issuer' | 'jwksUri'>,
  overrides: Partial<z.input<typeof OidcProviderSchema>> = {},
): OidcProvider {
  const input: Record<string, unknown> = {
    id: 'test-idp',
    type: 'oidc',
    issuer: issuer.issuer,
    audiences: [TEST_AUDIENCE],
    jwksUri: issuer.jwksUri,
    ...overrides,
  };
  if ('jwksUri' in overrides && overrides.jwksUri === undefined) delete input.jwksUri;
  return OidcProviderSchema.parse(input);
}
