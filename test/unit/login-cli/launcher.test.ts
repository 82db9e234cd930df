/**
 * The launcher users put in credential_process: the esbuild bundle of scripts/login, run as its
 * own process by the machine's Node (20 here, not the project's 24), from outside the repository,
 * with no tsx and no node_modules. The login's browser is `$TVM_LOGIN_BROWSER`, a small script
 * that follows the sign-in URL as a browser would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLauncher, LAUNCHER_PATH } from '../../../scripts/login/build.ts';
import { type FakeLoginTvm, startFakeLoginTvm } from '../../support/fake-login-tvm.ts';
import { repoRoot, runCommand } from '../../support/process.ts';

/** The first `node` on PATH that is not the project's own (node_modules/.bin). */
function machineNode(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || dir.startsWith(repoRoot)) continue;
    const candidate = path.join(dir, 'node');
    if (existsSync(candidate)) return candidate;
  }
  return '/usr/bin/node';
}

const BROWSER_SCRIPT = `#!/usr/bin/env node
// A stand-in browser: follows the sign-in URL (a 302 to the loopback) and records the page.
const [url] = process.argv.slice(2);
const start = await fetch(url, { redirect: 'manual' });
const back = await fetch(start.headers.get('location'));
const text = await back.text();
(await import('node:fs')).writeFileSync(process.env.BROWSER_LOG, JSON.stringify({ status: back.status, text }));
`;

describe('the tvm-login launcher (dist/tvm-login.mjs)', () => {
  let work: string;
  let launcher: string;
  let inputs: string[];
  let node: string;
  let fake: FakeLoginTvm;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'tvm-login-launcher-'));
    const built = await buildLauncher(path.join(work, 'bin', 'tvm-login.mjs'));
    launcher = built.outfile;
    inputs = Object.keys(built.metafile.inputs);
    node = machineNode();
    fake = await startFakeLoginTvm();
  }, 30_000);

  afterAll(async () => {
    await fake?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** The machine's Node first on PATH, so the launcher's `#!/usr/bin/env node` finds it. */
  const env = (more: Record<string, string> = {}) => ({
    PATH: [path.dirname(node), '/usr/bin', '/bin'].join(path.delimiter),
    HOME: work,
    TVM_LOGIN_HOME: path.join(work, 'cache'),
    ...more,
  });
  const run = (args: string[], more: Record<string, string> = {}) =>
    runCommand(launcher, args, { cwd: work, env: env(more), timeoutMs: 30_000 });

  it('is one executable ES module of tvm-login code and Node built-ins only', () => {
    // Assess
    expect(
      inputs.filter((input) => !/^(scripts\/login\/|shared\/config\/limits\.ts$)/.test(input)),
    ).toEqual([]);
    const text = readFileSync(launcher, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const imported = [...text.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((name) => !name?.startsWith('node:'))).toEqual([]);
    expect(statSync(launcher).mode & 0o777).toBe(0o755);
  });

  it('runs on the machine’s own Node (>= 20) from outside the repository', async () => {
    // Act
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    const help = await run(['--help']);

    // Assess
    expect(Number(/^v(\d+)\./.exec(version)?.[1])).toBeGreaterThanOrEqual(20);
    expect(help.code, help.output).toBe(0);
    expect(help.stdout).toContain('Usage: tvm-login <command>');
  });

  it('login through $TVM_LOGIN_BROWSER, configure, then two concurrent credential_process runs: one TVM call', async () => {
    // Prepare
    const browser = path.join(work, 'browse.mjs');
    writeFileSync(browser, BROWSER_SCRIPT, { mode: 0o755 });
    const browserLog = path.join(work, 'browser.json');
    const awsConfig = path.join(work, 'aws-config');
    const targetArgs = ['--url', fake.url, '--provider', 'corp'];

    // Act 1: the real process waits on its loopback while the "browser" comes back to it.
    const login = await run(['login', ...targetArgs], {
      TVM_LOGIN_BROWSER: browser,
      BROWSER_LOG: browserLog,
    });
    const configure = await run(['configure', ...targetArgs, '--aws-config', awsConfig]);

    // Assess 1
    expect(login.code, login.output).toBe(0);
    expect(JSON.parse(readFileSync(browserLog, 'utf8')).status).toBe(200);
    expect(login.durationMs).toBeLessThan(10_000);
    expect(configure.code, configure.output).toBe(0);
    const line = readFileSync(awsConfig, 'utf8')
      .split('\n')
      .find((text) => text.startsWith('credential_process') && text.endsWith('corp-reader'));
    expect(line).toBe(
      `credential_process = ${launcher} credential-process --url ${fake.url} --provider corp --role corp-reader`,
    );

    // Act 2: the AWS CLI may start several credential processes at once (e.g. parallel commands).
    fake.credentialDelayMs = 500;
    const argv = (line ?? '').replace('credential_process = ', '').split(' ');
    const [a, b] = await Promise.all([
      runCommand(argv[0] as string, argv.slice(1), { cwd: work, env: env(), timeoutMs: 30_000 }),
      runCommand(argv[0] as string, argv.slice(1), { cwd: work, env: env(), timeoutMs: 30_000 }),
    ]);

    // Assess 2
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    expect(fake.count('POST /v1/login/credentials')).toBe(1);
    expect(a.stdout).toBe(b.stdout);
    expect(JSON.parse(a.stdout)).toMatchObject({ Version: 1, AccessKeyId: 'ASIAFAKE000000000001' });
    expect(a.stderr).toBe('');
    expect(b.stderr).toBe('');
    for (const secret of fake.secrets) {
      expect(login.output + configure.output + a.stderr + b.stderr).not.toContain(secret);
    }
  }, 60_000);

  it('`npm run build:login` writes dist/tvm-login.mjs, executable', async () => {
    // Act
    const build = await runCommand('npm', ['run', '--silent', 'build:login'], {
      timeoutMs: 60_000,
    });

    // Assess
    expect(build.code, build.output).toBe(0);
    expect(statSync(LAUNCHER_PATH).mode & 0o111).toBe(0o111);
    expect(readFileSync(LAUNCHER_PATH, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  }, 60_000);
});
