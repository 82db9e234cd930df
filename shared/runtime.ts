/**
 * The one factory for the core's dependencies. A Lambda's composition root calls it once per
 * container (module scope) with the environment; tests and benchmarks call it with overrides for
 * what they replace (a mocked STS, an in-memory audit sink, a fake clock). Whatever is not
 * overridden is the production adapter, built only when needed.
 */
import { STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAuditSink } from '#shared/audit/audit.ts';
import { lambdaDocumentClient } from '#shared/aws.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { CachedConfigStore } from '#shared/config/store.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import type { Log } from '#shared/log.ts';
import { type Metrics, noMetrics } from '#shared/metrics.ts';
import { tableNameFromEnv } from '#shared/store/table.ts';

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number`);
  return value;
}

export interface IssueDepsOptions {
  /** Where the core and the audit sink log (the function's Powertools logger). */
  logger: Log;
  /** Where the core counts (the function's Powertools metrics); nothing is counted without it. */
  metrics?: Metrics;
  env?: NodeJS.ProcessEnv;
  /** One DynamoDB client for everything a function reads and writes (the SAML state too). */
  documentClient?: DynamoDBDocumentClient;
  /** Replaces the production adapter of each named dependency; `reuse: undefined` turns reuse off. */
  overrides?: Partial<IssueDeps>;
}

export function createIssueDeps(options: IssueDepsOptions): IssueDeps {
  const env = options.env ?? process.env;
  const overrides = options.overrides ?? {};
  let client = options.documentClient;
  const documentClient = () => {
    client ??= lambdaDocumentClient(env);
    return client;
  };
  const table = () => tableNameFromEnv(env);
  const metrics = overrides.metrics ?? options.metrics ?? noMetrics;
  return {
    config:
      overrides.config ??
      new CachedConfigStore(new DynamoConfigStore(documentClient(), table()), {
        ttlMs: positiveNumber(env, 'TVM_CONFIG_CACHE_TTL_SECONDS', 60) * 1000,
        metrics,
      }),
    // Retries are vendCredentials' job (bounded, jittered, only when they can help).
    sts: overrides.sts ?? new STSClient({ maxAttempts: 1 }),
    guard:
      overrides.guard ??
      createAccessGuard(
        new DynamoDenyList(documentClient(), table()),
        new DynamoRateLimiter(documentClient(), table()),
      ),
    audit:
      overrides.audit ??
      new DynamoAuditSink(documentClient(), table(), {
        retentionDays: positiveNumber(env, 'TVM_AUDIT_RETENTION_DAYS', 90),
        logger: options.logger,
        metrics,
      }),
    // 3 attempts of at most 2 s each stay well inside the 10 s Lambda timeout.
    vend: overrides.vend ?? { timeoutMs: 2_000, maxAttempts: 3 },
    // Per instance, in memory only; bounded so a burst of distinct principals cannot grow it.
    ...('reuse' in overrides
      ? overrides.reuse === undefined
        ? {}
        : { reuse: overrides.reuse }
      : { reuse: new CredentialReuseCache({ maxEntries: 5_000 }) }),
    logger: overrides.logger ?? options.logger,
    metrics,
    now: overrides.now ?? (() => new Date()),
  };
}
