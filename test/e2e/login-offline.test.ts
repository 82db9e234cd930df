import { inflateRawSync } from 'node:zlib';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '#shared/xml/dom.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { buildValidResponse, shiftedTimes } from '../../scripts/saml/fixture-builder.ts';
import { cliPkce } from '../support/cli-pkce.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { groupAlive } from '../support/process.ts';
import { encode, SAML_TEST, samlConfig } from '../support/saml-config.ts';

/**
 * The terminal login over HTTP: serverless-offline running the bundled SAML and login functions
 * against moto. The browser's part (login, the IdP's signed answer at the ACS) is played with
 * fetch; the CLI's part (code exchange, roles, credentials, logout) is what tvm-login sends.
 */
describe('terminal login over HTTP (serverless-offline + moto)', () => {
  let tvm: LocalTvm;
  let base: string;

  beforeAll(async () => {
    tvm = await startLocalTvm({
      offline: true,
      config: () => samlConfig({ ambiguity: 'first' }),
      env: { TVM_PUBLIC_BASE_URL: SAML_TEST.baseUrl },
    });
    base = tvm.baseUrl ?? '';
  });

  afterAll(async () => {
    const pid = tvm?.offline?.pid;
    await tvm?.stop();
    if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
  });

  it('login ▸ ACS ▸ loopback code ▸ token ▸ roles ▸ credentials that work ▸ logout', async () => {
    // The browser: start the login the way tvm-login opens it.
    const pkce = cliPkce('http://127.0.0.1:53682/callback');
    const query = new URLSearchParams({
      target: 'cli',
      redirect_uri: pkce.redirectUri,
      state: pkce.state,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    });
    const started = await fetch(`${base}/v1/saml/corp/login?${query}`, { redirect: 'manual' });
    expect(started.status).toBe(302);
    const idp = new URL(started.headers.get('location') ?? '');
    const cookie = (started.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^tvm_login=[A-Za-z0-9_-]{43}$/);
    const authn = inflateRawSync(
      Buffer.from(idp.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    const inResponseTo = parseXml(authn).documentElement.getAttribute('ID') ?? '';

    // The IdP's answer, signed now, posted by the same browser.
    const secondsSinceT0 = Math.floor((Date.now() - SAML_TEST.t0.getTime()) / 1000);
    const acs = await fetch(`${base}/v1/saml/corp/acs`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({
        SAMLResponse: encode(buildValidResponse({ ...shiftedTimes(secondsSinceT0), inResponseTo })),
        RelayState: idp.searchParams.get('RelayState') ?? '',
      }),
    });
    expect(acs.status, await acs.clone().text()).toBe(302);
    const loopback = new URL(acs.headers.get('location') ?? '');
    expect(`${loopback.origin}${loopback.pathname}`).toBe(pkce.redirectUri);
    expect(loopback.searchParams.get('state')).toBe(pkce.state);
    const code = loopback.searchParams.get('code') ?? '';

    // The CLI: exchange, list, vend, end.
    const token = await fetch(`${base}/v1/login/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: pkce.verifier,
        redirect_uri: pkce.redirectUri,
      }),
    });
    expect(token.status).toBe(200);
    expect(token.headers.get('cache-control')).toBe('no-store');
    const { session } = (await token.json()) as { session: string };
    const auth = { authorization: `Bearer ${session}` };

    const replay = await fetch(`${base}/v1/login/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: pkce.verifier,
        redirect_uri: pkce.redirectUri,
      }),
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({ error: 'invalid_grant' });

    const roles = await fetch(`${base}/v1/login/roles`, { headers: auth });
    expect(roles.status).toBe(200);
    const listed = (await roles.json()) as { roles: { mapping: string }[] };
    expect(listed.roles.map((role) => role.mapping)).toEqual(['corp-admin', 'corp-reader']);

    const vended = await fetch(`${base}/v1/login/credentials`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ mapping: 'corp-reader', durationSeconds: 900 }),
    });
    expect(vended.status).toBe(200);
    const body = (await vended.json()) as {
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
    };
    const sts = new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: body.credentials.accessKeyId,
        secretAccessKey: body.credentials.secretAccessKey,
        sessionToken: body.credentials.sessionToken,
      },
    });
    const caller = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(caller.Arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/corp-reader\//);

    const logout = await fetch(`${base}/v1/login/session`, { method: 'DELETE', headers: auth });
    expect(logout.status).toBe(204);
    const after = await fetch(`${base}/v1/login/roles`, { headers: auth });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');

    // Nothing secret of the login reached the function logs.
    const logs = tvm.offline?.output() ?? '';
    expect(logs).toContain('"reason":"cli_code_issued"');
    for (const secret of [code, pkce.verifier, session, body.credentials.secretAccessKey]) {
      expect(logs).not.toContain(secret);
    }
  });
});
