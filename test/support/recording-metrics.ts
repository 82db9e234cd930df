import type { CountMetric, CountMetrics, Metrics } from '#shared/metrics.ts';

export interface RecordedMetric {
  name: string;
  dimensions: Record<string, string>;
  value: number;
}

/** A `Metrics` that keeps what it was told, for tests that assert where each metric comes from. */
export interface RecordingMetrics extends Metrics {
  events: RecordedMetric[];
  /** How many times `name` was counted with (at least) these dimensions. */
  counted(name: CountMetric | 'StsLatency', dimensions?: Record<string, string>): number;
  /** Names in the order they were recorded. */
  names(): string[];
  clear(): void;
}

export function recordingMetrics(): RecordingMetrics {
  const events: RecordedMetric[] = [];
  return {
    events,
    count<N extends CountMetric>(name: N, dimensions: CountMetrics[N]): void {
      events.push({ name, dimensions: { ...dimensions }, value: 1 });
    },
    milliseconds(name, value) {
      events.push({ name, dimensions: {}, value });
    },
    counted(name, dimensions = {}) {
      return events.filter(
        (event) =>
          event.name === name &&
          Object.entries(dimensions).every(([key, value]) => event.dimensions[key] === value),
      ).length;
    },
    names: () => events.map((event) => event.name),
    clear() {
      events.length = 0;
    },
  };
}
