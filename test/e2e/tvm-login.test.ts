/**
 * `tvm-login` end to end, with the real parts: SimpleSAMLphp (Debian's package under `php -S`)
 * signed in through by Debian's Chromium, while the real `tvm-login login` process (the built
 * launcher on the machine's own Node) waits on its loopback; the login routes in
 * serverless-offline with moto for DynamoDB and STS; `tvm-login configure` into a temporary AWS
 * config; and botocore from the project's .venv getting caller identity through
 * `credential_process`. Then the refresh after expiry (no browser), and the one-line message
 * after `tvm deny add`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SamlProvider } from '#shared/config/schema.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import { defaultDeps, runCli } from '../../scripts/cli/main.ts';
import { venvBin } from '../../scripts/local/aws-stack.ts';
import { buildLauncher } from '../../scripts/login/build.ts';
import { launchChromium } from '../support/browser.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import {
  freePort,
  type GroupProcess,
  groupAlive,
  killGroup,
  repoRoot,
  runCommand,
  spawnGroup,
} from '../support/process.ts';
import {
  type SimpleSamlIdp,
  signInAtSimpleSamlIdp,
  startSimpleSamlIdp,
} from '../support/saml-idp.ts';

const ACCOUNT = '123456789012';

/** The first `node` on PATH that is not the project's own: the launcher must not need Node 24. */
function machineNode(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || dir.startsWith(repoRoot)) continue;
    if (existsSync(path.join(dir, 'node'))) return path.join(dir, 'node');
  }
  return '/usr/bin/node';
}

const BOTOCORE = `
import json, sys, boto3
session = boto3.Session(profile_name=sys.argv[1])
print(json.dumps(session.client('sts', endpoint_url=sys.argv[2]).get_caller_identity()))
`;

describe('tvm-login: SimpleSAMLphp in Chromium, serverless-offline, moto, botocore credential_process', () => {
  let work: string;
  let launcher: string;
  let idp: SimpleSamlIdp;
  let tvm: LocalTvm;
  let offline: GroupProcess;
  let browser: Browser;
  let stopBrowser: () => Promise<void>;
  let base: string;
  let awsConfig: string;
  let cache: string;
  /** Every secret seen on the way, checked against every log at the end. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'tvm-login-e2e-'));
    cache = path.join(work, 'tvm-login');
    awsConfig = path.join(work, 'aws', 'config');
    ({ outfile: launcher } = await buildLauncher(path.join(work, 'bin', 'tvm-login.mjs')));
    const httpPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    const spEntityId = `${base}/v1/saml/corp/metadata`;
    idp = await startSimpleSamlIdp({
      spEntityId,
      acsUrl: `${base}/v1/saml/corp/acs`,
      spMetadataXml: spMetadataXml(
        { spEntityId, signAuthnRequests: false } as SamlProvider,
        spUrls(base, { id: 'corp' }),
      ),
    });
    const idpMetadata = await idp.metadataXml();
    tvm = await startLocalTvm({
      offline: true,
      httpPort,
      config: () => ({
        version: 1,
        providers: [
          {
            id: 'corp',
            type: 'saml',
            entityId: idp.entityId,
            ssoUrl: idp.ssoUrl,
            metadataXml: idpMetadata,
            spEntityId,
            attributeMap: { groups: 'groups', email: 'email' },
            claims: { groups: { type: 'list' }, email: { type: 'string' } },
            consoleRegion: 'eu-west-1',
          },
        ],
        mappings: [
          {
            id: 'corp-admin',
            provider: 'corp',
            description: 'Administrators',
            priority: 20,
            match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
            roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/corp-admin`,
          },
          {
            id: 'corp-reader',
            provider: 'corp',
            description: 'Read-only',
            priority: 10,
            match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
            roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/corp-reader`,
          },
        ],
      }),
      env: { TVM_PUBLIC_BASE_URL: base },
    });
    offline = tvm.offline as GroupProcess;
    ({ browser, stop: stopBrowser } = await launchChromium());
  }, 180_000);

  afterAll(async () => {
    await stopBrowser?.();
    const pid = offline?.pid;
    await tvm?.stop();
    await idp?.stop();
    if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** What a user's shell would have: the machine's Node first, no AWS keys, our files. */
  const userEnv = (): NodeJS.ProcessEnv => ({
    PATH: [path.dirname(machineNode()), '/usr/bin', '/bin'].join(path.delimiter),
    HOME: work,
    TVM_LOGIN_HOME: cache,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'aws', 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
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
