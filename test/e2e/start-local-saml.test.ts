/**
 * `npm start` itself (scripts/start-local.ts under tsx, as a user runs it) with the SAML demo: on
 * free ports, with its state (IdP key pair, generated config, logs) in a temporary directory, so
 * it neither collides with nor touches a developer's own `npm start`. No browser: the SP side is
 * checked with plain HTTP, the full browser login is test/e2e/saml-browser.test.ts's job. Then
 * Ctrl-C (SIGINT to the process group, as a terminal sends it) must end every process it started.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  childEnv,
  freePort,
  type GroupProcess,
  groupAlive,
  killGroup,
  spawnGroup,
} from '../support/process.ts';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `count` distinct free loopback ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** The process groups of `pid`'s descendants (and its own), read from /proc. */
function descendantGroups(pid: number): Set<number> {
  const parent = new Map<number, number>();
  const group = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(ppid));
      group.set(Number(entry), Number(pgrp));
    } catch {
      // Exited while we looked.
    }
  }
  const groups = new Set<number>([pid]);
  for (const candidate of parent.keys()) {
    for (let at: number | undefined = candidate; at !== undefined && at > 1; ) {
      if (at === pid) {
        const pgrp = group.get(candidate);
        if (pgrp !== undefined) groups.add(pgrp);
        break;
      }
      at = parent.get(at);
    }
  }
  return groups;
}

async function listening(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, {
      signal: AbortSignal.timeout(1_000),
    });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** GET, following redirects by hand and sending back the cookies set on the way (as a browser). */
async function fetchWithCookies(url: string): Promise<{ status: number; body: string }> {
  const cookies = new Map<string, string>();
  let at = url;
  for (let hop = 0; hop < 5; hop += 1) {
    const response = await fetch(at, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const equals = pair.indexOf('=');
      if (equals > 0) cookies.set(pair.slice(0, equals).trim(), pair.slice(equals + 1).trim());
    }
    const next = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || next === null) {
      return { status: response.status, body: await response.text() };
    }
    await response.body?.cancel();
    at = new URL(next, at).href;
  }
  throw new Error(`more than 5 redirects from ${url}`);
}

describe('npm start with the SAML demo (start-local.ts)', () => {
  let stateDir: string;
  let started: GroupProcess | undefined;
  let awsPort: number;
  let httpPort: number;
  let idpPort: number;
  let standInPort: number;
  let issuerPort: number;
  let base: string;
  let startupMs: number;
  let groups = new Set<number>();

  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'tvm-start-local-'));
    let lambdaPort: number;
    [awsPort, httpPort, idpPort, standInPort, issuerPort, lambdaPort] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    base = `http://127.0.0.1:${httpPort}`;
    const begin = Date.now();
    started = spawnGroup('npx', ['tsx', 'scripts/start-local.ts'], {
      env: childEnv({
        set: {
          TVM_LOCAL_AWS_PORT: String(awsPort),
          TVM_HTTP_PORT: String(httpPort),
          TVM_SAML_IDP_PORT: String(idpPort),
          TVM_CONSOLE_STANDIN_PORT: String(standInPort),
          TVM_DEV_ISSUER_PORT: String(issuerPort),
          TVM_LAMBDA_PORT: String(lambdaPort),
          TVM_LOCAL_STATE_DIR: stateDir,
        },
        unset: [
          'AWS_PROFILE',
          'AWS_SESSION_TOKEN',
          'AWS_CONTAINER_*',
          'TVM_PUBLIC_BASE_URL',
          'TVM_FEDERATION_URL',
        ],
      }),
    });
    const proc = started;
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    const deadline = Date.now() + 90_000;
    while (!proc.output().includes('Press Ctrl-C to stop.')) {
      if (exited || Date.now() > deadline) {
        throw new Error(`npm start did not come up:\n${proc.output()}`);
      }
      await delay(100);
    }
    startupMs = Date.now() - begin;
  }, 120_000);

  afterAll(async () => {
    // Only if a test failed before Ctrl-C: never leave a server behind.
    for (const pgid of groups) {
      if (pgid !== started?.pid && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
    if (started !== undefined) await killGroup(started);
    await rm(stateDir, { recursive: true, force: true });
  }, 30_000);

  it('comes up with the SAML demo and says how to use it', () => {
    // Assess
    const output = started?.output() ?? '';
    expect(output).toContain(`SAML IdP (SimpleSAMLphp) at http://127.0.0.1:${idpPort}/`);
    expect(output).toContain(`${base}/v1/saml/corp/login?target=console`);
    expect(output).toContain(`${base}/v1/saml/corp/login?target=credentials`);
    expect(output).toContain('alice / alice-pass');
    expect(output).not.toContain('SAML demo off');
    // Its state went to the redirected directory: the IdP key pair and the applied config.
    expect(existsSync(path.join(stateDir, 'saml-idp', 'cert', 'idp.key'))).toBe(true);
    const applied = readFileSync(path.join(stateDir, 'demo-config.generated.yaml'), 'utf8');
    expect(applied).toContain('id: corp');
    expect(applied).toContain(`issuer: http://127.0.0.1:${issuerPort}`);
    console.info(`npm start was ready after ${startupMs} ms`);
  });

  it('answers the health check', async () => {
    // Act
    const response = await fetch(`${base}/v1/health`);

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', service: 'tvm', stage: 'local' });
  });

  it('serves the SP metadata of provider corp with its entity id', async () => {
    // Act
    const response = await fetch(`${base}/v1/saml/corp/metadata`);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/xml/);
    const xml = await response.text();
    expect(xml).toContain(`entityID="${base}/v1/saml/corp/metadata"`);
    expect(xml).toContain(`Location="${base}/v1/saml/corp/acs"`);
  });

  it('sends a credentials login to the local IdP with an AuthnRequest', async () => {
    // Act
    const response = await fetch(`${base}/v1/saml/corp/login?target=credentials`, {
      redirect: 'manual',
    });
    await response.body?.cancel();

    // Assess
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(
      `http://127.0.0.1:${idpPort}/saml2/idp/SSOService.php`,
    );
    expect(location.searchParams.get('SAMLRequest')).toBeTruthy();
    // And the IdP knows the SP: it answers with its login form (after a redirect of its own).
    const idpAnswer = await fetchWithCookies(location.href);
    expect(idpAnswer.status).toBe(200);
    expect(idpAnswer.body).toContain('name="username"');
  });

  it('Ctrl-C stops every process it started within 15 s', async () => {
    // Prepare
    const proc = started;
    if (proc === undefined) throw new Error('npm start did not start');
    groups = descendantGroups(proc.pid);
    // Its own group, plus moto, php and serverless-offline in groups of their own.
    expect(groups.size).toBeGreaterThanOrEqual(4);

    // Act
    const begin = Date.now();
    process.kill(-proc.pid, 'SIGINT');
    while ([...groups].some(groupAlive) && Date.now() - begin < 15_000) await delay(100);

    // Assess
    expect([...groups].filter(groupAlive)).toEqual([]);
    console.info(`everything stopped ${Date.now() - begin} ms after SIGINT`);
    for (const port of [awsPort, httpPort, idpPort, standInPort, issuerPort]) {
      expect(await listening(port), `port ${port}`).toBe(false);
    }
  }, 30_000);
});
