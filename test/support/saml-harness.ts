/**
 * The SAML function with its real middleware stack, the real response validation, decide and
 * page rendering; STS mocked (to count calls), login state and audit in memory, the clock fixed
 * at the fixtures' T0 + 60 s. One place every SAML route-level test drives.
 */
import { AssumeRoleCommand, AssumeRoleWithSAMLCommand, STSClient } from '@aws-sdk/client-sts';
import { expect } from 'vitest';
import { withHttpStack } from '#functions/http/middleware.ts';
import { type SamlDeps, samlRoute } from '#functions/saml/route.ts';
import type { AuditRecord, AuditSink } from '#shared/audit/audit.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import { MemoryDenyList, MemoryRateLimiter, MemorySamlStateStore } from './memory-guards.ts';
import { SAML_TEST, samlConfig } from './saml-config.ts';
import { STS_ANSWER, stsMock } from './vend-harness.ts';

export {
  encode,
  fixtureText,
  SAML_FIXTURES,
  SAML_TEST,
  samlConfig,
} from './saml-config.ts';

export interface SamlCall {
  method?: 'GET' | 'POST';
  path: string;
  form?: Record<string, string>;
  query?: Record<string, string>;
  cookie?: string;
  /** A raw body, instead of `form`. */
  body?: string;
}

export interface SamlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  requestId: string;
}

export interface SamlHarness {
  deps: SamlDeps;
  state: MemorySamlStateStore;
  audits: AuditRecord[];
  config: TvmConfig;
  denyList: MemoryDenyList;
  federationCalls: URL[];
  call(call: SamlCall): Promise<SamlResult>;
  /** POST a base64 SAMLResponse (and RelayState) to the ACS, from the seeded login's browser. */
  postResponse(encoded: string, relayState?: string, cookie?: string): Promise<SamlResult>;
  /** Registers the fixtures' AuthnRequest id as pending, with this RelayState and target. */
  seedLogin(options?: {
    relayState?: string;
    target?: 'console' | 'credentials';
    id?: string;
  }): Promise<string>;
  stsCalls(): number;
}

/** The RelayState every seeded login uses: the shape our login route hands out. */
export const SEEDED_RELAY_STATE = 'r'.repeat(43);
/** The login cookie of the browser every seeded login was started from. */
export const SEEDED_BROWSER = 'b'.repeat(43);

let counter = 0;

export function startSamlHarness(
  options: {
    provider?: Record<string, unknown>;
    mappings?: Record<string, unknown>[];
    now?: Date;
    federation?: (url: URL) => Response | Promise<Response>;
    /** A real STS (moto) instead of the mock; the mock is then removed for this test file. */
    stsEndpoint?: string;
  } = {},
): SamlHarness {
  if (options.stsEndpoint === undefined) {
    stsMock.reset();
    stsMock.on(AssumeRoleCommand).resolves(STS_ANSWER);
    stsMock.on(AssumeRoleWithSAMLCommand).resolves(STS_ANSWER);
  } else {
    stsMock.restore();
  }
  const validated = validateConfig(samlConfig(options.provider, options.mappings), {
    stage: 'local',
    now: options.now ?? new Date(SAML_TEST.t0.getTime() + 60_000),
  });
  if (!validated.ok)
    throw new Error(`SAML harness config invalid: ${JSON.stringify(validated.problems)}`);
  const config = validated.config;
  const audits: AuditRecord[] = [];
  const audit: AuditSink = {
    async write(record) {
      audits.push(record);
    },
  };
  const state = new MemorySamlStateStore();
  const denyList = new MemoryDenyList();
  const federationCalls: URL[] = [];
  const now = options.now ?? new Date(SAML_TEST.t0.getTime() + 60_000);
  const silent = { info() {}, warn() {}, error() {} };
  const deps: SamlDeps = {
    core: createIssueDeps({
      logger: silent,
      overrides: {
        config: {
          async require() {
            return {
              generation: 1,
              hash: configHash(config),
              createdAt: '',
              createdBy: '',
              config,
            };
          },
        },
        sts:
          options.stsEndpoint === undefined
            ? new STSClient({ region: 'us-east-1', maxAttempts: 1 })
            : new STSClient({
                endpoint: options.stsEndpoint,
                region: 'eu-west-1',
                credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
              }),
        audit,
        guard: createAccessGuard(denyList, new MemoryRateLimiter()),
        reuse: undefined,
        vend: { timeoutMs: 1_000, maxAttempts: 1, backoffBaseMs: 0 },
        logger: silent,
        now: () => now,
      },
    }),
    state,
    baseUrl: SAML_TEST.baseUrl,
    federation: {
      url: 'https://signin.aws.amazon.com/federation',
      timeoutMs: 1_000,
      fetch: (async (input: string | URL | Request) => {
        const url = new URL(String(input));
        federationCalls.push(url);
        if (options.federation !== undefined) return options.federation(url);
        return Response.json({ SigninToken: 'test-signin-token' });
      }) as typeof fetch,
    },
    secureCookies: true,
  };
  const handler = withHttpStack(samlRoute(deps));
  async function call(request: SamlCall): Promise<SamlResult> {
    counter += 1;
    const requestId = `saml-req-${counter}`;
    const headers: Record<string, string> = {};
    let body = request.body;
    if (request.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(request.form).toString();
    } else if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (request.cookie !== undefined) headers.cookie = request.cookie;
    const event = httpEvent({
      method: request.method ?? 'POST',
      path: request.path,
      headers,
      requestId,
      ...(body === undefined ? {} : { body }),
      ...(request.query === undefined ? {} : { query: request.query }),
    });
    const result = await handler(event, fakeContext());
    if (typeof result === 'string') throw new Error('unexpected string result');
    return {
      status: result.statusCode ?? 200,
      headers: (result.headers ?? {}) as Record<string, string>,
      body: result.body ?? '',
      requestId,
    };
  }
  return {
    deps,
    state,
    audits,
    config,
    denyList,
    federationCalls,
    call,
    postResponse: (
      encoded,
      relayState = SEEDED_RELAY_STATE,
      cookie = `tvm_login=${SEEDED_BROWSER}`,
    ) =>
      call({
        path: `/v1/saml/${SAML_TEST.provider}/acs`,
        form: { SAMLResponse: encoded, ...(relayState === '' ? {} : { RelayState: relayState }) },
        ...(cookie === '' ? {} : { cookie }),
      }),
    async seedLogin(seed = {}) {
      const { sha256Hex } = await import('#shared/saml/state.ts');
      const id = seed.id ?? SAML_TEST.requestId;
      await state.saveLogin(id, {
        provider: SAML_TEST.provider,
        target: seed.target ?? 'credentials',
        relayStateHash: sha256Hex(seed.relayState ?? SEEDED_RELAY_STATE),
        browserHash: sha256Hex(SEEDED_BROWSER),
        expiresAt: Math.floor(now.getTime() / 1000) + 600,
      });
      return id;
    },
    stsCalls: () =>
      stsMock.commandCalls(AssumeRoleCommand).length +
      stsMock.commandCalls(AssumeRoleWithSAMLCommand).length,
  };
}

/**
 * What every SAML rejection must show: the status, the generic HTML error page (no reason, with
 * the request id), zero STS calls, and exactly one audit record carrying the reason.
 */
export function expectSamlRejection(
  harness: SamlHarness,
  result: SamlResult,
  expected: { status: number; reason: string },
): void {
  expect(result.status).toBe(expected.status);
  expect(result.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(result.headers['cache-control']).toBe('no-store');
  expect(result.body).toContain('<h1>Sign-in failed</h1>');
  expect(result.body).toContain(result.requestId);
  expect(result.body).not.toContain(expected.reason);
  expect(result.headers.location).toBeUndefined();
  expect(harness.stsCalls()).toBe(0);
  expect(harness.audits).toHaveLength(1);
  expect(harness.audits[0]).toMatchObject({
    reason: expected.reason,
    requestId: result.requestId,
    outcome: expect.stringMatching(/denied|error/),
  });
}
