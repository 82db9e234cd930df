/**
 * The terminal login in-process, the way `tvm-login` drives it: start with target=cli, the
 * IdP's answer at the ACS, the one-time code on the loopback, the exchange, then the session's
 * roles, credentials and logout.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { cliPkce, mark, SAML_TEST, startLoginHarness } from '../../support/login-harness.ts';
import { stsMock } from '../../support/vend-harness.ts';

describe('terminal login: the happy path', () => {
  it('login ▸ code ▸ token ▸ roles ▸ credentials ▸ DELETE session, one audit record per step', async () => {
    // Prepare
    const h = startLoginHarness();
    const pkce = cliPkce();

    // Act: the browser's part
    const started = await h.startCli(pkce);
    const acs = await h.postAcs(started);

    // Assess: the loopback gets the code and the state, nothing else; no STS call yet
    expect(acs.status).toBe(302);
    expect(acs.headers['cache-control']).toBe('no-store');
    const location = new URL(acs.headers.location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:49152/callback');
    expect([...location.searchParams.keys()].sort()).toEqual(['code', 'state']);
    const code = location.searchParams.get('code') ?? '';
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(location.searchParams.get('state')).toBe(pkce.state);
    expect(h.stsCalls()).toBe(0);
    expect(h.audits.at(-1)).toMatchObject({
      route: 'POST /v1/saml/{provider}/acs',
      outcome: 'pending',
      reason: 'cli_code_issued',
      provider: SAML_TEST.provider,
      issuer: SAML_TEST.idpEntityId,
    });

    // Act: the CLI's part
    const before = mark(h);
    const token = await h.token({
      grant_type: 'authorization_code',
      code,
      code_verifier: pkce.verifier,
      redirect_uri: pkce.redirectUri,
    });
    expect(token.status, token.body).toBe(200);
    expect(token.headers['cache-control']).toBe('no-store');
    const handle = String(token.json.session);
    expect(handle).toMatch(/^tvms_[A-Za-z0-9_-]{43}$/);
    expect(token.json).toEqual({
      session: handle,
      token_type: 'tvm-session',
      expires_at: new Date(h.clock.now.getTime() + 28_800_000).toISOString(),
      provider: 'corp',
    });
    expect(h.audits.slice(before.audits)).toMatchObject([
      { reason: 'session_created', outcome: 'allowed' },
    ]);

    const roles = await h.roles(handle);
    expect(roles.status, roles.body).toBe(200);
    expect(roles.json).toEqual({
      roles: [
        {
          mapping: 'corp-admin',
          roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
          accountId: '123456789012',
          description: 'Administrators',
        },
        {
          mapping: 'corp-reader',
          roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
          accountId: '123456789012',
          description: 'Read-only <everyone>',
        },
      ],
      expires_at: token.json.expires_at,
    });

    const credentials = await h.credentials(handle, {
      mapping: 'corp-reader',
      durationSeconds: 900,
    });
    expect(credentials.status, credentials.body).toBe(200);
    expect(credentials.headers['cache-control']).toBe('no-store');
    expect(credentials.json).toMatchObject({
      credentials: {
        accessKeyId: 'ASIATESTACCESSKEY',
        secretAccessKey: 'test-secret-access-key',
        sessionToken: 'test-session-token',
      },
      provider: 'corp',
      mapping: 'corp-reader',
      roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
      durationSeconds: 900,
    });
    const input = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input?.RoleArn).toBe('arn:aws:iam::123456789012:role/tvm/corp-reader');
    expect(input?.DurationSeconds).toBe(900);

    const logout = await h.logout(handle);
    expect(logout.status).toBe(204);
    const after = await h.roles(handle);
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toBe('Bearer error="invalid_token"');

    // Assess: one record per step, each with the principal and the route
    expect(h.audits.map((record) => [record.route, record.reason])).toEqual([
      ['POST /v1/saml/{provider}/acs', 'cli_code_issued'],
      ['POST /v1/login/token', 'session_created'],
      ['GET /v1/login/roles', 'roles_listed'],
      ['POST /v1/login/credentials', 'ok'],
      ['DELETE /v1/login/session', 'session_ended'],
      ['GET /v1/login/roles', 'session_invalid'],
    ]);
    expect(h.stsCalls()).toBe(1);
  });
});
