import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * Process-wide singletons, created once per Lambda container (not per request).
 * Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE
 * (set in serverless.yml); the fallbacks keep tests and scripts from logging `service_undefined`.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'tvm',
});

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'TVM',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'tvm',
  // Only errors: it warns on every request that adds no application metric (liveness probes).
  logger: logger.createChild({ logLevel: 'ERROR' }),
});
