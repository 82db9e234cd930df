/**
 * The device flow (RFC 8628) end to end, with the real parts: the real `tvm-login login --device`
 * process (the built launcher on the machine's own Node) prints the verification page and the
 * code and polls; Debian's Chromium opens the page, types the code, signs in at SimpleSAMLphp and
 * answers the confirm page; the routes run in serverless-offline with moto for DynamoDB and STS.
 * Then: Deny, slow_down, a device code used twice, a confirm form replayed, user-code guessing
 * past the limit (last: its counter is per address and stays for the window).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GroupProcess, killGroup, runCommand, spawnGroup } from '../support/process.ts';
import { signInAtSimpleSamlIdp } from '../support/saml-idp.ts';
import { startTvmLoginStack, type TvmLoginStack } from '../support/tvm-login-stack.ts';

describe('tvm-login login --device: SimpleSAMLphp in Chromium on the verification page, serverless-offline, moto', () => {
  let stack: TvmLoginStack;
  let work: string;
  let launcher: string;
  let offline: GroupProcess;
  let browser: Browser;
  let base: string;
  let cache: string;
  /** Every secret seen on the way, checked against every log at the end. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    stack = await startTvmLoginStack('tvm-login-device-e2e-');
    ({ work, launcher, offline, browser, base, cache } = stack);
  }, 180_000);

  afterAll(async () => {
    if (stack !== undefined) expect(await stack.stop()).toBe(true);
  });

  const userEnv = (): NodeJS.ProcessEnv => stack.userEnv();
  const target = () => ['--url', base, '--provider', 'corp'];

  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  const authorize = async () => {
    const answer = await fetch(`${base}/v1/device/authorize`, form({ provider: 'corp' }));
    expect(answer.status).toBe(200);
    return (await answer.json()) as Record<string, string>;
  };
  const poll = async (deviceCode: string) => {
    const answer = await fetch(
      `${base}/v1/device/token`,
      form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode }),
    );
    return { status: answer.status, body: (await answer.json()) as Record<string, string> };
  };

  /** Starts `tvm-login login --device` and reads the page and the code it prints. */
  async function startDeviceLogin() {
    const login = spawnGroup(launcher, ['login', '--device', ...target()], {
      cwd: work,
      env: userEnv(),
    });
    const deadline = Date.now() + 15_000;
    let userCode: string | undefined;
    while (userCode === undefined && Date.now() < deadline) {
      userCode = /enter the code: ([A-Z]{4}-[A-Z]{4})$/m.exec(login.stderr())?.[1];
      if (userCode === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(userCode, login.output()).toBeDefined();
    const verificationUri = /^ {2}(http\S+)$/m.exec(login.stderr())?.[1];
    expect(verificationUri).toBe(`${base}/v1/device`);
    return { login, userCode: userCode as string };
  }

  /** The person: the verification page, the code, the IdP, the confirm page. */
  async function toConfirmPage(page: Page, userCode: string) {
    await page.goto(`${base}/v1/device`);
    await page.fill('input[name="user_code"]', userCode.toLowerCase());
    await page.click('button[type="submit"]');
    await signInAtSimpleSamlIdp(page, 'alice', 'alice-pass');
    await page.waitForSelector('h1:has-text("A device asked for AWS access as you")', {
      timeout: 30_000,
    });
  }

  it('start, sign in on the verification page, approve: the poller gets the session', async () => {
    const { login, userCode } = await startDeviceLogin();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await toConfirmPage(page, userCode);
      const text = (await page.textContent('main')) ?? '';
      expect(text).toContain('alice@corp.example');
      expect(text).toContain(userCode);
      expect(text).toContain('Continue only if you started this on your own device');
      const token = await page.getAttribute('input[name="token"]', 'value');
      await page.click('button[value="approve"]');
      await page.waitForSelector('h1:has-text("Device approved")');
      const exit = await login.exited;
      expect(exit.code, login.output()).toBe(0);
      expect(login.stdout()).toBe('');
      expect(login.stderr()).toContain(`Signed in to corp at ${base}`);
      const [sessionFile] = readdirSync(cache).filter((name) => name.endsWith('.session.json'));
      const stored = JSON.parse(readFileSync(path.join(cache, sessionFile ?? 'missing'), 'utf8'));
      expect(stored.session).toMatch(/^tvms_[A-Za-z0-9_-]{43}$/);
      secrets.add(stored.session);

      // The confirm form replayed from the same browser (its cookie included): refused.
      const replayed = await context.request.post(`${base}/v1/device/confirm`, {
        form: { token: token ?? '', decision: 'approve' },
      });
      expect(replayed.status()).toBe(401);
      expect(await replayed.text()).toContain('We could not sign you in.');

      // The session works: credential_process for a role, through the login session.
      const vended = await runCommand(
        launcher,
        ['credential-process', ...target(), '--role', 'corp-reader'],
        { cwd: work, env: userEnv(), timeoutMs: 30_000 },
      );
      expect(vended.code, vended.output).toBe(0);
      const credentials = JSON.parse(vended.stdout);
      expect(credentials.AccessKeyId).toMatch(/^ASIA/);
      secrets.add(credentials.SecretAccessKey).add(credentials.SessionToken);
      await context.close();
    } finally {
      await killGroup(login);
    }
  }, 120_000);

  it('Deny: the CLI exits 1 with one line, and no session', async () => {
    const { login, userCode } = await startDeviceLogin();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await toConfirmPage(page, userCode);
      await page.click('button[value="deny"]');
      await page.waitForSelector('h1:has-text("Device denied")');
      const exit = await login.exited;
      expect(exit.code).toBe(1);
      expect(login.stderr().trim().split('\n').at(-1)).toBe(
        `tvm-login: the sign-in was denied in the browser; run: tvm-login login --url ${base} --provider corp --device`,
      );
      await context.close();
    } finally {
      await killGroup(login);
    }
  }, 120_000);

  it('slow_down, and a device code used twice', async () => {
    const started = await authorize();
    secrets.add(started.device_code as string);
    expect(await poll(started.device_code as string)).toEqual({
      status: 400,
      body: { error: 'authorization_pending' },
    });
    expect(await poll(started.device_code as string)).toEqual({
      status: 400,
      body: { error: 'slow_down' },
    });

    const context = await browser.newContext();
    const page = await context.newPage();
    await toConfirmPage(page, started.user_code as string);
    await page.click('button[value="approve"]');
    await page.waitForSelector('h1:has-text("Device approved")');
    await context.close();
    const issued = await poll(started.device_code as string);
    expect(issued.status).toBe(200);
    secrets.add(issued.body.session as string);
    expect(await poll(started.device_code as string)).toEqual({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  }, 120_000);

  it('user-code guessing past the per-address limit: 429, even for the right code', async () => {
    const started = await authorize();
    const typed: number[] = [];
    for (let guess = 0; guess < 12; guess += 1) {
      const answer = await fetch(`${base}/v1/device`, {
        ...form({ user_code: 'BCDF-GHJK' }),
        redirect: 'manual',
      });
      typed.push(answer.status);
    }
    // Earlier tests typed codes from this address too: the limit (10 per 5 min) is reached here.
    expect(typed).toContain(429);
    expect(typed.slice(typed.indexOf(429)).every((status) => status === 429)).toBe(true);
    const right = await fetch(`${base}/v1/device`, {
      ...form({ user_code: started.user_code as string }),
      redirect: 'manual',
    });
    expect(right.status).toBe(429);
    // Nothing secret in the functions' logs.
    const logs = offline.output();
    for (const secret of secrets) expect(logs).not.toContain(secret);
  }, 120_000);
});
