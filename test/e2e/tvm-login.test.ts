/**
 * `tvm-login` end to end, with the real parts: SimpleSAMLphp (Debian's package under `php -S`)
 * signed in through by Debian's Chromium, while the real `tvm-login login` process (the built
 * launcher on the machine's own Node) waits on its loopback; the login routes in
 * serverless-offline with moto for DynamoDB and STS; `tvm-login configure` into a temporary AWS
 * config; and botocore from the project's .venv getting caller identity through
 * `credential_process`. Then the refresh after expiry (no browser), and the one-line message
 * after `tvm deny add`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps, runCli } from '../../scripts/cli/main.ts';
import { venvBin } from '../../scripts/local/aws-stack.ts';
import type { LocalTvm } from '../support/local-tvm.ts';
import { type GroupProcess, killGroup, runCommand, spawnGroup } from '../support/process.ts';
import { type SimpleSamlIdp, signInAtSimpleSamlIdp } from '../support/saml-idp.ts';
import { ACCOUNT, startTvmLoginStack, type TvmLoginStack } from '../support/tvm-login-stack.ts';

const BOTOCORE = `
import json, sys, boto3
session = boto3.Session(profile_name=sys.argv[1])
print(json.dumps(session.client('sts', endpoint_url=sys.argv[2]).get_caller_identity()))
`;

describe('tvm-login: SimpleSAMLphp in Chromium, serverless-offline, moto, botocore credential_process', () => {
  let stack: TvmLoginStack;
  let work: string;
  let launcher: string;
  let idp: SimpleSamlIdp;
  let tvm: LocalTvm;
  let offline: GroupProcess;
  let browser: Browser;
  let base: string;
  let awsConfig: string;
  let cache: string;
  /** Every secret seen on the way, checked against every log at the end. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    stack = await startTvmLoginStack('tvm-login-e2e-');
    ({ work, launcher, idp, tvm, offline, browser, base, awsConfig, cache } = stack);
  }, 180_000);

  afterAll(async () => {
    if (stack !== undefined) expect(await stack.stop()).toBe(true);
  });

  const userEnv = (): NodeJS.ProcessEnv => stack.userEnv();
  const tvmLogin = (args: string[]) =>
    runCommand(launcher, args, { cwd: work, env: userEnv(), timeoutMs: 30_000 });
  const botocore = (profile: string) =>
    runCommand(venvBin('python'), ['-c', BOTOCORE, profile, tvm.moto.endpoint], {
      cwd: work,
      env: userEnv(),
      timeoutMs: 60_000,
    });
  const target = () => ['--url', base, '--provider', 'corp'];
  const credentialsFile = (role: string) => {
    const name = readdirSync(cache).find((file) => file.endsWith(`.${role}.credentials.json`));
    return path.join(cache, name ?? `missing-${role}`);
  };
  const cached = (role: string) => JSON.parse(readFileSync(credentialsFile(role), 'utf8'));
  /** Leaves the cached credentials 2 minutes: under the 5-minute margin, so the next use refreshes. */
  const nearlyExpire = (role: string) => {
    const stored = cached(role);
    stored.expiration = new Date(Date.now() + 2 * 60_000).toISOString();
    writeFileSync(credentialsFile(role), JSON.stringify(stored));
  };

  it('login: Chromium signs in at SimpleSAMLphp while the real tvm-login waits on its loopback', async () => {
    // Prepare: the login process prints the URL (--no-browser); the test drives Chromium there.
    const login = spawnGroup(launcher, ['login', ...target(), '--no-browser', '--timeout', '90'], {
      cwd: work,
      env: userEnv(),
    });
    try {
      const deadline = Date.now() + 15_000;
      let signInUrl: string | undefined;
      while (signInUrl === undefined && Date.now() < deadline) {
        signInUrl = /^ {2}(http\S+)$/m.exec(login.stderr())?.[1];
        if (signInUrl === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(signInUrl, login.output()).toBeDefined();
      const start = new URL(signInUrl as string);
      expect(`${start.origin}${start.pathname}`).toBe(`${base}/v1/saml/corp/login`);
      const redirectUri = start.searchParams.get('redirect_uri') ?? '';
      expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

      // Act: the IdP's own form, its auto-posted response, the TVM's 302 back to the loopback.
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(signInUrl as string);
      expect(new URL(page.url()).origin).toBe(new URL(idp.baseUrl).origin);
      await signInAtSimpleSamlIdp(page, 'alice', 'alice-pass');
      await page.waitForSelector('h1:has-text("Signed in")', { timeout: 30_000 });
      const landed = new URL(page.url());
      const exit = await login.exited;

      // Assess
      expect(`${landed.origin}${landed.pathname}`).toBe(redirectUri);
      expect(landed.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      secrets.add(landed.searchParams.get('code') as string);
      expect(exit.code, login.output()).toBe(0);
      expect(login.stdout()).toBe('');
      expect(login.stderr()).toContain(`Signed in to corp at ${base}`);
      const [sessionFile] = readdirSync(cache).filter((name) => name.endsWith('.session.json'));
      const stored = JSON.parse(readFileSync(path.join(cache, sessionFile ?? 'missing'), 'utf8'));
      expect(stored.session).toMatch(/^tvms_[A-Za-z0-9_-]{43}$/);
      secrets.add(stored.session);
      await context.close();
    } finally {
      await killGroup(login);
    }
  }, 120_000);

  it('configure writes the profiles, and botocore gets caller identity through credential_process', async () => {
    // Act
    const configure = await tvmLogin(['configure', ...target(), '--region', 'eu-west-1']);
    const reader = await botocore('tvm-corp-reader');
    const admin = await botocore('tvm-corp-admin');
    const again = await botocore('tvm-corp-reader');

    // Assess: one profile per role alice maps to, running this launcher.
    expect(configure.code, configure.output).toBe(0);
    const config = readFileSync(awsConfig, 'utf8');
    expect(config).toContain('[profile tvm-corp-admin]');
    expect(config).toContain(
      `credential_process = ${launcher} credential-process --url ${base} --provider corp --role corp-reader`,
    );
    // botocore ran the launcher and used what it printed.
    expect(reader.code, reader.output).toBe(0);
    expect(JSON.parse(reader.stdout).Arn).toMatch(
      new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/corp-reader/`),
    );
    expect(admin.code, admin.output).toBe(0);
    expect(JSON.parse(admin.stdout).Arn).toMatch(/assumed-role\/corp-admin\//);
    // The second process got the cached credentials (same key), not new ones.
    expect(again.code, again.output).toBe(0);
    const first = cached('corp-reader');
    expect(first.accessKeyId).toMatch(/^ASIA/);
    secrets.add(first.secretAccessKey).add(first.sessionToken);
    secrets.add(cached('corp-admin').secretAccessKey);
  }, 120_000);

  it('after the cached credentials expire, the next call refreshes them with no browser', async () => {
    // Prepare
    const before = cached('corp-reader');
    nearlyExpire('corp-reader');

    // Act: no login process and no browser page is open any more.
    const refreshed = await botocore('tvm-corp-reader');

    // Assess
    expect(refreshed.code, refreshed.output).toBe(0);
    expect(JSON.parse(refreshed.stdout).Arn).toMatch(/assumed-role\/corp-reader\//);
    const after = cached('corp-reader');
    expect(after.accessKeyId).not.toBe(before.accessKeyId);
    expect(Date.parse(after.expiration) - Date.now()).toBeGreaterThan(50 * 60_000);
    secrets.add(after.secretAccessKey).add(after.sessionToken);
  }, 120_000);

  it('after `tvm deny add`, the next refresh fails with the one-line message', async () => {
    // Prepare: the admin denies alice (issuer = the IdP, subject = her NameID).
    const out: string[] = [];
    const denied = await runCli(
      ['deny', 'add', '--provider', 'corp', '--subject', 'alice@corp.example'],
      { out: (line) => out.push(line), err: (line) => out.push(line), color: false },
      defaultDeps({ ...process.env, ...tvm.env }),
    );
    expect(denied, out.join('\n')).toBe(0);
    expect(out.join('\n')).toMatch(/ended [1-9]\d* terminal login session/);
    nearlyExpire('corp-reader');

    // Act
    const direct = await tvmLogin(['credential-process', ...target(), '--role', 'corp-reader']);
    const viaBotocore = await botocore('tvm-corp-reader');

    // Assess: exit 1 and exactly one line, which botocore passes on in its error.
    const line = `tvm-login: your session for corp at ${base} has ended; run: tvm-login login --url ${base} --provider corp`;
    expect(direct.code).toBe(1);
    expect(direct.stdout).toBe('');
    expect(direct.stderr).toBe(`${line}\n`);
    expect(viaBotocore.code).not.toBe(0);
    expect(viaBotocore.stderr).toContain(line);
    // Nothing secret in any log: the functions', the CLI's, botocore's.
    const logs = offline.output() + direct.output + viaBotocore.output;
    for (const secret of secrets) expect(logs).not.toContain(secret);
  }, 120_000);
});
