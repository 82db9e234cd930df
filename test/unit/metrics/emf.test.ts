import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeContext, httpEvent } from '../../support/lambda-fakes.ts';
import { type CaptureOutput, captureOutput } from '../http/capture-output.ts';

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** Fresh modules, so the Powertools singletons are built under the stubbed stage. */
async function load() {
  vi.resetModules();
  const harness = await import('../../support/vend-harness.ts');
  const observability = await import('#functions/http/observability.ts');
  const middleware = await import('#functions/http/middleware.ts');
  return { ...harness, ...observability, ...middleware };
}

/** The EMF documents on stdout: what CloudWatch turns into metrics. */
function emfLines(output: CaptureOutput): Emf[] {
  return output.records().filter((record): record is Emf => '_aws' in record);
}

function metricNames(line: Emf): string[] {
  return line._aws.CloudWatchMetrics.flatMap((block) => block.Metrics.map((m) => m.Name));
}

describe('metrics through the real Powertools Metrics (EMF on stdout)', () => {
  let output: CaptureOutput;

  beforeEach(() => {
    vi.stubEnv('TVM_STAGE', 'test');
    // Powertools counts a cold start only in an on-demand execution environment.
    vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
    output = captureOutput();
  });

  afterEach(() => {
    output.restore();
    vi.unstubAllEnvs();
  });

  it('writes the TVM namespace, service and stage, each metric name, and flushes once per invocation', async () => {
    // Prepare
    const { startHarness, coreMetrics, STS_ANSWER } = await load();
    const harness = await startHarness({ metrics: coreMetrics });
    const token = await harness.mint();

    // Act
    const result = await harness.call({ token });
    await harness.stop();

    // Assess
    expect(result.status).toBe(200);
    const lines = emfLines(output);
    for (const line of lines) {
      expect(line._aws.CloudWatchMetrics[0]?.Namespace).toBe('TVM');
      expect(line).toMatchObject({ service: 'tvm', stage: 'test' });
    }
    const vend = lines.find((line) => metricNames(line).includes('Vend'));
    expect(vend?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service', 'stage'],
      ['service', 'stage', 'provider', 'mapping'],
    ]);
    expect(vend).toMatchObject({ provider: 'mobile', mapping: 'reader', Vend: 1 });
    const outcome = lines.find((line) => metricNames(line).includes('Outcome'));
    expect(outcome).toMatchObject({ reason: 'ok', Outcome: 1 });
    // The invocation's buffer (no dimensions of its own), flushed once by logMetrics.
    const flushed = lines.filter((line) => metricNames(line).includes('StsLatency'));
    expect(flushed).toHaveLength(1);
    expect(flushed[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'stage']]);
    expect(flushed[0]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: 'StsLatency', Unit: 'Milliseconds' },
    ]);
    const coldStart = lines.find((line) => metricNames(line).includes('ColdStart'));
    expect(coldStart).toMatchObject({ function_name: 'tvm-test-health', ColdStart: 1 });
    // Nothing personal or secret reaches CloudWatch.
    const text = JSON.stringify(lines);
    expect(text).not.toContain('alice');
    expect(text).not.toContain(STS_ANSWER.Credentials.AccessKeyId);
    expect(text).not.toContain(STS_ANSWER.Credentials.SecretAccessKey);
    expect(text).not.toContain(token.split('.')[1]);
  });

  it('counts a handled 500 as Http5xx of its function, and a 401 not at all', async () => {
    // Prepare
    const { withHttpStack } = await load();
    const errors = await import('#shared/errors.ts');
    const bug = withHttpStack(async () => {
      throw new TypeError('a bug');
    });
    const refused = withHttpStack(async () => {
      throw new errors.AuthenticationError('signature_invalid');
    });

    // Act
    const crashed = await bug(httpEvent(), fakeContext({ functionName: 'tvm-test-credentials' }));
    const unauthorized = await refused(httpEvent(), fakeContext());

    // Assess
    expect([crashed.statusCode, unauthorized.statusCode]).toEqual([500, 401]);
    const http5xx = emfLines(output).filter((line) => metricNames(line).includes('Http5xx'));
    expect(http5xx).toHaveLength(1);
    expect(http5xx[0]).toMatchObject({ function_name: 'tvm-test-credentials', Http5xx: 1 });
    expect(http5xx[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['service', 'stage'],
      ['service', 'stage', 'function_name'],
    ]);
  });
});
