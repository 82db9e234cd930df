import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws.ts';
import { DynamoLoginStore, sha256Hex } from '#shared/login/store.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { cliPkce } from '../support/cli-pkce.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { runCommand } from '../support/process.ts';
import { SAML_TEST, samlConfig } from '../support/saml-config.ts';

/**
 * The bundled login function through `serverless invoke local` with a committed event file (an
 * API Gateway HTTP API POST /v1/login/token, base64 form body as API Gateway sends it), against
 * moto: a one-time code the ACS would have stored becomes a login session, stored as a hash.
 */
describe('login token exchange (serverless invoke local with an event file)', () => {
  let tvm: LocalTvm;
  let store: DynamoLoginStore;
  let client: ReturnType<typeof createDocumentClient>;
  const pkce = cliPkce();
  const code = 'c'.repeat(43);

  beforeAll(async () => {
    tvm = await startLocalTvm({ offline: false, config: () => samlConfig() });
    client = createDocumentClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    store = new DynamoLoginStore(client, tvm.env.TVM_TABLE_NAME ?? '');
    // The code, as the ACS would have stored it after alice's sign-in.
    await store.saveCode(sha256Hex(code), {
      provider: SAML_TEST.provider,
      issuer: SAML_TEST.idpEntityId,
      subject: 'alice@corp.example',
      claims: { sub: 'alice@corp.example', groups: ['aws-readers'] },
      redirectUri: pkce.redirectUri,
      codeChallenge: pkce.challenge,
      browserHash: sha256Hex('browser'),
      createdAt: new Date().toISOString(),
      expiresAt: Math.floor(Date.now() / 1000) + 120,
    });
  });
  afterAll(async () => {
    client?.destroy();
    await tvm?.stop();
  });

  it('answers the code and its verifier with a session handle whose hash alone is stored', async () => {
    // Prepare
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: pkce.verifier,
      redirect_uri: pkce.redirectUri,
    });
    const event = readFileSync('test/fixtures/events/login-token-post.json', 'utf8').replace(
      '__FORM_BASE64__',
      Buffer.from(form.toString()).toString('base64'),
    );
    const path = join(mkdtempSync(join(tmpdir(), 'tvm-event-')), 'event.json');
    writeFileSync(path, event);

    // Act
    const result = await runCommand(
      'npx',
      ['serverless', 'invoke', 'local', '-f', 'login', '--stage', 'local', '--path', path],
      { env: tvm.env, timeoutMs: 120_000 },
    );

    // Assess
    expect(result.code, result.output).toBe(0);
    const printed = result.stdout.slice(result.stdout.lastIndexOf('\n{') + 1);
    const response = JSON.parse(printed) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(response.body) as { session: string; provider: string };
    expect(body).toMatchObject({ token_type: 'tvm-session', provider: 'corp' });
    expect(body.session).toMatch(/^tvms_[A-Za-z0-9_-]{43}$/);
    expect(await store.findSession(sha256Hex(body.session), new Date())).toMatchObject({
      subject: 'alice@corp.example',
    });
    expect(await store.consumeCode(sha256Hex(code))).toBeUndefined();
    // The log lines before the printed result hold the audit record, never the code or handle.
    const logs = result.stdout.slice(0, result.stdout.lastIndexOf('\n{'));
    expect(logs).toContain('"reason":"session_created"');
    for (const secret of [code, pkce.verifier, body.session]) expect(logs).not.toContain(secret);
  });
});
