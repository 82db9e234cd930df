/**
 * `tvm-login login --device` in-process against the real device routes (the device harness):
 * the CLI's fetch is routed into the handlers, its sleep moves the harness clock, and the test
 * plays the person in the browser (type the code, sign in, approve or deny) between two polls.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultLoginDeps, runTvmLogin } from '../../../scripts/login/main.ts';
import { type DeviceHarness, startDeviceHarness } from '../../support/device-harness.ts';
import { SAML_TEST } from '../../support/login-harness.ts';

let home: string;
beforeEach(() => {
  home = mkdtempSync(path.join(tmpdir(), 'tvm-login-device-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** fetch, answered by the in-process handlers. */
function routedFetch(h: DeviceHarness): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const call = {
      method: init.method ?? 'GET',
      path: url.pathname,
      headers: Object.fromEntries(
        Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [
          k.toLowerCase(),
          v,
        ]),
      ),
      ...(typeof init.body === 'string' ? { body: init.body } : {}),
    };
    const answer = url.pathname.startsWith('/v1/device')
      ? await h.callDevice(call)
      : await h.call(call);
    return new Response(answer.status === 204 ? null : answer.body, {
      status: answer.status,
      headers: answer.headers,
    });
  }) as typeof fetch;
}

type Person = (h: DeviceHarness, userCode: string) => Promise<void>;

async function loginDevice(
  h: DeviceHarness,
  options: { person?: Person; sleepSeconds?: (ms: number) => number } = {},
) {
  const err: string[] = [];
  const out: string[] = [];
  const sleeps: number[] = [];
  let acted = false;
  const code = await runTvmLogin(
    ['login', '--device', '--url', SAML_TEST.baseUrl, '--provider', SAML_TEST.provider],
    { out: (line) => out.push(line), err: (line) => err.push(line) },
    defaultLoginDeps({
      env: { TVM_LOGIN_HOME: path.join(home, 'cache') },
      home,
      platform: 'linux',
      fetch: routedFetch(h),
      now: () => h.clock.now,
      openBrowser: async () => {
        throw new Error('the device flow never opens a browser');
      },
      sleep: async (ms) => {
        sleeps.push(ms);
        // The person acts while the CLI waits for its first poll.
        if (!acted && options.person !== undefined) {
          acted = true;
          const userCode = /enter the code: ([A-Z]{4}-[A-Z]{4})/.exec(err.join('\n'))?.[1] ?? '';
          await options.person(h, userCode);
        }
        h.advance((options.sleepSeconds?.(ms) ?? ms) / 1000);
      },
    }),
  );
  return { code, err, out, stderr: err.join('\n'), sleeps };
}

const approve: Person = async (h, userCode) => {
  const entered = await h.enter(userCode);
  const page = await h.postAcs(await h.startDevice(entered.headers.location ?? ''));
  const { token, cookie } = h.confirmForm(page);
  expect((await h.confirm({ token, decision: 'approve' }, cookie)).status).toBe(200);
};

const deny: Person = async (h, userCode) => {
  const entered = await h.enter(userCode);
  const page = await h.postAcs(await h.startDevice(entered.headers.location ?? ''));
  const { token, cookie } = h.confirmForm(page);
  await h.confirm({ token, decision: 'deny' }, cookie);
};

describe('tvm-login login --device', () => {
  it('prints the page and the code, polls, and stores the session once approved', async () => {
    const h = startDeviceHarness();
    const run = await loginDevice(h, { person: approve });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `open this page in any browser:\n  ${SAML_TEST.baseUrl}/v1/device`,
    );
    expect(run.stderr).toMatch(
      /enter the code: [BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/,
    );
    expect(run.stderr).toContain('Never enter a code someone sent you.');
    expect(run.stderr).toContain('Signed in to corp');
    expect(run.out).toEqual([]);
    expect(run.sleeps).toEqual([5000]);
    expect(h.store.sessions.size).toBe(1);
    expect(readdirSync(path.join(home, 'cache')).length).toBeGreaterThan(0);
    // No device code or handle on the terminal.
    const [handleHash] = [...h.store.sessions.keys()];
    expect(run.stderr).not.toMatch(/tvms_/);
    expect(handleHash).toBeDefined();
  });

  it('slow_down: the CLI adds 5 s to its interval', async () => {
    const h = startDeviceHarness();
    // The clock moves only 1 s per sleep at first: the second poll comes too early.
    let calls = 0;
    const run = await loginDevice(h, {
      person: async () => {},
      sleepSeconds: (ms) => {
        calls += 1;
        if (calls <= 2) return 1000;
        return ms;
      },
    });
    // Never approved: it ends at expiry, having slowed down once and kept the longer interval.
    expect(run.code).toBe(1);
    expect(run.sleeps.slice(0, 4)).toEqual([5000, 5000, 10000, 10000]);
    expect(h.audits.filter((record) => record.reason === 'device_slow_down')).toHaveLength(1);
  });

  it('denied in the browser: exit 1 with one line', async () => {
    const h = startDeviceHarness();
    const run = await loginDevice(h, { person: deny });
    expect(run.code).toBe(1);
    expect(run.err.at(-1)).toBe(
      `tvm-login: the sign-in was denied in the browser; run: tvm-login login --url ${SAML_TEST.baseUrl} --provider corp --device`,
    );
    expect(h.store.sessions.size).toBe(0);
  });

  it('nobody approves: it stops at expires_in', async () => {
    const h = startDeviceHarness();
    const run = await loginDevice(h, { sleepSeconds: () => 300_000 });
    expect(run.code).toBe(1);
    expect(run.err.at(-1)).toMatch(/^tvm-login: (nobody approved the code|the code expired)/);
  });
});
