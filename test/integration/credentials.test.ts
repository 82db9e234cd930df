import { createServer, type Server, type Socket } from 'node:net';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { logger } from '#functions/http/observability.ts';
import { subjectHash } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { vendCredentials } from '#shared/sts/vend.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { fakeContext, httpEvent } from '../support/lambda-fakes.ts';
import { applyConfig, EVERYONE, oidcConfig } from '../support/local-config.ts';
import { freshTable } from '../support/local-table.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';

/**
 * The whole vend path against moto (DynamoDB for config and audit, STS for AssumeRole) and a
 * real OIDC issuer (oauth2-mock-server) on loopback. Only the HTTP layer is in-process.
 */
describe('vend path against moto and a real OIDC issuer', () => {
  let issuer: TestIssuer;
  let table: Awaited<ReturnType<typeof freshTable>>;
  let handler: ReturnType<typeof withHttpStack>;
  const saved = { ...process.env };

  /** POST /v1/credentials through the handler: status and parsed body. */
  async function post(token: string, requestId?: string) {
    const result = await handler(
      httpEvent({
        method: 'POST',
        path: '/v1/credentials',
        headers: { authorization: `Bearer ${token}` },
        ...(requestId === undefined ? {} : { requestId }),
      }),
      fakeContext(),
    );
    return typeof result === 'string'
      ? { status: 200, body: JSON.parse(result) }
      : { status: result.statusCode ?? 200, body: JSON.parse(result.body ?? '{}') };
  }

  beforeAll(async () => {
    issuer = await startTestIssuer();
    table = await freshTable('tvm-vend');
    await applyConfig(table.documentClient, table.tableName, oidcConfig(issuer));
    // What the local stage gives the Lambda: the emulator endpoint and dummy credentials.
    Object.assign(process.env, table.env, { TVM_CONFIG_CACHE_TTL_SECONDS: '0' });
    handler = withHttpStack(
      credentialsRoute(
        createIssueDeps({ env: process.env, logger }),
        createOidcAuthenticator({ stage: process.env.TVM_STAGE ?? 'local' }),
      ),
    );
  });

  afterAll(async () => {
    process.env = saved;
    await issuer.stop();
  });

  it('vends credentials that STS recognises as the mapped role and session (discovery + JWKS)', async () => {
    // Prepare
    const token = await issuer.mint({ sub: 'alice', tenant: 'acme' });

    // Act
    const { body } = await post(token);

    // Assess: the vended keys work, as the mapped role and session.
    expect(body.mapping).toBe('tenant-reader');
    const sts = new STSClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: body.credentials.accessKeyId,
        secretAccessKey: body.credentials.secretAccessKey,
        sessionToken: body.credentials.sessionToken,
      },
    });
    const caller = await sts.send(new GetCallerIdentityCommand({}));
    expect(caller.Arn).toBe(
      `arn:aws:sts::123456789012:assumed-role/tenant-reader/${body.roleSessionName}`,
    );
    expect(body.assumedRoleArn).toBe(caller.Arn);
    expect(body.roleSessionName).toMatch(/^alice-[0-9a-f]+$/);
    expect(issuer.discoveryRequests()).toBe(1);
  });

  it('writes the audit record to DynamoDB with a TTL, and without secrets', async () => {
    const token = await issuer.mint({ sub: 'bob', tenant: 'globex' });
    const { body } = await post(token, 'audit-check-1');

    const { Items = [] } = await table.documentClient.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk',
        // The principal's partition: issuer + subject, whichever provider entry matched.
        ExpressionAttributeValues: { ':pk': `AUDIT#${subjectHash(issuer.issuer, 'bob')}` },
      }),
    );
    expect(Items).toHaveLength(1);
    expect(Items[0]).toMatchObject({
      requestId: 'audit-check-1',
      outcome: 'allowed',
      mappingId: 'tenant-reader',
      accessKeyId: body.credentials.accessKeyId,
      tagKeys: ['tenant'],
    });
    expect(Items[0]?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 80 * 86_400);
    const stored = JSON.stringify(Items[0]);
    expect(stored).not.toContain(body.credentials.secretAccessKey);
    expect(stored).not.toContain(body.credentials.sessionToken);
    expect(stored).not.toContain(token);
  });

  it('a principal added to the deny list is refused at its next request (403)', async () => {
    // Prepare: mallory vends fine, then an operator denies her.
    const token = await issuer.mint({ sub: 'mallory', tenant: 'acme' });
    const call = async () => (await post(token)).status;
    expect(await call()).toBe(200);

    // Act
    await new DynamoDenyList(table.documentClient, table.tableName).add({
      issuer: issuer.issuer,
      provider: 'mobile',
      subject: 'mallory',
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Assess: the same, still valid token is refused now.
    expect(await call()).toBe(403);
  });

  it('a rejected token is audited in DynamoDB too', async () => {
    const token = await issuer.mint({ aud: 'other-app', tenant: 'acme' });
    expect((await post(token, 'audit-denied-1')).status).toBe(401);
    const { Items = [] } = await table.documentClient.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': `AUDIT#unauthenticated#${new Date().toISOString().slice(0, 13)}`,
        },
      }),
    );
    expect(Items.find((item) => item.requestId === 'audit-denied-1')).toMatchObject({
      outcome: 'denied',
      reason: 'audience_mismatch',
    });
  });
});

describe('STS that never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('times out within the vend budget and answers 503, with nothing vended', async () => {
    // A TCP server that accepts and never replies: STS hanging.
    silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const sts = new STSClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const started = Date.now();
    const error = await vendCredentials(
      sts,
      {
        roleArn: 'arn:aws:iam::123456789012:role/tvm/x',
        roleSessionName: 'alice-1',
        sourceIdentity: 'alice',
        tags: [],
        transitiveTagKeys: [],
        policy: undefined,
        policySha256: undefined,
        policyArns: [],
        durationSeconds: 900,
        externalId: undefined,
        matched: [],
        mapping: { id: 'x' } as never,
      },
      { timeoutMs: 300, maxAttempts: 2, backoffBaseMs: 0 },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 503, failure: 'timeout' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('rate limits against moto', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('50 concurrent requests against a limit of 10 give exactly 10 × 200 and 40 × 429', async () => {
    // Prepare: one principal, a per-principal limit of 10 per hour, the real DynamoDB counters.
    const issuer = await startTestIssuer();
    try {
      const table = await freshTable('tvm-rate');
      await applyConfig(
        table.documentClient,
        table.tableName,
        oidcConfig(issuer, {
          provider: { rateLimits: { perPrincipal: { limit: 10, windowSeconds: 3600 } } },
          mappings: [EVERYONE],
        }),
      );
      Object.assign(process.env, table.env);
      const handler = withHttpStack(
        credentialsRoute(
          createIssueDeps({ env: process.env, logger }),
          createOidcAuthenticator({ stage: process.env.TVM_STAGE ?? 'local' }),
        ),
      );
      const token = await issuer.mint({ sub: 'racer' });

      // Act
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          handler(
            httpEvent({
              method: 'POST',
              path: '/v1/credentials',
              headers: { authorization: `Bearer ${token}` },
              requestId: `race-${i}`,
            }),
            fakeContext(),
          ),
        ),
      );

      // Assess
      const statuses = results.map((r) => (typeof r === 'string' ? 200 : r.statusCode));
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(40);
      const limited = results.find((r) => typeof r !== 'string' && r.statusCode === 429);
      expect(typeof limited === 'string' ? undefined : limited?.headers?.['retry-after']).toMatch(
        /^\d+$/,
      );
      const { Items = [] } = await table.documentClient.send(
        new QueryCommand({
          TableName: table.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `AUDIT#${subjectHash(issuer.issuer, 'racer')}` },
        }),
      );
      expect(Items.filter((i) => i.outcome === 'allowed')).toHaveLength(10);
      expect(Items.filter((i) => i.reason === 'rate_limited_principal')).toHaveLength(40);
    } finally {
      await issuer.stop();
    }
  });
});
