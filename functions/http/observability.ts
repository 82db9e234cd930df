import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Metrics as CoreMetrics, CountMetric, CountMetrics } from '#shared/metrics.ts';

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
  // Stages share the namespace in one account; the alarms select their own stage.
  defaultDimensions: { stage: process.env.TVM_STAGE || 'unknown' },
  // Only errors: it warns on every request that adds no application metric (liveness probes).
  logger: logger.createChild({ logLevel: 'ERROR' }),
});

/**
 * The core's `Metrics` over Powertools. A metric without dimensions joins the invocation's
 * buffer, flushed once by `logMetrics` (functions/http/middleware.ts). A Powertools flush
 * gives every metric in it the same dimensions, so a dimensioned one is published at once as
 * its own EMF line, under two dimension sets: service+stage (the total the alarms read) and
 * service+stage+its own (the breakdown the dashboard reads).
 */
export function powertoolsMetrics(target: Metrics): CoreMetrics {
  return {
    count<N extends CountMetric>(name: N, dimensions: CountMetrics[N]): void {
      if (Object.keys(dimensions).length === 0) {
        target.addMetric(name, MetricUnit.Count, 1);
        return;
      }
      const single = target.singleMetric();
      single.addDimensions({});
      single.addDimensions(dimensions);
      single.addMetric(name, MetricUnit.Count, 1);
    },
    milliseconds(name, value) {
      target.addMetric(name, MetricUnit.Milliseconds, value);
    },
  };
}

/** What every composition root hands the core (createIssueDeps) and the authenticator. */
export const coreMetrics = powertoolsMetrics(metrics);
