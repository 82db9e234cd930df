import type { AuditReason } from '#shared/errors.ts';

/**
 * What the TVM counts, each metric with the dimensions it carries. Every dimension value comes
 * from the config (provider and mapping ids) or from code (reasons, statuses, function names):
 * never a subject, a token, a key or client text, so cardinality stays bounded and nothing
 * personal or secret reaches CloudWatch.
 */
export interface CountMetrics {
  /** Credentials handed out (after their audit record was written), fresh or reused. */
  Vend: { provider: string; mapping: string };
  /** Credentials handed out from this instance's reuse cache instead of a new STS call. */
  ReuseHit: { provider: string; mapping: string };
  /** One per decision the core records: the audit record's reason. */
  Outcome: { reason: AuditReason };
  /** Refusals answered 401 or 403: the input of the denial spike alarm. */
  Denied: { status: '401' | '403' };
  /** An audit record could not be written (credentials are withheld when it was an allow). */
  AuditWriteFailed: Record<string, never>;
  /** One STS attempt answered with throttling. */
  StsThrottled: Record<string, never>;
  /** One STS attempt failed with a 5xx, a network error or a timeout. */
  StsUnavailable: Record<string, never>;
  /** A request refused because a provider's JWKS could not be fetched (nor served stale). */
  JwksUnavailable: { provider: string };
  /** A request refused because the config could not be read, or none was ever applied. */
  ConfigUnavailable: Record<string, never>;
  /** A 5xx answer from a function (handled ones included, which Lambda `Errors` never counts). */
  Http5xx: { function_name: string };
}

export type CountMetric = keyof CountMetrics;

/**
 * What the core counts through. The functions hand it the Powertools adapter
 * (functions/http/observability.ts); tests hand it a recording fake.
 */
export interface Metrics {
  count<N extends CountMetric>(name: N, dimensions: CountMetrics[N]): void;
  /** One STS round trip, answered or not. */
  milliseconds(name: 'StsLatency', value: number): void;
}

/** Every metric name, for the docs check and the template's alarms. */
export const METRIC_NAMES = [
  'Vend',
  'ReuseHit',
  'Outcome',
  'Denied',
  'AuditWriteFailed',
  'StsThrottled',
  'StsUnavailable',
  'JwksUnavailable',
  'ConfigUnavailable',
  'Http5xx',
  'StsLatency',
] as const satisfies readonly (CountMetric | 'StsLatency')[];

/** Where nothing is measured: CLI scripts, benchmarks and tests that do not look. */
export const noMetrics: Metrics = {
  count() {},
  milliseconds() {},
};

/** One answered decision: its reason, and a denial when the answer was 401 or 403. */
export function countOutcome(metrics: Metrics, reason: AuditReason, status: number): void {
  metrics.count('Outcome', { reason });
  if (status === 401) metrics.count('Denied', { status: '401' });
  if (status === 403) metrics.count('Denied', { status: '403' });
}
