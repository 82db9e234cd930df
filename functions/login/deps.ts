/** The login function's wiring from its environment: the core, and the code and session store. */
import { coreMetrics, logger } from '#functions/http/observability.ts';
import { lambdaDocumentClient } from '#shared/aws.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import type { DeviceDeps } from '#shared/login/device.ts';
import { DynamoDeviceStore } from '#shared/login/device-store.ts';
import type { LoginDeps } from '#shared/login/session.ts';
import { DynamoLoginStore } from '#shared/login/store.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { tableNameFromEnv } from '#shared/store/table.ts';

export function createLoginDeps(env: NodeJS.ProcessEnv = process.env): LoginDeps {
  // One DynamoDB client for the core and the login store.
  const documentClient = lambdaDocumentClient(env);
  return {
    core: createIssueDeps({ env, documentClient, logger, metrics: coreMetrics }),
    store: new DynamoLoginStore(documentClient, tableNameFromEnv(env)),
  };
}

/** The login deps plus the device flow's: its state, the per-address limits, the public base URL. */
export function createDeviceDeps(env: NodeJS.ProcessEnv = process.env): DeviceDeps {
  const login = createLoginDeps(env);
  const documentClient = lambdaDocumentClient(env);
  const baseUrl = env.TVM_PUBLIC_BASE_URL ?? '';
  return {
    ...login,
    devices: new DynamoDeviceStore(documentClient, tableNameFromEnv(env)),
    limiter: new DynamoRateLimiter(documentClient, tableNameFromEnv(env)),
    ...(baseUrl === '' ? {} : { baseUrl }),
  };
}
