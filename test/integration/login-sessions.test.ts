/**
 * The terminal login against moto: the DynamoDB code and session store (single use under a race,
 * only hashes as keys, the principal index), and the whole flow through the real SAML and login
 * routes with DynamoDB state, config, guard and audit and moto's STS, ended by `tvm deny add`
 * and `tvm revoke` through runCli.
 */
import { inflateRawSync } from 'node:zlib';
import { STSClient } from '@aws-sdk/client-sts';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { withHttpStack } from '#functions/http/middleware.ts';
import { loginRoute } from '#functions/login/route.ts';
import { samlRoute } from '#functions/saml/route.ts';
import { DynamoLoginStore, type LoginSession, sha256Hex } from '#shared/login/store.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { DynamoSamlStateStore } from '#shared/saml/state.ts';
import { parseXml } from '#shared/xml/dom.ts';
import { defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { buildValidResponse } from '../../scripts/saml/fixture-builder.ts';
import { cliPkce } from '../support/cli-pkce.ts';
import { fakeContext, httpEvent } from '../support/lambda-fakes.ts';
import { applyConfig } from '../support/local-config.ts';
import { freshTable } from '../support/local-table.ts';
import { encode, SAML_TEST, samlConfig } from '../support/saml-config.ts';

type Table = Awaited<ReturnType<typeof freshTable>>;

const NOW = new Date(SAML_TEST.t0.getTime() + 60_000);
const ALICE = { issuer: SAML_TEST.idpEntityId, subject: 'alice@corp.example' };

function session(expiresAt: number, subject = ALICE.subject): LoginSession {
  return {
    provider: 'corp',
    issuer: ALICE.issuer,
    subject,
    claims: { sub: subject, groups: ['aws-readers'] },
    createdAt: NOW.toISOString(),
    expiresAt,
  };
}

async function scan(table: Table): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await table.documentClient.send(
    new ScanCommand({ TableName: table.tableName }),
  );
  return Items;
}

describe('DynamoLoginStore against moto', () => {
  let table: Table;
  let store: DynamoLoginStore;
  const nowSeconds = Math.floor(NOW.getTime() / 1000);

  beforeEach(async () => {
    table = await freshTable('tvm-login');
    store = new DynamoLoginStore(table.documentClient, table.tableName);
  });

  it('hands a code out once, to exactly one of five racing consumers', async () => {
    await store.saveCode(sha256Hex('the-code'), {
      ...session(nowSeconds + 60),
      redirectUri: 'http://127.0.0.1:49152/callback',
      codeChallenge: 'c'.repeat(43),
      browserHash: 'b'.repeat(64),
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.consumeCode(sha256Hex('the-code'))),
    );
    expect(results.filter((result) => result !== undefined)).toHaveLength(1);
    expect(results.find((result) => result !== undefined)).toMatchObject({
      subject: ALICE.subject,
      redirectUri: 'http://127.0.0.1:49152/callback',
    });
    expect(await store.consumeCode(sha256Hex('the-code'))).toBeUndefined();
    expect(await scan(table)).toEqual([]);
  });

  it('keeps sessions under their hash, ends one, and ends or counts every session of a principal', async () => {
    await store.createSession(sha256Hex('tvms_one'), session(nowSeconds + 3600));
    await store.createSession(sha256Hex('tvms_two'), session(nowSeconds + 3600));
    await store.createSession(sha256Hex('tvms_old'), session(nowSeconds - 1));
    await store.createSession(sha256Hex('tvms_bob'), session(nowSeconds + 3600, 'bob'));

    expect(await store.findSession(sha256Hex('tvms_one'), NOW)).toMatchObject({
      subject: ALICE.subject,
    });
    expect(await store.findSession(sha256Hex('tvms_old'), NOW)).toBeUndefined();
    expect(await store.countPrincipalSessions(ALICE.issuer, ALICE.subject, NOW)).toBe(2);
    const items = JSON.stringify(await scan(table));
    for (const handle of ['tvms_one', 'tvms_two', 'tvms_old', 'tvms_bob']) {
      expect(items).not.toContain(`"${handle}"`);
    }

    expect(await store.endSession(sha256Hex('tvms_one'), NOW)).toBe(true);
    expect(await store.endSession(sha256Hex('tvms_one'), NOW)).toBe(false);
    expect(await store.findSession(sha256Hex('tvms_one'), NOW)).toBeUndefined();
    expect(await store.endPrincipalSessions(ALICE.issuer, ALICE.subject, NOW)).toBe(1);
    expect(await store.findSession(sha256Hex('tvms_two'), NOW)).toBeUndefined();
    // Only bob's session and its index item are left.
    const left = await scan(table);
    expect(left.map((item) => String(item.pk).split('#')[0]).sort()).toEqual([
      'LOGINSESSION',
      'LOGINSESSIONS',
    ]);
    expect(await store.findSession(sha256Hex('tvms_bob'), NOW)).toMatchObject({ subject: 'bob' });
  });
});

describe('terminal login on moto, ended by tvm deny and tvm revoke', () => {
  let table: Table;

  beforeEach(async () => {
    table = await freshTable('tvm-login');
    await applyConfig(table.documentClient, table.tableName, samlConfig({ ambiguity: 'first' }));
  });

  /** The SAML and login functions in-process, on DynamoDB and moto's STS, at a fixed time. */
  function routes() {
    const silent = { info() {}, warn() {}, error() {} };
    const store = new DynamoLoginStore(table.documentClient, table.tableName);
    const core = createIssueDeps({
      env: { ...process.env, ...table.env },
      documentClient: table.documentClient,
      logger: silent,
      overrides: {
        sts: new STSClient({
          endpoint: table.endpoint,
          region: LOCAL_REGION,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        }),
        reuse: undefined,
        now: () => NOW,
      },
    });
    const saml = withHttpStack(
      samlRoute({
        core,
        state: new DynamoSamlStateStore(table.documentClient, table.tableName),
        login: store,
        baseUrl: SAML_TEST.baseUrl,
        federation: { url: 'https://signin.aws.amazon.com/federation', timeoutMs: 1_000 },
        secureCookies: true,
      }),
    );
    const login = withHttpStack(loginRoute({ core, store }));
    let counter = 0;
    const call = async (options: Parameters<typeof httpEvent>[0]) => {
      counter += 1;
      const event = httpEvent({ ...options, requestId: `moto-login-${counter}` });
      const handler = (options?.path ?? '').startsWith('/v1/login/') ? login : saml;
      const result = await handler(event, fakeContext());
      if (typeof result === 'string') throw new Error('unexpected string result');
      return {
        status: result.statusCode ?? 200,
        headers: (result.headers ?? {}) as Record<string, string>,
        body: result.body ?? '',
      };
    };
    return { call };
  }

  /** A whole terminal login through the routes: the session handle. */
  async function signIn(call: ReturnType<typeof routes>['call'], assertionId: string) {
    const pkce = cliPkce();
    const started = await call({
      method: 'GET',
      path: '/v1/saml/corp/login',
      query: {
        target: 'cli',
        redirect_uri: pkce.redirectUri,
        state: pkce.state,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      },
    });
    expect(started.status, started.body).toBe(302);
    const location = new URL(started.headers.location ?? '');
    const authn = inflateRawSync(
      Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    const inResponseTo = parseXml(authn).documentElement.getAttribute('ID') ?? '';
    const acs = await call({
      method: 'POST',
      path: '/v1/saml/corp/acs',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: (started.headers['set-cookie'] ?? '').split(';')[0] ?? '',
      },
      body: new URLSearchParams({
        SAMLResponse: encode(buildValidResponse({ inResponseTo, assertionId })),
        RelayState: location.searchParams.get('RelayState') ?? '',
      }).toString(),
    });
    expect(acs.status, acs.body).toBe(302);
    const code = new URL(acs.headers.location ?? '').searchParams.get('code') ?? '';
    const token = await call({
      method: 'POST',
      path: '/v1/login/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: pkce.verifier,
        redirect_uri: pkce.redirectUri,
      }).toString(),
    });
    expect(token.status, token.body).toBe(200);
    return { handle: String((JSON.parse(token.body) as { session: string }).session), code };
  }

  async function tvm(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      args,
      { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
      { ...defaultDeps({ ...process.env, ...table.env }), now: () => NOW },
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const bearer = (handle: string) => ({ authorization: `Bearer ${handle}` });

  it('vends through the session, then `tvm deny add` ends every session of the principal', async () => {
    // Prepare: two sessions of alice (two terminals)
    const { call } = routes();
    const first = await signIn(call, '_assert-moto-1');
    const second = await signIn(call, '_assert-moto-2');
    const roles = await call({
      method: 'GET',
      path: '/v1/login/roles',
      headers: bearer(first.handle),
    });
    expect(roles.status, roles.body).toBe(200);
    const vended = await call({
      method: 'POST',
      path: '/v1/login/credentials',
      headers: { ...bearer(second.handle), 'content-type': 'application/json' },
      body: JSON.stringify({ mapping: 'corp-reader' }),
    });
    expect(vended.status, vended.body).toBe(200);
    expect(JSON.parse(vended.body)).toMatchObject({ mapping: 'corp-reader', provider: 'corp' });

    // Act
    const denied = await tvm(['deny', 'add', '--provider', 'corp', '--subject', ALICE.subject]);

    // Assess
    expect(denied.code, denied.err).toBe(EXIT.ok);
    expect(denied.out).toContain('ended 2 terminal login session(s)');
    for (const { handle } of [first, second]) {
      const after = await call({ method: 'GET', path: '/v1/login/roles', headers: bearer(handle) });
      expect(after.status).toBe(401);
      expect(after.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }
    // Nothing of the login is left but the audit records, and no record holds a secret.
    const items = await scan(table);
    expect(items.filter((item) => /^LOGIN/.test(String(item.pk)))).toEqual([]);
    const stored = JSON.stringify(items);
    for (const secret of [first.handle, second.handle, first.code, second.code]) {
      expect(stored).not.toContain(secret);
    }
    const reasons = items.map((item) => item.reason).filter((reason) => reason !== undefined);
    expect(reasons).toEqual(
      expect.arrayContaining(['cli_code_issued', 'session_created', 'roles_listed', 'ok']),
    );
    // Lifting the deny does not bring a session back.
    expect(
      (await tvm(['deny', 'remove', '--provider', 'corp', '--subject', ALICE.subject])).code,
    ).toBe(EXIT.ok);
    const lifted = await call({
      method: 'GET',
      path: '/v1/login/roles',
      headers: bearer(first.handle),
    });
    expect(lifted.status).toBe(401);
  });

  it('`tvm revoke` ends the sessions too, and a dry run only counts them', async () => {
    const { call } = routes();
    const { handle } = await signIn(call, '_assert-moto-3');
    const dry = await tvm([
      'revoke',
      '--provider',
      'corp',
      '--subject',
      ALICE.subject,
      '--dry-run',
    ]);
    expect(dry.out).toContain('terminal login sessions (tvm-login): 1 would be ended');
    expect(
      (await call({ method: 'GET', path: '/v1/login/roles', headers: bearer(handle) })).status,
    ).toBe(200);

    const revoked = await tvm(['revoke', '--provider', 'corp', '--subject', ALICE.subject]);
    expect(revoked.out, revoked.err).toContain('terminal login sessions (tvm-login): 1 ended');
    const after = await call({ method: 'GET', path: '/v1/login/roles', headers: bearer(handle) });
    expect(after.status).toBe(401);
  });
});
