/**
 * The Cognito-compatible route with its real middleware stack, the real OIDC authenticator against
 * two real issuers on loopback (one per pool), the real core, a mocked STS (shared with the vend
 * harness) and in-memory audit, guards and identity store.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { expect } from 'vitest';
import { cognitoIdentityRoute } from '#functions/cognito-identity/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import type { AuditRecord, AuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { defaultLoginsKey } from '#shared/cognito/pools.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import { harnessConfig } from './local-config.ts';
import { MemoryDenyList, MemoryRateLimiter } from './memory-guards.ts';
import { MemoryIdentityStore } from './memory-identity-store.ts';
import { startTestIssuer, TEST_AUDIENCE, type TestIssuer } from './oidc-issuer.ts';
import { STS_ANSWER, stsMock } from './vend-harness.ts';

export { STS_ANSWER, stsMock };

/** The pool apps of the `mobile` provider use. */
export const POOL_ID = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
/** A second pool, accepting only the `partner` provider (another issuer). */
export const PARTNER_POOL_ID = 'eu-west-1:1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516';
/** A third pool that also accepts `mobile`, restricted to the `reader` mapping. */
/** The Logins key of the `web` provider in POOL_ID (an override: it shares mobile's issuer). */
export const WEB_LOGINS_KEY = 'login.web.example';
export const READER_POOL_ID = 'us-east-1:2c3d4e5f-6071-4829-8b1c-d2e3f4051627';
/** A pool that takes guests (provider `mobile-guests`) as well as `mobile` logins. */
export const GUEST_POOL_ID = 'eu-west-1:3d4e5f60-7182-493a-9c2d-e3f405162738';
export const GUEST_ROLE = 'arn:aws:iam::123456789012:role/tvm/guest';
/** The guest pool's limits: new guests per source IP and per pool, and credentials per guest. */
export const GUEST_LIMITS = { perSourceIp: 4, perPool: 6, perIdentity: 3 } as const;

export interface CognitoCall {
  /** POST unless a test sends another method (which must be refused). */
  method?: string;
  target?: string | null;
  contentType?: string | null;
  /** A JSON value (serialized) or a raw string body. */
  body?: unknown;
  raw?: string;
  path?: string;
  /** The client address API Gateway saw (default 192.0.2.10). */
  sourceIp?: string;
}

export interface CognitoResult {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  raw: string;
}

export interface CognitoHarness {
  issuer: TestIssuer;
  partner: TestIssuer;
  /** The Logins key of the `mobile` provider (its issuer without the scheme). */
  mobileKey: string;
  partnerKey: string;
  audits: AuditRecord[];
  config: TvmConfig;
  denyList: MemoryDenyList;
  identities: MemoryIdentityStore;
  /** A valid Cognito-style ID token of the `mobile` issuer. */
  mint(claims?: Record<string, unknown>): Promise<string>;
  call(call: CognitoCall): Promise<CognitoResult>;
  getId(logins: Record<string, string>, poolId?: string): Promise<CognitoResult>;
  /** GetId without Logins (a new guest of GUEST_POOL_ID unless another pool is named). */
  guestId(options?: { poolId?: string; sourceIp?: string }): Promise<CognitoResult>;
  credentials(
    identityId: string,
    logins: Record<string, string>,
    extra?: Record<string, unknown>,
  ): Promise<CognitoResult>;
  stop(): Promise<void>;
}

let counter = 0;

export function cognitoConfig(issuer: TestIssuer, partner: TestIssuer): unknown {
  const base = harnessConfig(issuer) as {
    providers: Record<string, unknown>[];
    mappings: Record<string, unknown>[];
  };
  return {
    ...base,
    providers: [
      ...base.providers,
      // The same issuer under another app client, with its own Logins key.
      {
        id: 'web',
        type: 'oidc',
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        audiences: ['web-client'],
      },
      {
        id: 'partner',
        type: 'oidc',
        issuer: partner.issuer,
        jwksUri: partner.jwksUri,
        audiences: [TEST_AUDIENCE],
      },
      {
        id: 'mobile-guests',
        type: 'guest',
        rateLimits: { perPrincipal: { limit: GUEST_LIMITS.perIdentity, windowSeconds: 60 } },
      },
    ],
    mappings: [
      ...base.mappings,
      {
        id: 'partner-user',
        provider: 'partner',
        priority: 10,
        match: { claim: 'sub', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/partner',
        durationSeconds: 900,
      },
      {
        id: 'guest',
        provider: 'mobile-guests',
        priority: 0,
        match: { claim: 'sub', op: 'exists' },
        roleArn: GUEST_ROLE,
        durationSeconds: 900,
        sessionPolicy: {
          Version: '2012-10-17',
          Statement: {
            Effect: 'Allow',
            Action: 's3:GetObject',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, on purpose
            Resource: 'arn:aws:s3:::shop-assets/guests/${aws:PrincipalTag/cognito-identity-id}/*',
          },
        },
      },
    ],
    identityPools: [
      {
        id: POOL_ID,
        providers: [{ provider: 'mobile' }, { provider: 'web', loginsKey: WEB_LOGINS_KEY }],
      },
      { id: PARTNER_POOL_ID, providers: [{ provider: 'partner' }] },
      { id: READER_POOL_ID, providers: [{ provider: 'mobile' }], mappings: ['reader'] },
      {
        id: GUEST_POOL_ID,
        providers: [{ provider: 'mobile' }],
        guests: {
          provider: 'mobile-guests',
          getIdLimits: {
            perSourceIp: { limit: GUEST_LIMITS.perSourceIp, windowSeconds: 60 },
            perPool: { limit: GUEST_LIMITS.perPool, windowSeconds: 60 },
          },
        },
      },
    ],
  };
}

export async function startCognitoHarness(): Promise<CognitoHarness> {
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).resolves(STS_ANSWER);
  const issuer = await startTestIssuer();
  const partner = await startTestIssuer();
  const validated = validateConfig(cognitoConfig(issuer, partner), { stage: 'local' });
  if (!validated.ok)
    throw new Error(`cognito config invalid: ${JSON.stringify(validated.problems)}`);
  const config = validated.config;
  const audits: AuditRecord[] = [];
  const audit: AuditSink = {
    async write(record) {
      audits.push(record);
    },
  };
  const denyList = new MemoryDenyList();
  const identities = new MemoryIdentityStore();
  const silent = { info() {}, warn() {}, error() {} };
  const generation = {
    generation: 1,
    hash: configHash(config),
    createdAt: '',
    createdBy: '',
    config,
  };
  const deps = createIssueDeps({
    logger: silent,
    overrides: {
      config: { require: async () => generation },
      sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
      audit,
      guard: createAccessGuard(denyList, new MemoryRateLimiter()),
      reuse: undefined,
      vend: { timeoutMs: 1_000, maxAttempts: 2, backoffBaseMs: 0 },
      logger: silent,
      now: () => new Date(),
    },
  });
  const handler = withHttpStack(
    cognitoIdentityRoute({
      issue: deps,
      identities,
      authenticator: createOidcAuthenticator({ stage: 'local' }),
      limiter: new MemoryRateLimiter(),
    }),
  );

  const call = async (options: CognitoCall): Promise<CognitoResult> => {
    counter += 1;
    const headers: Record<string, string> = {};
    const target =
      options.target === undefined ? 'AWSCognitoIdentityService.GetId' : options.target;
    if (target !== null) headers['x-amz-target'] = target;
    const contentType =
      options.contentType === undefined ? 'application/x-amz-json-1.1' : options.contentType;
    if (contentType !== null) headers['content-type'] = contentType;
    const body =
      options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const event = httpEvent({
      method: options.method ?? 'POST',
      path: options.path ?? '/v1/cognito-identity/',
      headers,
      requestId: `cog-${counter}`,
      ...(options.sourceIp === undefined ? {} : { sourceIp: options.sourceIp }),
      ...(body === undefined ? {} : { body }),
    });
    const result = await handler(event, fakeContext());
    const raw = typeof result === 'string' ? result : (result.body ?? '');
    return {
      status: typeof result === 'string' ? 200 : (result.statusCode ?? 200),
      headers: (typeof result === 'string' ? {} : (result.headers ?? {})) as Record<string, string>,
      body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>),
      raw,
    };
  };

  return {
    issuer,
    partner,
    mobileKey: defaultLoginsKey(issuer.issuer),
    partnerKey: defaultLoginsKey(partner.issuer),
    audits,
    config,
    denyList,
    identities,
    mint: (claims = {}) => issuer.mint({ token_use: 'id', tenant: 'acme', ...claims }),
    call,
    getId: (logins, poolId = POOL_ID) =>
      call({
        target: 'AWSCognitoIdentityService.GetId',
        body: { IdentityPoolId: poolId, Logins: logins },
      }),
    guestId: ({ poolId = GUEST_POOL_ID, sourceIp } = {}) =>
      call({
        target: 'AWSCognitoIdentityService.GetId',
        body: { IdentityPoolId: poolId },
        ...(sourceIp === undefined ? {} : { sourceIp }),
      }),
    credentials: (identityId, logins, extra = {}) =>
      call({
        target: 'AWSCognitoIdentityService.GetCredentialsForIdentity',
        body: { IdentityId: identityId, Logins: logins, ...extra },
      }),
    async stop() {
      await issuer.stop();
      await partner.stop();
    },
  };
}

/**
 * What every refusal must show: the error name in the header and in `__type`, the status, no
 * STS call, exactly one audit record (for this request) with the reason, and no token in it.
 */
export function expectCognitoError(
  harness: CognitoHarness,
  result: CognitoResult,
  expected: { name: string; reason: string; status?: number; auditsBefore?: number },
): void {
  expect(result.status).toBe(expected.status ?? 400);
  expect(result.headers['x-amzn-errortype']).toBe(expected.name);
  expect(result.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(result.body).toEqual({ __type: expected.name, message: expect.any(String) });
  expect(String(result.body.message)).not.toMatch(/eyJ/);
  expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  const records = harness.audits.slice(expected.auditsBefore ?? 0);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({
    reason: expected.reason,
    outcome: expect.stringMatching(/denied|error/),
  });
  expect(JSON.stringify(records[0])).not.toMatch(/eyJ/);
}
