import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { runCommand } from '../support/process.ts';

/** osls prints the handler's result last, pretty-printed; log lines before it are one-line JSON. */
function lastPrettyJson(stdout: string): {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  if (start === -1) throw new Error(`no result in invoke local output:\n${stdout}`);
  return JSON.parse(lines.slice(start).join('\n'));
}

describe('credentials (serverless invoke local with an event file)', () => {
  let tvm: LocalTvm;

  beforeAll(async () => {
    tvm = await startLocalTvm({ offline: false });
  });
  afterAll(async () => {
    await tvm?.stop();
  });

  it('vends through the bundled CJS handler against moto', async () => {
    // Prepare: the committed event file, with a fresh token from the real issuer.
    const token = await tvm.issuer.mint({ sub: 'alice', tenant: 'acme' });
    const event = readFileSync('test/fixtures/events/credentials-post.json', 'utf8').replace(
      '__ID_TOKEN__',
      token,
    );
    const path = join(mkdtempSync(join(tmpdir(), 'tvm-event-')), 'event.json');
    writeFileSync(path, event);

    // Act
    const result = await runCommand(
      'npx',
      ['serverless', 'invoke', 'local', '-f', 'credentials', '--stage', 'local', '--path', path],
      { env: tvm.env, timeoutMs: 120_000 },
    );

    // Assess
    expect(result.code, result.output).toBe(0);
    const response = lastPrettyJson(result.stdout);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(response.body);
    expect(body).toMatchObject({
      mapping: 'tenant-reader',
      roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-reader',
      durationSeconds: 900,
      // The default SourceIdentity: the sub tagged with 8 hex of sha256(iss).
      sourceIdentity: `alice@${createHash('sha256').update(tvm.issuer.issuer).digest('hex').slice(0, 8)}`,
      credentials: { accessKeyId: expect.stringMatching(/^ASIA/) },
    });
    // The printed result holds the credentials by design; the log lines before it must not.
    const logs = result.stdout.slice(0, result.stdout.lastIndexOf('\n{'));
    expect(logs).toContain('"message":"audit"');
    expect(logs).not.toContain(body.credentials.secretAccessKey);
    expect(logs).not.toContain(token);
  });
});
