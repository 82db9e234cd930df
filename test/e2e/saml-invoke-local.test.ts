import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '#shared/aws.ts';
import { DynamoSamlStateStore, sha256Hex } from '#shared/saml/state.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { buildValidResponse, shiftedTimes } from '../../scripts/saml/fixture-builder.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { runCommand } from '../support/process.ts';
import { SAML_TEST, samlConfig } from '../support/saml-config.ts';

/**
 * The bundled SAML function through `serverless invoke local` with a committed event file (an
 * API Gateway HTTP API POST to the ACS, base64 form body as API Gateway sends it), against moto:
 * a freshly signed response for a pending login becomes a credentials page whose keys work.
 */
describe('saml ACS (serverless invoke local with an event file)', () => {
  let tvm: LocalTvm;
  const relayState = 'r'.repeat(43);
  const loginCookie = 'c'.repeat(43);

  beforeAll(async () => {
    tvm = await startLocalTvm({
      offline: false,
      config: () => samlConfig({ ambiguity: 'first' }),
      env: { TVM_PUBLIC_BASE_URL: SAML_TEST.baseUrl },
    });
    const client = createDocumentClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    // The login the response answers, as GET /login would have stored it.
    await new DynamoSamlStateStore(client, tvm.env.TVM_TABLE_NAME ?? '').saveLogin(
      SAML_TEST.requestId,
      {
        provider: SAML_TEST.provider,
        target: 'credentials',
        relayStateHash: sha256Hex(relayState),
        browserHash: sha256Hex(loginCookie),
        expiresAt: Math.floor(Date.now() / 1000) + 600,
      },
    );
    client.destroy();
  });
  afterAll(async () => {
    await tvm?.stop();
  });

  it('answers a valid response with the credentials page, and the keys work', async () => {
    // Prepare: the fixture response, signed now, so that its time window is open.
    const secondsSinceT0 = Math.floor((Date.now() - SAML_TEST.t0.getTime()) / 1000);
    const samlResponse = Buffer.from(buildValidResponse(shiftedTimes(secondsSinceT0))).toString(
      'base64',
    );
    const form = new URLSearchParams({ SAMLResponse: samlResponse, RelayState: relayState });
    const event = readFileSync('test/fixtures/events/saml-acs-post.json', 'utf8')
      .replace('__FORM_BASE64__', Buffer.from(form.toString()).toString('base64'))
      .replace('__LOGIN_COOKIE__', loginCookie);
    const path = join(mkdtempSync(join(tmpdir(), 'tvm-event-')), 'event.json');
    writeFileSync(path, event);

    // Act
    const result = await runCommand(
      'npx',
      ['serverless', 'invoke', 'local', '-f', 'saml', '--stage', 'local', '--path', path],
      { env: tvm.env, timeoutMs: 120_000 },
    );

    // Assess
    expect(result.code, result.output).toBe(0);
    const printed = result.stdout.slice(result.stdout.lastIndexOf('\n{') + 1);
    const response = JSON.parse(printed) as { statusCode: number; body: string };
    expect(response.statusCode, response.body).toBe(200);
    expect(response.body).toContain('Your AWS credentials');
    const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(response.body)?.[1] ?? '';
    const sts = new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: value('aws_access_key_id'),
        secretAccessKey: value('aws_secret_access_key'),
        sessionToken: value('aws_session_token'),
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(identity.Arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/corp-admin\//);
    // The log lines before the printed result hold the audit record, never a secret or the assertion.
    const logs = result.stdout.slice(0, result.stdout.lastIndexOf('\n{'));
    expect(logs).toContain('"message":"audit"');
    expect(logs).not.toContain(value('aws_secret_access_key'));
    expect(logs).not.toContain(samlResponse.slice(0, 40));
  });
});
