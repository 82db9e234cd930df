/**
 * The Lambda side's singletons, built once per container at module scope (cold start): clients,
 * the config cache, the JWKS cache inside the authenticator. Handlers import from here.
 */
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoAuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { lambdaDocumentClient } from '#shared/aws.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { CachedConfigStore } from '#shared/config/store.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import { logger } from '#shared/observability.ts';
import { tableNameFromEnv } from '#shared/store/table.ts';

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number`);
  return value;
}

export function createIssueDeps(
  env: NodeJS.ProcessEnv = process.env,
  documentClient = lambdaDocumentClient(env),
): IssueDeps {
  const table = tableNameFromEnv(env);
  return {
    config: new CachedConfigStore(new DynamoConfigStore(documentClient, table), {
      ttlMs: positiveNumber(env, 'TVM_CONFIG_CACHE_TTL_SECONDS', 60) * 1000,
    }),
    authenticator: createOidcAuthenticator({ stage: env.TVM_STAGE ?? '' }),
    // Retries are vendCredentials' job (bounded, jittered, only when they can help).
    sts: new STSClient({ maxAttempts: 1 }),
    guard: createAccessGuard(
      new DynamoDenyList(documentClient, table),
      new DynamoRateLimiter(documentClient, table),
    ),
    audit: new DynamoAuditSink(documentClient, table, {
      retentionDays: positiveNumber(env, 'TVM_AUDIT_RETENTION_DAYS', 90),
      logger,
    }),
    // 3 attempts of at most 2 s each stay well inside the 10 s Lambda timeout.
    vend: { timeoutMs: 2_000, maxAttempts: 3 },
    // Per instance, in memory only; bounded so a burst of distinct principals cannot grow it.
    reuse: new CredentialReuseCache({ maxEntries: 5_000 }),
    logger,
    now: () => new Date(),
  };
}
