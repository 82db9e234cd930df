/**
 * Benchmark 1, the JWT path: our `authenticate` (JWKS warm) against raw `jose.jwtVerify` with a
 * local JWKS and against the `node:crypto` verify floor, on the same tokens, for RS256-2048 and
 * ES256 with 1 and 5 keys in the JWKS.
 *
 * Decisions are asserted before anything is timed. The floor checks the signature only (no
 * claims), so an expired but correctly signed token is accepted by it: the floor is compared with
 * the others on the signature verdict, which is what it computes.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { providerFor, startTestIssuer, TEST_AUDIENCE } from '../../test/support/oidc-issuer.ts';
import {
  interleaved,
  median,
  quantile,
  round,
  type Summary,
  summarize,
  type Variant,
} from './stats.ts';

export const JWT_TARGET_RATIO = 0.9;

const VALID_TOKENS = 8;
const WARMUP_OPS = 500;
const ROUNDS = 30;
const OPS_PER_ROUND = 300;

type Kind = 'valid' | 'bad-signature' | 'expired';

interface TokenCase {
  kind: Kind;
  token: string;
}

/** What each variant must decide for each kind of token. */
const EXPECTED: Record<Kind, { ours: boolean; jose: boolean; floor: boolean }> = {
  valid: { ours: true, jose: true, floor: true },
  'bad-signature': { ours: false, jose: false, floor: false },
  // Correctly signed: the floor checks signatures only, so it accepts; the JWT layers reject.
  expired: { ours: false, jose: false, floor: true },
};

export interface JwtCaseResult {
  alg: string;
  keysInJwks: number;
  rsaModulusBits?: number;
  tokens: Record<Kind, number>;
  decisionsAsserted: number;
  variants: { ours: Summary; jose: Summary; floor: Summary };
  /** Median over rounds of ours/jose ops/s, paired per round (A/B interleaved). */
  ratioOursToJose: number;
  /** Quartiles of the per-round ours/jose ratio: how much the rounds disagree. */
  ratioOursToJoseQuartiles: [number, number];
  ratioJoseToFloor: number;
  ratioOursToFloor: number;
}

async function runCase(alg: 'RS256' | 'ES256', keyCount: number): Promise<JwtCaseResult> {
  const issuer = await startTestIssuer({ algorithms: Array.from({ length: keyCount }, () => alg) });
  try {
    const provider = providerFor(issuer, { algorithms: [alg] });
    const authenticator = createOidcAuthenticator({ stage: 'local' });
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as JSONWebKeySet;
    const localJwks = createLocalJWKSet(jwks);
    const floorKeys = new Map<string, KeyObject>(
      jwks.keys.map((jwk) => [jwk.kid as string, createPublicKey({ key: jwk, format: 'jwk' })]),
    );

    // Valid tokens are spread over every key, so the kid lookup is exercised with 5 keys.
    const cases: TokenCase[] = [];
    for (let i = 0; i < VALID_TOKENS; i += 1) {
      const kid = issuer.keys[i % keyCount]?.kid as string;
      cases.push({ kind: 'valid', token: await issuer.mint({ sub: `user-${i}` }, { kid }) });
    }
    const [header, , signature] = (cases[0] as TokenCase).token.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ iss: issuer.issuer, sub: 'mallory', aud: TEST_AUDIENCE }),
    ).toString('base64url');
    cases.push({ kind: 'bad-signature', token: `${header}.${forgedPayload}.${signature}` });
    cases.push({ kind: 'expired', token: await issuer.mint({ sub: 'old' }, { expiresIn: -600 }) });

    const ours = (token: string) => authenticator.authenticate(token, [provider]);
    const jose = (token: string) =>
      jwtVerify(token, localJwks, {
        issuer: issuer.issuer,
        audience: TEST_AUDIENCE,
        algorithms: [alg],
      });
    const floor = (token: string): boolean => {
      const [h = '', p = '', s = ''] = token.split('.');
      const { kid } = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { kid?: string };
      const key = kid === undefined ? undefined : floorKeys.get(kid);
      if (key === undefined) return false;
      const data = Buffer.from(`${h}.${p}`);
      const sig = Buffer.from(s, 'base64url');
      return alg === 'ES256'
        ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig)
        : verify('sha256', data, key, sig);
    };
    const accepts = async (run: () => Promise<unknown>): Promise<boolean> => {
      try {
        await run();
        return true;
      } catch {
        return false;
      }
    };

    let asserted = 0;
    for (const { kind, token } of cases) {
      const got = {
        ours: await accepts(() => ours(token)),
        jose: await accepts(() => jose(token)),
        floor: floor(token),
      };
      const want = EXPECTED[kind];
      if (got.ours !== got.jose || got.ours !== want.ours || got.floor !== want.floor) {
        throw new Error(
          `decision mismatch for ${alg}/${keyCount} keys, ${kind} token: ${JSON.stringify(got)}`,
        );
      }
      asserted += 3;
    }
    // One fetch for the local JWKS above, one by our store on its first token; none after.
    const fetchesWhenWarm = issuer.jwksRequests();

    const valid = cases.filter((c) => c.kind === 'valid').map((c) => c.token);
    const pick = (i: number) => valid[i % valid.length] as string;
    const variants: Variant[] = [
      { name: 'ours', op: (i) => ours(pick(i)) },
      { name: 'jose', op: (i) => jose(pick(i)) },
      { name: 'floor', op: async (i) => floor(pick(i)) },
    ];
    const samples = await interleaved(variants, {
      warmupOps: WARMUP_OPS,
      rounds: ROUNDS,
      opsPerRound: OPS_PER_ROUND,
    });
    if (issuer.jwksRequests() !== fetchesWhenWarm) {
      throw new Error('the JWKS was fetched again while timing: the benchmark was not warm');
    }
    const ops = (name: string) => samples.get(name)?.opsPerSec ?? [];
    const perRound = (a: string, b: string) => ops(a).map((x, r) => x / (ops(b)[r] as number));
    const paired = (a: string, b: string) => round(median(perRound(a, b)), 3);
    const firstKey = jwks.keys[0];
    const count = (kind: Kind) => cases.filter((c) => c.kind === kind).length;
    return {
      alg,
      keysInJwks: keyCount,
      ...(alg === 'RS256' && typeof firstKey?.n === 'string'
        ? { rsaModulusBits: Buffer.from(firstKey.n, 'base64url').length * 8 }
        : {}),
      tokens: {
        valid: count('valid'),
        'bad-signature': count('bad-signature'),
        expired: count('expired'),
      },
      decisionsAsserted: asserted,
      variants: {
        ours: summarize(samples.get('ours') as never),
        jose: summarize(samples.get('jose') as never),
        floor: summarize(samples.get('floor') as never),
      },
      ratioOursToJose: paired('ours', 'jose'),
      ratioOursToJoseQuartiles: [
        round(quantile(perRound('ours', 'jose'), 0.25), 3),
        round(quantile(perRound('ours', 'jose'), 0.75), 3),
      ],
      ratioJoseToFloor: paired('jose', 'floor'),
      ratioOursToFloor: paired('ours', 'floor'),
    };
  } finally {
    await issuer.stop();
  }
}

export interface JwtResults {
  benchmark: 'jwt';
  method: Record<string, string | number>;
  target: { oursToJoseThroughput: number };
  cases: JwtCaseResult[];
}

export async function runJwtBench(log: (line: string) => void): Promise<Omit<JwtResults, never>> {
  const results: JwtCaseResult[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    for (const keys of [1, 5]) {
      const result = await runCase(alg, keys);
      const v = result.variants;
      log(
        `jwt ${alg} keys=${keys}: ours ${v.ours.opsPerSecMedian} ops/s, jose ${v.jose.opsPerSecMedian}, ` +
          `floor ${v.floor.opsPerSecMedian}; ours/jose ${(result.ratioOursToJose * 100).toFixed(1)} %`,
      );
      results.push(result);
    }
  }
  return {
    benchmark: 'jwt',
    method: {
      rounds: ROUNDS,
      opsPerRound: OPS_PER_ROUND,
      warmupOpsPerVariant: WARMUP_OPS,
      timedTokens: `the ${VALID_TOKENS} valid tokens, round-robin (spread over every JWKS key)`,
      decisions:
        'asserted before timing on valid, bad-signature (tampered payload) and expired tokens: ' +
        'ours and jose must agree with each other and with the expectation; the floor checks ' +
        'signatures only, so it must accept the expired token and reject the bad signature',
      ours: 'createOidcAuthenticator({stage:"local"}).authenticate(token, [provider]), JWKS warm',
      jose: 'jwtVerify(token, createLocalJWKSet(jwks), {issuer, audience, algorithms})',
      floor:
        'split + JSON.parse(header) + Map lookup by kid + crypto.verify(sha256) with a KeyObject',
      opsPerSec: 'median over rounds of (ops in the round / wall time of the round)',
      ratio: 'median over rounds of the per-round ops/s ratio (rounds are interleaved A/B)',
      latency: 'performance.now() around each awaited operation; median and p99 over all rounds',
    },
    target: { oursToJoseThroughput: JWT_TARGET_RATIO },
    cases: results,
  };
}
