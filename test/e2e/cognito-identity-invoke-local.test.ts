import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLoginsKey } from '#shared/cognito/pools.ts';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import { oidcConfig } from '../support/local-config.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import type { TestIssuer } from '../support/oidc-issuer.ts';
import { runCommand } from '../support/process.ts';

const POOL_ID = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';

/** The route-test OIDC config plus one identity pool that accepts its provider. */
function poolConfig(issuer: TestIssuer): unknown {
  return {
    ...(oidcConfig(issuer) as Record<string, unknown>),
    identityPools: [{ id: POOL_ID, providers: [{ provider: 'mobile' }] }],
  };
}

/** osls prints the handler's result last, pretty-printed; log lines before it are one-line JSON. */
function lastPrettyJson(stdout: string): {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  if (start === -1) throw new Error(`no result in invoke local output:\n${stdout}`);
  return JSON.parse(lines.slice(start).join('\n'));
}

describe('cognito-identity (serverless invoke local with an event file)', () => {
  let tvm: LocalTvm;

  beforeAll(async () => {
    tvm = await startLocalTvm({ offline: false, config: poolConfig });
  });
  afterAll(async () => {
    await tvm?.stop();
  });

  /** The committed event with this operation and body, through the bundled CJS handler. */
  async function invoke(operation: string, body: unknown) {
    const event = readFileSync('test/fixtures/events/cognito-identity-post.json', 'utf8')
      .replace('__TARGET__', `AWSCognitoIdentityService.${operation}`)
      .replace('"__BODY__"', JSON.stringify(JSON.stringify(body)));
    const path = join(mkdtempSync(join(tmpdir(), 'tvm-event-')), 'event.json');
    writeFileSync(path, event);
    const result = await runCommand(
      'npx',
      [
        'serverless',
        'invoke',
        'local',
        '-f',
        'cognitoIdentity',
        '--stage',
        'local',
        '--path',
        path,
      ],
      { env: tvm.env, timeoutMs: 120_000 },
    );
    expect(result.code, result.output).toBe(0);
    return { result, response: lastPrettyJson(result.stdout) };
  }

  it('GetId, then GetCredentialsForIdentity, against moto', async () => {
    // Prepare
    const token = await tvm.issuer.mint({ sub: 'alice', tenant: 'acme' });
    const logins = { [defaultLoginsKey(tvm.issuer.issuer)]: token };

    // Act
    const getId = await invoke('GetId', { IdentityPoolId: POOL_ID, Logins: logins });
    const identityId = JSON.parse(getId.response.body).IdentityId as string;
    const vend = await invoke('GetCredentialsForIdentity', {
      IdentityId: identityId,
      Logins: logins,
    });

    // Assess
    expect(getId.response.statusCode, getId.response.body).toBe(200);
    expect(identityId).toMatch(IDENTITY_ID_PATTERN);
    expect(vend.response.statusCode, vend.response.body).toBe(200);
    expect(vend.response.headers['content-type']).toBe('application/x-amz-json-1.1');
    const body = JSON.parse(vend.response.body);
    expect(body).toEqual({
      IdentityId: identityId,
      Credentials: {
        AccessKeyId: expect.stringMatching(/^ASIA/),
        SecretKey: expect.any(String),
        SessionToken: expect.any(String),
        Expiration: expect.any(Number),
      },
    });
    expect(Number.isInteger(body.Credentials.Expiration)).toBe(true);
    // The printed result holds the credentials by design; the log lines before it must not.
    const logs = vend.result.stdout.slice(0, vend.result.stdout.lastIndexOf('\n{'));
    expect(logs).toContain('"message":"audit"');
    expect(logs).toContain(identityId);
    expect(logs).not.toContain(body.Credentials.SecretKey);
    expect(logs).not.toContain(token);
  });
});
