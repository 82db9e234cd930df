import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnv, freePort, groupAlive, runCommand } from '../support/process.ts';

const run = (args: string[], set: Record<string, string> = {}) =>
  runCommand('npx', ['tsx', 'scripts/local-aws.ts', ...args], {
    env: childEnv({ set, unset: ['AWS_ENDPOINT_URL*'] }),
  });

describe('local-aws command', () => {
  let port = '';
  // If an assertion fails half-way, still leave no moto behind.
  afterAll(async () => {
    if (port !== '') await run(['stop', '--port', port]);
  });

  it('starts moto in the background, creates the table idempotently, and stops with no orphan', async () => {
    // Prepare
    port = String(await freePort());

    // Act
    const started = await run(['start', '--port', port, '--table', 'tvm-cmd']);
    const again = await run(['start', '--port', port, '--table', 'tvm-cmd']);
    const status = await run(['status', '--port', port]);
    const pid = Number(/pid (\d+)/.exec(status.stdout)?.[1]);
    const stopped = await run(['stop', '--port', port]);
    const after = await run(['status', '--port', port]);

    // Assess
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('Table tvm-cmd: created.');
    expect(started.stdout).toContain(`export AWS_ENDPOINT_URL=http://127.0.0.1:${port}`);
    expect(again.code).toBe(0);
    expect(status.code).toBe(0);
    expect(stopped.stdout).toContain(`Stopped moto (pid ${pid})`);
    expect(groupAlive(pid)).toBe(false);
    expect(after.code).toBe(1);
  });

  it('without python3 it prints one clear error and exits 1', async () => {
    const result = await run(['install'], {
      TVM_VENV_DIR: join(mkdtempSync(join(tmpdir(), 'tvm-venv-')), 'none'),
      PYTHON: 'python3-that-does-not-exist',
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^python3-that-does-not-exist was not found\. The local AWS emulator \(moto\) and cfn-lint need Python/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects an unknown command with usage and exit 2', async () => {
    const result = await run(['explode']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: local-aws');
  });
});
