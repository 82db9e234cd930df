/**
 * The terminal login in-process: the SAML function (for `target=cli` at /login and /acs) and the
 * login function, each with its real middleware stack, sharing one core, one login store, one deny
 * list and one clock that tests move. STS mocked (to count calls); state and audit in memory.
 */
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { AssumeRoleCommand, AssumeRoleWithSAMLCommand, STSClient } from '@aws-sdk/client-sts';
import { expect } from 'vitest';
import { withHttpStack } from '#functions/http/middleware.ts';
import { type LoginDeps, loginRoute } from '#functions/login/route.ts';
import { type SamlDeps, samlRoute } from '#functions/saml/route.ts';
import type { AuditRecord, AuditSink } from '#shared/audit/audit.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import type { Log } from '#shared/log.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { parseXml } from '#shared/xml/dom.ts';
import { buildValidResponse, shiftedTimes } from '../../scripts/saml/fixture-builder.ts';
import { type CliPkce, cliPkce } from './cli-pkce.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import { MemoryDenyList, MemoryRateLimiter, MemorySamlStateStore } from './memory-guards.ts';
import { MemoryLoginStore } from './memory-login-store.ts';
import { encode, SAML_TEST, samlConfig } from './saml-config.ts';
import { STS_ANSWER, stsMock } from './vend-harness.ts';

export { type CliPkce, cliPkce, SAML_TEST };

export interface HttpCall {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  sourceIp?: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body as JSON, when it is JSON. */
  json: Record<string, unknown>;
  requestId: string;
}

export interface StartedLogin {
  /** The AuthnRequest id the IdP answers (InResponseTo). */
  authnRequestId: string;
  relayState: string;
  /** `tvm_login=<value>`, the browser-binding cookie. */
  cookie: string;
}

export interface LoginHarness {
  saml: SamlDeps;
  login: LoginDeps;
  store: MemoryLoginStore;
  state: MemorySamlStateStore;
  denyList: MemoryDenyList;
  audits: AuditRecord[];
  config: TvmConfig;
  clock: { now: Date };
  advance(seconds: number): void;
  /** Applies another config (as `tvm config apply` would) from the next request on. */
  reconfigure(options: {
    provider?: Record<string, unknown>;
    mappings?: Record<string, unknown>[];
    providers?: Record<string, unknown>[];
    accounts?: Record<string, unknown>;
  }): void;
  call(call: HttpCall): Promise<HttpAnswer>;
  /** GET /v1/saml/corp/login with these query parameters. */
  start(query: Record<string, string>): Promise<HttpAnswer>;
  /** A started target=cli login, as the browser holds it. */
  startCli(pkce: CliPkce): Promise<StartedLogin>;
  /** The IdP's signed answer to `started`, posted from the browser (its cookie unless told). */
  postAcs(
    started: StartedLogin,
    options?: { cookie?: string; nameId?: string; groups?: string[] },
  ): Promise<HttpAnswer>;
  /** Start ▸ ACS ▸ the code on the loopback (asserting each step went through). */
  code(pkce: CliPkce, options?: { nameId?: string }): Promise<string>;
  token(form: Record<string, string>): Promise<HttpAnswer>;
  /** A whole login: the session handle. */
  session(pkce?: CliPkce, options?: { nameId?: string }): Promise<string>;
  roles(handle: string): Promise<HttpAnswer>;
  credentials(handle: string, body: Record<string, unknown>): Promise<HttpAnswer>;
  logout(handle: string): Promise<HttpAnswer>;
  stsCalls(): number;
}

let counter = 0;

export function startLoginHarness(
  options: {
    provider?: Record<string, unknown>;
    mappings?: Record<string, unknown>[];
    /** Extra providers after the SAML one (e.g. a second IdP). */
    providers?: Record<string, unknown>[];
    /** The top-level `accounts` (aliases the portal shows). */
    accounts?: Record<string, unknown>;
    logger?: Log;
  } = {},
): LoginHarness {
  stsMock.reset();
  stsMock.on(AssumeRoleCommand).resolves(STS_ANSWER);
  stsMock.on(AssumeRoleWithSAMLCommand).resolves(STS_ANSWER);
  const clock = { now: new Date(SAML_TEST.t0.getTime() + 60_000) };
  const build = (given: typeof options) => {
    const raw = samlConfig(given.provider, given.mappings) as { providers: unknown[] };
    raw.providers.push(...(given.providers ?? []));
    if (given.accounts !== undefined) (raw as Record<string, unknown>).accounts = given.accounts;
    const validated = validateConfig(raw, { stage: 'local', now: clock.now });
    if (!validated.ok) {
      throw new Error(`login harness config invalid: ${JSON.stringify(validated.problems)}`);
    }
    const built = validated.config;
    return { generation: 1, hash: configHash(built), createdAt: '', createdBy: '', config: built };
  };
  let generation = build(options);
  const { config } = generation;
  const audits: AuditRecord[] = [];
  const audit: AuditSink = {
    async write(record) {
      audits.push(record);
      logger.info('audit', { audit: record });
    },
  };
  const logger: Log = options.logger ?? { info() {}, warn() {}, error() {} };
  const denyList = new MemoryDenyList();
  const state = new MemorySamlStateStore();
  const store = new MemoryLoginStore();
  const core = createIssueDeps({
    logger,
    overrides: {
      config: {
        async require() {
          return generation;
        },
      },
      sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
      audit,
      guard: createAccessGuard(denyList, new MemoryRateLimiter()),
      reuse: undefined,
      vend: { timeoutMs: 1_000, maxAttempts: 1, backoffBaseMs: 0 },
      logger,
      now: () => clock.now,
    },
  });
  const saml: SamlDeps = {
    core,
    state,
    login: store,
    baseUrl: SAML_TEST.baseUrl,
    federation: { url: 'https://signin.aws.amazon.com/federation', timeoutMs: 1_000 },
    secureCookies: true,
  };
  const login: LoginDeps = { core, store };
  const samlHandler = withHttpStack(samlRoute(saml));
  const loginHandler = withHttpStack(loginRoute(login));

  async function call(request: HttpCall): Promise<HttpAnswer> {
    counter += 1;
    const requestId = `login-req-${counter}`;
    const event = httpEvent({
      method: request.method,
      path: request.path,
      requestId,
      headers: request.headers ?? {},
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.query === undefined ? {} : { query: request.query }),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    const handler = request.path.startsWith('/v1/login/') ? loginHandler : samlHandler;
    const result = await handler(event, fakeContext());
    if (typeof result === 'string') throw new Error('unexpected string result');
    const body = result.body ?? '';
    let json: Record<string, unknown> = {};
    try {
      json = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
    } catch {
      json = {};
    }
    return {
      status: result.statusCode ?? 200,
      headers: (result.headers ?? {}) as Record<string, string>,
      body,
      json,
      requestId,
    };
  }

  const start = (query: Record<string, string>) =>
    call({ method: 'GET', path: `/v1/saml/${SAML_TEST.provider}/login`, query });

  async function startCli(pkce: CliPkce): Promise<StartedLogin> {
    const started = await start({
      target: 'cli',
      redirect_uri: pkce.redirectUri,
      state: pkce.state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    });
    expect(started.status, started.body).toBe(302);
    const location = new URL(started.headers.location ?? '');
    const request = inflateRawSync(
      Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    return {
      authnRequestId: parseXml(request).documentElement.getAttribute('ID') ?? '',
      relayState: location.searchParams.get('RelayState') ?? '',
      cookie: (started.headers['set-cookie'] ?? '').split(';')[0] ?? '',
    };
  }

  async function postAcs(
    started: StartedLogin,
    acs: { cookie?: string; nameId?: string; groups?: string[] } = {},
  ): Promise<HttpAnswer> {
    const secondsSinceT0 = Math.floor((clock.now.getTime() - SAML_TEST.t0.getTime()) / 1000) - 60;
    const response = buildValidResponse({
      ...shiftedTimes(secondsSinceT0),
      inResponseTo: started.authnRequestId,
      // A fresh assertion id per login: the replay cache would refuse the fixture's twice.
      assertionId: `_assert-${randomBytes(8).toString('hex')}`,
      ...(acs.nameId === undefined ? {} : { nameId: acs.nameId }),
      ...(acs.groups === undefined
        ? {}
        : {
            attributes: {
              email: ['alice@corp.example'],
              groups: acs.groups,
              department: ['engineering'],
            },
          }),
    });
    const cookie = acs.cookie ?? started.cookie;
    return call({
      method: 'POST',
      path: `/v1/saml/${SAML_TEST.provider}/acs`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie === '' ? {} : { cookie }),
      },
      body: new URLSearchParams({
        SAMLResponse: encode(response),
        RelayState: started.relayState,
      }).toString(),
    });
  }

  async function code(pkce: CliPkce, codeOptions: { nameId?: string } = {}): Promise<string> {
    const started = await startCli(pkce);
    const answered = await postAcs(started, codeOptions);
    expect(answered.status, answered.body).toBe(302);
    const location = new URL(answered.headers.location ?? '');
    expect(location.searchParams.get('state')).toBe(pkce.state);
    return location.searchParams.get('code') ?? '';
  }

  const token = (form: Record<string, string>) =>
    call({
      method: 'POST',
      path: '/v1/login/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });

  const bearer = (handle: string) => ({ authorization: `Bearer ${handle}` });

  return {
    saml,
    login,
    store,
    state,
    denyList,
    audits,
    config,
    clock,
    advance(seconds) {
      clock.now = new Date(clock.now.getTime() + seconds * 1000);
    },
    reconfigure(given) {
      generation = { ...build(given), generation: generation.generation + 1 };
    },
    call,
    start,
    startCli,
    postAcs,
    code,
    token,
    async session(pkce = cliPkce(), sessionOptions = {}) {
      const issued = await code(pkce, sessionOptions);
      const answer = await token({
        grant_type: 'authorization_code',
        code: issued,
        code_verifier: pkce.verifier,
        redirect_uri: pkce.redirectUri,
      });
      expect(answer.status, answer.body).toBe(200);
      return String(answer.json.session);
    },
    roles: (handle) => call({ method: 'GET', path: '/v1/login/roles', headers: bearer(handle) }),
    credentials: (handle, body) =>
      call({
        method: 'POST',
        path: '/v1/login/credentials',
        headers: { ...bearer(handle), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    logout: (handle) =>
      call({ method: 'DELETE', path: '/v1/login/session', headers: bearer(handle) }),
    stsCalls: () =>
      stsMock.commandCalls(AssumeRoleCommand).length +
      stsMock.commandCalls(AssumeRoleWithSAMLCommand).length,
  };
}

/** The audit records written since `from` (an index into `audits`). */
export function auditsSince(harness: LoginHarness, from: number): AuditRecord[] {
  return harness.audits.slice(from);
}

/**
 * A refused step: its status, no STS call since `from`, exactly one audit record since `from`
 * with the reason, and nothing secret in that record.
 */
export function expectRefused(
  harness: LoginHarness,
  answer: HttpAnswer,
  from: { audits: number; sts: number },
  expected: { status: number; reason: string; body?: unknown },
): void {
  expect(answer.status, answer.body).toBe(expected.status);
  if (expected.body !== undefined) expect(answer.json).toEqual(expected.body);
  // The reason stays private, except where the protocol names it (RFC 6749 `unsupported_grant_type`).
  if (!JSON.stringify(expected.body ?? '').includes(expected.reason)) {
    expect(answer.body).not.toContain(expected.reason);
  }
  expect(answer.headers.location).toBeUndefined();
  expect(harness.stsCalls() - from.sts).toBe(0);
  const written = auditsSince(harness, from.audits);
  expect(written, JSON.stringify(written)).toHaveLength(1);
  expect(written[0]).toMatchObject({
    reason: expected.reason,
    requestId: answer.requestId,
    outcome: expect.stringMatching(/denied|error/),
  });
}

/** Where the counters stand before a step. */
export function mark(harness: LoginHarness): { audits: number; sts: number } {
  return { audits: harness.audits.length, sts: harness.stsCalls() };
}
