import { describe, expect, it } from 'vitest';
import { childEnv, runCommand } from '../support/process.ts';

/** osls prints the handler's result last, pretty-printed; log lines before it are one-line JSON. */
function lastPrettyJson(stdout: string): unknown {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  if (start === -1) throw new Error(`no result in invoke local output:\n${stdout}`);
  return JSON.parse(lines.slice(start).join('\n'));
}

describe('health (serverless invoke local)', () => {
  it('answers 200 with the liveness body through the bundled CJS handler', async () => {
    // Act
    const result = await runCommand(
      'npx',
      [
        'serverless',
        'invoke',
        'local',
        '-f',
        'health',
        '--stage',
        'local',
        '--path',
        'test/fixtures/events/health-get.json',
      ],
      { env: childEnv(), timeoutMs: 120_000 },
    );

    // Assess
    expect(result.code, result.output).toBe(0);
    const response = lastPrettyJson(result.stdout) as {
      statusCode: number;
      headers: Record<string, string>;
      body: string;
    };
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(response.body)).toEqual({ status: 'ok', service: 'tvm', stage: 'local' });
  });
});
