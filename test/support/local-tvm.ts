/**
 * The local TVM as `npm start` builds it, on free ports: moto, the table, a real OIDC issuer,
 * an applied config, and (optionally) serverless-offline. For end-to-end tests.
 */

import { createDocumentClient } from '#shared/aws.ts';
import {
  ensureTable,
  LOCAL_REGION,
  localAwsEnv,
  type RunningMoto,
  startMoto,
} from '../../scripts/local/aws-stack.ts';
import { applyConfig, oidcConfig } from './local-config.ts';
import { startTestIssuer, type TestIssuer } from './oidc-issuer.ts';
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

/**
 * `serverless offline start --stage local` on free ports in its own process group; `ready`
 * settles once /v1/health answers (or rejects if the server dies first).
 */
export async function startOffline(
  env: NodeJS.ProcessEnv,
  options: { httpPort?: number } = {},
): Promise<{ server: GroupProcess; baseUrl: string; ready: Promise<Response> }> {
  const httpPort = options.httpPort ?? (await freePort());
  const lambdaPort = await freePort();
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const server = spawnGroup(
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
    // No hot reload: a rebuild (someone editing shared/) would fail the requests in flight.
    { env: { ...env, TVM_OFFLINE_WATCH: '.esbuild/no-hot-reload' } },
  );
  const ready = waitForHttp(`${baseUrl}/v1/health`, { timeoutMs: 90_000, process: server });
  return { server, baseUrl, ready };
}

export interface LocalTvmOptions {
  offline: boolean;
  /** serverless-offline's port (a free one when omitted), e.g. to register an ACS URL first. */
  httpPort?: number;
  /** The config to apply; the route-test OIDC config when omitted. */
  config?: (issuer: TestIssuer) => unknown;
  /** More environment for the functions (TVM_PUBLIC_BASE_URL, TVM_FEDERATION_URL, ...). */
  env?: Record<string, string>;
}

export async function startLocalTvm(options: LocalTvmOptions): Promise<LocalTvm> {
  // Whatever started is stopped again if a later step fails: a failed start leaves no process.
  const started: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of started.reverse()) await stop().catch(() => {});
  };
  try {
    const moto = await startMoto({ port: await freePort() });
    started.push(() => moto.stop());
    const issuer = await startTestIssuer();
    started.push(() => issuer.stop());
    const table = 'tvm-local';
    await ensureTable(moto.endpoint, table);
    const client = createDocumentClient({
      endpoint: moto.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await applyConfig(client, table, (options.config ?? oidcConfig)(issuer));
    client.destroy();
    const env = childEnv({
      set: { ...localAwsEnv(moto.endpoint, table), ...options.env },
      unset: ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_*'],
    });

    let offline: GroupProcess | undefined;
    let baseUrl: string | undefined;
    if (options.offline) {
      const offlineStart = await startOffline(
        env,
        options.httpPort === undefined ? {} : { httpPort: options.httpPort },
      );
      offline = offlineStart.server;
      baseUrl = offlineStart.baseUrl;
      started.push(() => killGroup(offlineStart.server));
      await offlineStart.ready;
    }
    return { moto, issuer, env, baseUrl, offline, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
