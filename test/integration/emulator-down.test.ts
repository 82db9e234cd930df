import { afterAll, describe, expect, it } from 'vitest';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { logger } from '#functions/http/observability.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { createDocumentClient } from '#shared/aws.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import {
  ensureTable,
  LOCAL_REGION,
  localAwsEnv,
  type RunningMoto,
  startMoto,
} from '../../scripts/local/aws-stack.ts';
import { fakeContext, httpEvent } from '../support/lambda-fakes.ts';
import { applyConfig, EVERYONE, oidcConfig } from '../support/local-config.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { freePort } from '../support/process.ts';

/**
 * moto (DynamoDB and STS at once) dies mid-run: the TVM must answer 503, never a 200 without
 * its audit record, and serve again once moto is back (with its state rebuilt: moto keeps
 * nothing across a restart).
 */
describe('the local AWS emulator goes down and comes back', () => {
  const saved = { ...process.env };
  let moto: RunningMoto | undefined;
  let issuer: TestIssuer | undefined;

  afterAll(async () => {
    process.env = saved;
    await moto?.stop();
    await issuer?.stop();
  });

  async function prepare(port: number, iss: TestIssuer): Promise<RunningMoto> {
    const running = await startMoto({ port });
    await ensureTable(running.endpoint, 'tvm-local');
    const client = createDocumentClient({
      endpoint: running.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await applyConfig(client, 'tvm-local', oidcConfig(iss, { mappings: [EVERYONE] }));
    client.destroy();
    return running;
  }

  it('answers 503 while moto is gone, never 200, and recovers when it returns', async () => {
    // Prepare
    issuer = await startTestIssuer();
    const port = await freePort();
    moto = await prepare(port, issuer);
    Object.assign(process.env, localAwsEnv(moto.endpoint, 'tvm-local'), {
      TVM_CONFIG_CACHE_TTL_SECONDS: '0',
    });
    const handler = withHttpStack(
      credentialsRoute(
        createIssueDeps({ env: process.env, logger }),
        createOidcAuthenticator({ stage: process.env.TVM_STAGE ?? 'local' }),
      ),
    );
    const token = await issuer.mint({ sub: 'alice' });
    const call = async (n: number) => {
      const result = await handler(
        httpEvent({
          method: 'POST',
          path: '/v1/credentials',
          headers: { authorization: `Bearer ${token}` },
          requestId: `down-${n}`,
        }),
        fakeContext(),
      );
      return typeof result === 'string' ? { statusCode: 200, body: result } : result;
    };

    // Act and assess: up, then killed, then back.
    expect((await call(1)).statusCode).toBe(200);
    await moto.stop();
    const whileDown = [];
    for (let n = 2; n < 6; n += 1) whileDown.push(await call(n));
    for (const result of whileDown) {
      expect(result.statusCode).toBe(503);
      expect(result.headers?.['retry-after']).toMatch(/^\d+$/);
      expect(String(result.body)).not.toMatch(/ASIA|secretAccessKey|ECONNREFUSED|stack/);
    }
    moto = await prepare(port, issuer);
    expect((await call(7)).statusCode).toBe(200);
  });
});
