/**
 * The credentials route with its real middleware stack, the real OIDC authenticator against a
 * real issuer on loopback, the real decide(), a mocked STS (to count calls and assert inputs)
 * and an in-memory audit sink. One place that every route-level test drives.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'vitest';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import type { AuditRecord, AuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import { ConfigMissingError } from '#shared/errors.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import type { Metrics } from '#shared/metrics.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import { harnessConfig } from './local-config.ts';
import { MemoryDenyList, MemoryRateLimiter } from './memory-guards.ts';
import { startTestIssuer, type TestIssuer } from './oidc-issuer.ts';

export const stsMock = mockClient(STSClient);

export const STS_ANSWER = {
  Credentials: {
    AccessKeyId: 'ASIATESTACCESSKEY',
    SecretAccessKey: 'test-secret-access-key',
    SessionToken: 'test-session-token',
    Expiration: new Date('2030-01-01T01:00:00Z'),
  },
  AssumedRoleUser: {
    Arn: 'arn:aws:sts::123456789012:assumed-role/reader/session',
    AssumedRoleId: 'AROATEST:session',
  },
};

export { harnessConfig };

export interface CallOptions {
  /** POST by default; any other method than GET or POST must be refused. */
  method?: string;
  /** A token, sent as `Bearer <token>`. */
  token?: string;
  /** The raw Authorization header, when a test needs a malformed one. */
  authorization?: string;
  body?: string;
  /** The body's Content-Type: `application/json` when a body is sent, none when `null`. */
  contentType?: string | null;
  query?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  raw: string;
}

export interface Harness {
  issuer: TestIssuer;
  audits: AuditRecord[];
  config: TvmConfig;
  denyList: MemoryDenyList;
  rateLimiter: MemoryRateLimiter;
  /** A valid Cognito-style ID token for the harness provider, with extra claims. */
  mint(claims?: Record<string, unknown>): Promise<string>;
  call(options: CallOptions): Promise<CallResult>;
  /** Makes the next audit writes fail (to prove fail-closed). */
  failAudits(fail: boolean): void;
  stop(): Promise<void>;
}

let counter = 0;

export async function startHarness(
  options: {
    config?: (issuer: TestIssuer) => unknown;
    withoutConfig?: boolean;
    /** Makes every config read fail with this error (DynamoDB unreachable, damaged generation). */
    configError?: Error;
    /** Give the deps a credential reuse cache (mappings still have to opt in). */
    reuseCache?: boolean;
    /** Where the core counts (a recording fake, or the real Powertools adapter). */
    metrics?: Metrics;
  } = {},
): Promise<Harness> {
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).resolves(STS_ANSWER);
  const issuer = await startTestIssuer();
  const validated = validateConfig((options.config ?? harnessConfig)(issuer), { stage: 'local' });
  if (!validated.ok)
    throw new Error(`harness config invalid: ${JSON.stringify(validated.problems)}`);
  const config = validated.config;
  const audits: AuditRecord[] = [];
  const denyList = new MemoryDenyList();
  const rateLimiter = new MemoryRateLimiter();
  let auditFails = false;
  const audit: AuditSink = {
    async write(record) {
      if (auditFails) throw new Error('DynamoDB unavailable');
      audits.push(record);
    },
  };
  const silent = { info() {}, warn() {}, error() {} };
  // Like the production cache within its TTL: the generation is built once, not per request.
  const generation = {
    generation: 1,
    hash: configHash(config),
    createdAt: '',
    createdBy: '',
    config,
  };
  const deps: IssueDeps = createIssueDeps({
    logger: silent,
    metrics: options.metrics,
    overrides: {
      config: {
        async require() {
          if (options.withoutConfig === true) throw new ConfigMissingError();
          if (options.configError !== undefined) throw options.configError;
          return generation;
        },
      },
      sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
      audit,
      guard: createAccessGuard(denyList, rateLimiter),
      reuse:
        options.reuseCache === true ? new CredentialReuseCache({ maxEntries: 100 }) : undefined,
      vend: { timeoutMs: 1_000, maxAttempts: 2, backoffBaseMs: 0 },
      logger: silent,
      now: () => new Date(),
    },
  });
  const handler = withHttpStack(
    credentialsRoute(deps, createOidcAuthenticator({ stage: 'local' })),
  );

  return {
    issuer,
    audits,
    config,
    denyList,
    rateLimiter,
    mint: (claims = {}) => issuer.mint({ token_use: 'id', tenant: 'acme', ...claims }),
    async call(call) {
      counter += 1;
      const headers: Record<string, string> = {};
      if (call.authorization !== undefined) headers.authorization = call.authorization;
      else if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
      const contentType =
        call.contentType === undefined && call.body !== undefined
          ? 'application/json'
          : call.contentType;
      if (typeof contentType === 'string') headers['content-type'] = contentType;
      const event = httpEvent({
        method: call.method ?? 'POST',
        path: '/v1/credentials',
        headers,
        requestId: `req-${counter}`,
        ...(call.body === undefined ? {} : { body: call.body }),
        ...(call.query === undefined ? {} : { query: call.query }),
      });
      const result = await handler(event, fakeContext());
      const raw = typeof result === 'string' ? result : (result.body ?? '');
      return {
        status: typeof result === 'string' ? 200 : (result.statusCode ?? 200),
        headers: (typeof result === 'string' ? {} : (result.headers ?? {})) as Record<
          string,
          string
        >,
        body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>),
        raw,
      };
    },
    failAudits(fail) {
      auditFails = fail;
    },
    stop: () => issuer.stop(),
  };
}

const GENERIC: Record<number, { type: string; title: string }> = {
  400: { type: 'urn:tvm:problem:bad-request', title: 'Bad Request' },
  401: { type: 'urn:tvm:problem:authentication', title: 'Unauthorized' },
  403: { type: 'urn:tvm:problem:forbidden', title: 'Forbidden' },
  405: { type: 'urn:tvm:problem:method-not-allowed', title: 'Method Not Allowed' },
  415: { type: 'urn:tvm:problem:unsupported-media-type', title: 'Unsupported Media Type' },
  429: { type: 'urn:tvm:problem:rate-limited', title: 'Too Many Requests' },
  413: { type: 'urn:tvm:problem:payload-too-large', title: 'Payload Too Large' },
  503: { type: 'urn:tvm:problem:upstream', title: 'Service Unavailable' },
};

/**
 * The four things every rejection must show: the status with its generic problem body (401 and
 * 403 carry no detail at all), zero STS calls, and exactly one audit record with the reason.
 */
export function expectRejection(
  harness: Harness,
  result: CallResult,
  expected: { status: number; reason: string },
): void {
  expect(result.status).toBe(expected.status);
  expect(result.headers['content-type']).toBe('application/problem+json');
  const generic = GENERIC[expected.status];
  if (expected.status === 401) expect(result.headers['www-authenticate']).toBe('Bearer');
  if ([401, 403, 429, 503].includes(expected.status)) {
    expect(result.body).toEqual({
      ...generic,
      status: expected.status,
      requestId: expect.any(String),
    });
  } else {
    expect(result.body).toMatchObject({ ...generic, status: expected.status });
  }
  expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  expect(harness.audits).toHaveLength(1);
  expect(harness.audits[0]).toMatchObject({
    reason: expected.reason,
    outcome: expect.stringMatching(/denied|error/),
  });
  expect(JSON.stringify(harness.audits[0])).not.toContain('test-secret-access-key');
}
