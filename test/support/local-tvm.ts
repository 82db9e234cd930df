/**
 * The local TVM as `npm start` builds it, on free ports: moto, the table, a real OIDC issuer,
 * an applied config, and (optionally) serverless-offline. For end-to-end tests.
 */

import { createDocumentClient } from '#shared/aws.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import {
  ensureTable,
  LOCAL_REGION,
  localAwsEnv,
  type RunningMoto,
  startMoto,
} from '../../scripts/local/aws-stack.ts';
import { startTestIssuer, TEST_AUDIENCE, type TestIssuer } from './oidc-issuer.ts';
import {
  childEnv,
  freePort,
  type GroupProcess,
  killGroup,
  spawnGroup,
  waitForHttp,
} from './process.ts';

export interface LocalTvm {
  moto: RunningMoto;
  issuer: TestIssuer;
  /** The environment the local stage gives the functions (emulator endpoint, dummy keys). */
  env: NodeJS.ProcessEnv;
  baseUrl: string | undefined;
  offline: GroupProcess | undefined;
  stop(): Promise<void>;
}

export function e2eConfig(issuer: TestIssuer): unknown {
  return {
    version: 1,
    providers: [
      {
        id: 'mobile',
        type: 'oidc',
        issuer: issuer.issuer,
        audiences: [TEST_AUDIENCE],
        claims: { tenant: { maxLength: 32 } },
      },
    ],
    mappings: [
      {
        id: 'tenant-reader',
        provider: 'mobile',
        priority: 100,
        match: { claim: 'tenant', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-reader',
        sessionTags: { tenant: '{{claims.tenant}}' },
        durationSeconds: 900,
      },
    ],
  };
}

export async function startLocalTvm(options: { offline: boolean }): Promise<LocalTvm> {
  const moto = await startMoto({ port: await freePort() });
  const issuer = await startTestIssuer();
  const table = 'tvm-local';
  await ensureTable(moto.endpoint, table);
  const config = validateConfig(e2eConfig(issuer), { stage: 'local' });
  if (!config.ok) throw new Error(JSON.stringify(config.problems));
  const client = createDocumentClient({
    endpoint: moto.endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await new DynamoConfigStore(client, table).apply(config.config, { appliedBy: 'e2e' });
  client.destroy();
  const env = childEnv({
    set: { ...localAwsEnv(moto.endpoint, table) },
    unset: ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_*'],
  });

  let offline: GroupProcess | undefined;
  let baseUrl: string | undefined;
  if (options.offline) {
    const httpPort = await freePort();
    const lambdaPort = await freePort();
    baseUrl = `http://127.0.0.1:${httpPort}`;
    offline = spawnGroup(
      'npx',
      [
        'serverless',
        'offline',
        'start',
        '--stage',
        'local',
        '--httpPort',
        String(httpPort),
        '--lambdaPort',
        String(lambdaPort),
      ],
      { env },
    );
    await waitForHttp(`${baseUrl}/v1/health`, { timeoutMs: 90_000, process: offline });
  }
  return {
    moto,
    issuer,
    env,
    baseUrl,
    offline,
    async stop() {
      if (offline !== undefined) await killGroup(offline);
      await issuer.stop();
      await moto.stop();
    },
  };
}
