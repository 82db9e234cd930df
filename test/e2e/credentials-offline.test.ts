import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromHttp } from '@aws-sdk/credential-providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION, venvBin } from '../../scripts/local/aws-stack.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { groupAlive, runCommand } from '../support/process.ts';

/**
 * The mobile vend path over HTTP: serverless-offline running the bundled credentials function
 * against moto, with tokens from a real OIDC issuer, and the AWS SDKs as clients.
 */
describe('credentials over HTTP (serverless-offline + moto)', () => {
  let tvm: LocalTvm;
  let base: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    tvm = await startLocalTvm({ offline: true });
    base = tvm.baseUrl ?? '';
  });

  afterAll(async () => {
    const pid = tvm?.offline?.pid;
    await tvm?.stop();
    if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
  });

  // Only the key fields: the JSON body's expiration is a string, not the Date the SDK wants.
  const stsWith = (body: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) =>
    new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: body.accessKeyId,
        secretAccessKey: body.secretAccessKey,
        sessionToken: body.sessionToken,
      },
    });

  it('POST /v1/credentials vends credentials that work as the mapped role', async () => {
    // Prepare
    const token = await tvm.issuer.mint({ sub: 'alice', tenant: 'acme' });
    secrets.push(token);

    // Act
    const response = await fetch(`${base}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ durationSeconds: 900 }),
    });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as {
      mapping: string;
      roleSessionName: string;
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
    };
    secrets.push(body.credentials.secretAccessKey, body.credentials.sessionToken);
    expect(body.mapping).toBe('tenant-reader');
    const caller = await stsWith(body.credentials).send(new GetCallerIdentityCommand({}));
    expect(caller.Arn).toBe(
      `arn:aws:sts::123456789012:assumed-role/tenant-reader/${body.roleSessionName}`,
    );
  });

  it('every authentication failure gets the same generic 401 problem body', async () => {
    const bodies = [];
    for (const authorization of [
      undefined,
      'Bearer not-a-jwt',
      `Bearer ${await tvm.issuer.mint({ aud: 'someone-else', tenant: 'acme' })}`,
      `Bearer ${await tvm.issuer.mint({ tenant: 'acme' }, { expiresIn: -3600 })}`,
    ]) {
      const response = await fetch(`${base}/v1/credentials`, {
        method: 'POST',
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      const { requestId: _requestId, ...rest } = (await response.json()) as Record<string, unknown>;
      bodies.push(rest);
    }
    for (const body of bodies) {
      expect(body).toEqual({
        type: 'urn:tvm:problem:authentication',
        title: 'Unauthorized',
        status: 401,
      });
    }
  });

  it('the AWS SDK container credential provider uses the TVM with no code (GET)', async () => {
    // Prepare: exactly what AWS_CONTAINER_CREDENTIALS_FULL_URI + _AUTHORIZATION_TOKEN configure.
    const token = await tvm.issuer.mint({ sub: 'carol', tenant: 'initech' });
    secrets.push(token);
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${base}/v1/credentials`,
      awsContainerAuthorizationToken: `Bearer ${token}`,
    });

    // Act
    const credentials = await provider();
    secrets.push(credentials.secretAccessKey, credentials.sessionToken ?? '');
    const caller = await new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: provider,
    }).send(new GetCallerIdentityCommand({}));

    // Assess
    expect(credentials.expiration).toBeInstanceOf(Date);
    expect(caller.Arn).toMatch(
      /^arn:aws:sts::123456789012:assumed-role\/tenant-reader\/carol-[0-9a-f]+$/,
    );
  });

  it('botocore (the AWS CLI v1 provider) uses the TVM through the same two variables', async () => {
    const token = await tvm.issuer.mint({ sub: 'dave', tenant: 'hooli' });
    secrets.push(token);
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...withoutKeys } = tvm.env;
    const result = await runCommand(
      venvBin('python'),
      [
        '-c',
        'import boto3,sys; print(boto3.client("sts", endpoint_url=sys.argv[1], region_name="eu-west-1").get_caller_identity()["Arn"])',
        tvm.moto.endpoint,
      ],
      {
        env: {
          ...withoutKeys,
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${base}/v1/credentials`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN: `Bearer ${token}`,
        },
        timeoutMs: 60_000,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(
      /^arn:aws:sts::123456789012:assumed-role\/tenant-reader\/dave-[0-9a-f]+$/,
    );
  });

  it('GET ?format=process answers in the credential_process format', async () => {
    const token = await tvm.issuer.mint({ sub: 'erin', tenant: 'acme' });
    const response = await fetch(`${base}/v1/credentials?format=process`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await response.json()) as Record<string, unknown>;
    secrets.push(token, String(body.SecretAccessKey), String(body.SessionToken));
    expect(body).toMatchObject({
      Version: 1,
      AccessKeyId: expect.any(String),
      Expiration: expect.any(String),
    });
  });

  it('never writes a token, a secret key or a session token to the function logs', () => {
    const logs = tvm.offline?.output() ?? '';
    expect(logs).toContain('"message":"audit"');
    expect(secrets.length).toBeGreaterThan(8);
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});
