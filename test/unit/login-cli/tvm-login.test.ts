/**
 * tvm-login in-process against a fake TVM that implements the login contract
 * (test/support/fake-login-tvm.ts); the test plays the browser by following the sign-in URL to
 * the CLI's loopback. Every run also proves that no secret (code, verifier, session handle,
 * secret key, session token) reached stdout or stderr, except the credential_process JSON.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultLoginDeps, type LoginDeps, runTvmLogin } from '../../../scripts/login/main.ts';
import { s256 } from '../../../scripts/login/pkce.ts';
import { type FakeLoginTvm, startFakeLoginTvm } from '../../support/fake-login-tvm.ts';

const MINUTE = 60_000;

let fake: FakeLoginTvm;
let home: string;
let cache: string;
/** The loopback's answers to the browser, in order. */
let pages: Promise<{ status: number; text: string }>[];

beforeEach(async () => {
  fake = await startFakeLoginTvm();
  home = mkdtempSync(path.join(tmpdir(), 'tvm-login-'));
  cache = path.join(home, 'cache');
  pages = [];
});

afterEach(async () => {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
});

function deps(overrides: Partial<LoginDeps> = {}): LoginDeps {
  return defaultLoginDeps({
    env: { TVM_LOGIN_HOME: cache },
    home,
    platform: 'linux',
    launcher: ['/opt/tvm login/tvm-login.mjs'],
    lockTiming: { staleMs: 10_000, waitMs: 10_000, pollMs: 10 },
    openBrowser: async (url) => {
      pages.push(fake.browse(url));
    },
    ...overrides,
  });
}

async function tvmLogin(argv: string[], overrides: Partial<LoginDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTvmLogin(
    argv,
    { out: (line) => out.push(line), err: (line) => err.push(line) },
    deps(overrides),
  );
  return { code, out, err, stdout: out.join('\n'), stderr: err.join('\n') };
}

const target = () => ['--url', fake.url, '--provider', 'corp'];
const ended = () =>
  `tvm-login: your session for corp at ${fake.url} has ended; run: tvm-login login --url ${fake.url} --provider corp`;
const later = (ms: number) => () => new Date(Date.now() + ms);

function expectNoSecret(...texts: string[]) {
  expect(fake.secrets.size).toBeGreaterThan(0);
  for (const text of texts) for (const secret of fake.secrets) expect(text).not.toContain(secret);
}

/** A GET with a chosen Host header (fetch will not send one). */
function rawGet(port: number, pathAndQuery: string, host: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = httpGet(
      { host: '127.0.0.1', port, path: pathAndQuery, headers: { host } },
      (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
  });
}

function cacheFiles(): string[] {
  return existsSync(cache) ? readdirSync(cache).sort() : [];
}

async function signIn() {
  const run = await tvmLogin(['login', ...target()]);
  expect(run.code, run.stderr).toBe(0);
  return run;
}

async function credentials(role = 'corp-reader', overrides: Partial<LoginDeps> = {}) {
  return tvmLogin(['credential-process', ...target(), '--role', role], overrides);
}

describe('tvm-login login', () => {
  it('signs in through the loopback with PKCE S256 and stores the session 0600 in a 0700 dir', async () => {
    // Act
    const run = await signIn();

    // Assess: the start carried a loopback redirect_uri, a state and an S256 challenge.
    const [start, token] = fake.calls;
    expect(start?.route).toBe('GET /v1/saml/corp/login');
    expect(start?.params).toMatchObject({ target: 'cli', code_challenge_method: 'S256' });
    expect(start?.params.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d{4,5}\/callback$/);
    expect(start?.params.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The token call proved the verifier behind that challenge, on the same redirect_uri.
    expect(token?.route).toBe('POST /v1/login/token');
    expect(token?.status).toBe(200);
    expect(token?.params.grant_type).toBe('authorization_code');
    expect(token?.params.code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(s256(token?.params.code_verifier ?? '')).toBe(start?.params.code_challenge);
    expect(token?.params.redirect_uri).toBe(start?.params.redirect_uri);
    // The browser was told it worked.
    const page = await pages[0];
    expect(page?.status).toBe(200);
    expect(page?.text).toContain('tvm-login is signed in');
    // The cache: one session file, 0600, in a 0700 directory, holding the handle.
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    const files = cacheFiles();
    expect(files).toEqual([expect.stringMatching(/^corp-[0-9a-f]{16}\.session\.json$/)]);
    const file = path.join(cache, files[0] as string);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ version: 1, url: fake.url, provider: 'corp' });
    expect(stored.session).toMatch(/^tvms_/);
    // Nothing on stdout; the messages on stderr hold no code, verifier or handle.
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`Signed in to corp at ${fake.url}`);
    expectNoSecret(run.stdout, run.stderr, page?.text ?? '');
  });

  it('refuses a callback with a wrong state (and a foreign Host or path), exchanges nothing, then takes the real one', async () => {
    // Prepare: the "browser" first delivers forged callbacks, then signs in for real.
    const forged: { status: number; text: string }[] = [];
    const openBrowser = async (signInUrl: string) => {
      const params = new URL(signInUrl).searchParams;
      const redirect = new URL(params.get('redirect_uri') ?? '');
      const code = 'A'.repeat(43);
      const state = params.get('state') ?? '';
      for (const [url, host] of [
        [`${redirect.pathname}?code=${code}&state=${'x'.repeat(43)}`, redirect.host],
        [`${redirect.pathname}?code=${code}&state=`, redirect.host],
        [`${redirect.pathname}?code=${code}`, redirect.host],
        // A DNS-rebinding page reaches the loopback under its own name.
        [`${redirect.pathname}?code=${code}&state=${state}`, `evil.example:${redirect.port}`],
        [`/other?code=${code}&state=${state}`, redirect.host],
      ] as const) {
        forged.push(await rawGet(Number(redirect.port), url, host));
      }
      pages.push(fake.browse(signInUrl));
    };

    // Act
    const run = await tvmLogin(['login', ...target()], { openBrowser });

    // Assess: each forgery refused without a token call; the real sign-in then worked.
    expect(forged.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 404]);
    expect(forged[0]?.text).toContain('was not started by the tvm-login waiting here');
    expect(run.code, run.stderr).toBe(0);
    expect(fake.count('POST /v1/login/token')).toBe(1);
    expect(fake.calls.find((call) => call.route === 'POST /v1/login/token')?.status).toBe(200);
    expect(run.stderr).toContain('ignored a sign-in callback whose state was not this login’s');
  });

  it('with only a wrong-state callback: no exchange, a timeout, one line, nothing stored', async () => {
    // Prepare
    const openBrowser = async (signInUrl: string) => {
      const redirect = new URL(new URL(signInUrl).searchParams.get('redirect_uri') ?? '');
      await fetch(`${redirect.href}?code=${'A'.repeat(43)}&state=${'y'.repeat(43)}`);
    };

    // Act
    const run = await tvmLogin(['login', ...target(), '--timeout', '1'], { openBrowser });

    // Assess
    expect(run.code).toBe(1);
    expect(run.err.at(-1)).toBe('tvm-login: no sign-in came back within 1 s; run the login again');
    expect(fake.count('POST /v1/login/token')).toBe(0);
    expect(cacheFiles()).toEqual([]);
  });

  it('a refused exchange (invalid_grant) fails the login with one line, and the browser is told', async () => {
    // Prepare
    fake.override('POST /v1/login/token', (_request, response) => {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end('{"error":"invalid_grant"}');
    });

    // Act
    const run = await tvmLogin(['login', ...target()]);

    // Assess
    expect(run.code).toBe(1);
    expect(run.err.at(-1)).toBe(
      `tvm-login: the TVM refused the sign-in (invalid_grant); run: tvm-login login --url ${fake.url} --provider corp`,
    );
    const page = await pages[0];
    expect(page?.status).toBe(400);
    expect(page?.text).toContain('the TVM refused the sign-in (invalid_grant)');
    expect(cacheFiles()).toEqual([]);
    expectNoSecret(run.stdout, run.stderr, page?.text ?? '');
  });

  it('--no-browser prints the sign-in URL on stderr and starts no browser', async () => {
    // Prepare: the test reads the URL from stderr, as a person over SSH would.
    const err: string[] = [];
    let opened = 0;
    const io = {
      out: () => undefined,
      err: (line: string) => {
        err.push(line);
        const url = /^ {2}(http\S+)$/.exec(line)?.[1];
        if (url !== undefined) pages.push(fake.browse(url));
      },
    };

    // Act
    const code = await runTvmLogin(
      ['login', ...target(), '--no-browser'],
      io,
      deps({
        openBrowser: async () => {
          opened += 1;
        },
      }),
    );

    // Assess
    expect(code, err.join('\n')).toBe(0);
    expect(opened).toBe(0);
    expect(err[0]).toContain('open this URL in a browser on this machine');
    expect((await pages[0])?.status).toBe(200);
  });

  it('a malformed token answer is a clear error and stores nothing', async () => {
    for (const body of [
      'not json',
      '{"session":"abc","token_type":"tvm-session","expires_at":"2030-01-01T00:00:00Z","provider":"corp"}',
      `{"session":"tvms_${'a'.repeat(43)}","token_type":"tvm-session","expires_at":"soon","provider":"corp"}`,
      `{"session":"tvms_${'a'.repeat(43)}","token_type":"tvm-session","expires_at":"2030-01-01T00:00:00Z","provider":"other"}`,
    ]) {
      // Prepare
      fake.override('POST /v1/login/token', (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      });

      // Act
      const run = await tvmLogin(['login', ...target()]);

      // Assess
      expect(run.code, body).toBe(1);
      expect(run.err.at(-1)).toMatch(
        /^tvm-login: unexpected answer from the TVM to POST \/v1\/login\/token: (body \(not a JSON object\)|session|expires_at|provider) is missing or malformed$/,
      );
      expect(run.stderr).not.toContain('a'.repeat(43));
      expect(cacheFiles()).toEqual([]);
    }
  });

  it('refuses a non-https URL, a URL with credentials, and ids that are not ids (exit 2)', async () => {
    for (const argv of [
      ['--url', 'http://tvm.example.com', '--provider', 'corp'],
      ['--url', 'https://user:pw@tvm.example.com', '--provider', 'corp'],
      ['--url', 'https://tvm.example.com', '--provider', '../corp'],
      ['--url', 'https://tvm.example.com'],
    ]) {
      // Act
      const run = await tvmLogin(['login', ...argv]);
      // Assess
      expect(run.code, argv.join(' ')).toBe(2);
      expect(fake.calls).toEqual([]);
    }
  });
});

describe('tvm-login credential-process', () => {
  it('prints the AWS CLI JSON, then serves it from the cache without calling the TVM', async () => {
    // Prepare
    await signIn();

    // Act
    const first = await credentials();
    const second = await credentials();

    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(fake.count('POST /v1/login/credentials')).toBe(1);
    expect(first.out).toHaveLength(1);
    const printed = JSON.parse(first.stdout);
    expect(Object.keys(printed)).toEqual([
      'Version',
      'AccessKeyId',
      'SecretAccessKey',
      'SessionToken',
      'Expiration',
    ]);
    expect(printed).toMatchObject({ Version: 1, AccessKeyId: 'ASIAFAKE000000000001' });
    expect(Date.parse(printed.Expiration) - Date.now()).toBeGreaterThan(55 * MINUTE);
    expect(second.stdout).toBe(first.stdout);
    // Only the JSON itself carries the secret; stderr is empty.
    expect(first.stderr).toBe('');
    expect(second.stderr).toBe('');
    expectNoSecret(
      first.stdout.replace(printed.SecretAccessKey, '').replace(printed.SessionToken, ''),
    );
    const credentialsFile = cacheFiles().find((name) =>
      name.endsWith('.corp-reader.credentials.json'),
    );
    expect(statSync(path.join(cache, credentialsFile ?? 'missing')).mode & 0o777).toBe(0o600);
  });

  it('refreshes when less than 5 minutes are left, and not before', async () => {
    // Prepare: credentials valid for 60 minutes.
    await signIn();
    await credentials();

    // Act: 54 minutes later 6 are left; 56 minutes later 4 are.
    const at54 = await credentials('corp-reader', { now: later(54 * MINUTE) });
    const at56 = await credentials('corp-reader', { now: later(56 * MINUTE) });

    // Assess
    expect(JSON.parse(at54.stdout).AccessKeyId).toBe('ASIAFAKE000000000001');
    expect(JSON.parse(at56.stdout).AccessKeyId).toBe('ASIAFAKE000000000002');
    expect(fake.count('POST /v1/login/credentials')).toBe(2);
  });

  it('two concurrent runs make one refresh call (the lock), and print the same credentials', async () => {
    // Prepare: a slow TVM, so both runs are inside the refresh window together.
    await signIn();
    fake.credentialDelayMs = 400;

    // Act
    const [a, b] = await Promise.all([credentials(), credentials()]);

    // Assess
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(fake.count('POST /v1/login/credentials')).toBe(1);
    expect(a.stdout).toBe(b.stdout);
    expect(cacheFiles().filter((name) => name.endsWith('.lock'))).toEqual([]);
  });

  it('on 401 (session ended at the TVM): the one-line message, exit 1, and the dead session is forgotten', async () => {
    // Prepare: what `tvm deny add` does; the cached credentials are near their end.
    await signIn();
    await credentials();
    fake.endAllSessions();

    // Act
    const run = await credentials('corp-reader', { now: later(57 * MINUTE) });

    // Assess
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.err).toEqual([ended()]);
    expect(fake.calls.at(-1)).toMatchObject({ route: 'POST /v1/login/credentials', status: 401 });
    // The dead handle is gone from the disk; a marker without it remains.
    const [sessionFile] = cacheFiles().filter((name) => name.endsWith('.session.json'));
    const marker = readFileSync(path.join(cache, sessionFile ?? 'missing'), 'utf8');
    expect(JSON.parse(marker)).toEqual({
      version: 1,
      url: fake.url,
      provider: 'corp',
      endedAt: expect.any(String),
    });
    expectNoSecret(run.stderr, marker);
    // The next run says the same without asking the TVM.
    const calls = fake.calls.length;
    const again = await credentials('corp-reader', { now: later(57 * MINUTE) });
    expect(again.err).toEqual([ended()]);
    expect(fake.calls.length).toBe(calls);
  });

  it('a session past its expiry by the local clock ends with the one line and no TVM call', async () => {
    // Prepare: a 15-minute session.
    fake.sessionSeconds = 900;
    await signIn();
    const calls = fake.calls.length;

    // Act
    const run = await credentials('corp-reader', { now: later(16 * MINUTE) });

    // Assess
    expect(run.code).toBe(1);
    expect(run.err).toEqual([ended()]);
    expect(fake.calls.length).toBe(calls);
  });

  it('a malformed credentials answer is a clear error; the cache keeps nothing of it', async () => {
    // Prepare
    await signIn();
    const malformed = [
      ['{}', 'credentials'],
      [
        '{"credentials":{"accessKeyId":"lower-case","secretAccessKey":"s","sessionToken":"t","expiration":"2030-01-01T00:00:00Z"}}',
        'credentials.accessKeyId',
      ],
      [
        '{"credentials":{"accessKeyId":"ASIAFAKE000000000009","secretAccessKey":"s","expiration":"2030-01-01T00:00:00Z"}}',
        'credentials.sessionToken',
      ],
      [
        '{"credentials":{"accessKeyId":"ASIAFAKE000000000009","secretAccessKey":"s","sessionToken":"t","expiration":"2030-01-01T00:00:00Z"},"mapping":"corp-admin","roleArn":"arn:aws:iam::123456789012:role/x"}',
        'mapping',
      ],
      ['[1,2]', 'body (not a JSON object)'],
    ] as const;
    for (const [body, what] of malformed) {
      fake.override('POST /v1/login/credentials', (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      });

      // Act
      const run = await credentials();

      // Assess
      expect(run.code, body).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.err).toEqual([
        `tvm-login: unexpected answer from the TVM to POST /v1/login/credentials: ${what} is missing or malformed`,
      ]);
      expect(cacheFiles().filter((name) => name.endsWith('.credentials.json'))).toEqual([]);
    }
  });

  it('a 403 (role no longer mapped) is one line with the status, title and request id', async () => {
    // Prepare
    await signIn();

    // Act
    const run = await credentials('corp-gone');

    // Assess
    expect(run.code).toBe(1);
    expect(run.err).toEqual([
      expect.stringMatching(
        new RegExp(
          `^tvm-login: the TVM at ${fake.url} refused POST /v1/login/credentials \\(403, Forbidden, request id req-\\d+\\)$`,
        ),
      ),
    ]);
  });

  it('an unreachable TVM is one line, and not signed in is one line', async () => {
    // Prepare
    await signIn();
    const url = fake.url;
    await fake.close();

    // Act
    const down = await credentials();
    const other = await tvmLogin([
      'credential-process',
      '--url',
      url,
      '--provider',
      'other',
      '--role',
      'x',
    ]);

    // Assess
    expect(down.code).toBe(1);
    expect(down.err).toEqual([
      expect.stringMatching(
        /^tvm-login: cannot reach the TVM at http:\/\/127\.0\.0\.1:\d+ \(POST \/v1\/login\/credentials: ECONNREFUSED\)$/,
      ),
    ]);
    expect(other.code).toBe(1);
    expect(other.err).toEqual([
      `tvm-login: you are not signed in to other at ${url}; run: tvm-login login --url ${url} --provider other`,
    ]);
    fake = await startFakeLoginTvm(); // for afterEach
  });
});

describe('tvm-login configure', () => {
  const EXISTING = [
    '# my settings',
    '[default]',
    'region = eu-central-1',
    '',
    '[profile other]',
    'role_arn = arn:aws:iam::111111111111:role/x',
    'source_profile = default',
    '',
  ].join('\n');

  const block = (url: string, region = true) =>
    [
      '# >>> tvm-login (managed) >>>',
      '# Written by `tvm-login configure`, which rewrites this block: edit outside it.',
      '',
      `# tvm-login: provider=corp url=${url}`,
      '[profile tvm-corp-admin]',
      '# Administrators (arn:aws:iam::123456789012:role/tvm/corp-admin)',
      `credential_process = '/opt/tvm login/tvm-login.mjs' credential-process --url ${url} --provider corp --role corp-admin`,
      ...(region ? ['region = eu-west-1'] : []),
      '',
      '[profile tvm-corp-reader]',
      '# (arn:aws:iam::123456789012:role/tvm/corp-reader)',
      `credential_process = '/opt/tvm login/tvm-login.mjs' credential-process --url ${url} --provider corp --role corp-reader`,
      ...(region ? ['region = eu-west-1'] : []),
      '# <<< tvm-login (managed) <<<',
      '',
    ].join('\n');

  function awsConfig(text?: string, mode = 0o644): string {
    const file = path.join(home, '.aws', 'config');
    mkdirSync(path.dirname(file), { recursive: true });
    if (text !== undefined) writeFileSync(file, text, { mode });
    return file;
  }

  it('writes the marked block after the other lines, keeps them and the mode, and is idempotent', async () => {
    // Prepare
    await signIn();
    const file = awsConfig(EXISTING);

    // Act
    const first = await tvmLogin([
      'configure',
      ...target(),
      '--region',
      'eu-west-1',
      '--aws-config',
      file,
    ]);
    const written = readFileSync(file, 'utf8');
    const second = await tvmLogin([
      'configure',
      ...target(),
      '--region',
      'eu-west-1',
      '--aws-config',
      file,
    ]);

    // Assess
    expect(first.code, first.stderr).toBe(0);
    expect(written).toBe(`${EXISTING}\n${block(fake.url)}`);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(first.err).toEqual([
      `Wrote 2 profile(s) to ${file}: tvm-corp-admin, tvm-corp-reader`,
      'Try: aws sts get-caller-identity --profile tvm-corp-admin',
    ]);
    expect(second.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(written);
    expect(second.err).toEqual([`${file} is already up to date (2 profile(s)).`]);
    expect(readdirSync(path.dirname(file))).toEqual(['config']);
    expectNoSecret(first.stdout, first.stderr, written);
  });

  it('creates ~/.aws/config (0600 in a 0700 dir) through $AWS_CONFIG_FILE when there is none', async () => {
    // Prepare
    await signIn();
    const file = path.join(home, 'fresh', '.aws', 'config');

    // Act
    const run = await tvmLogin(['configure', ...target()], {
      env: { TVM_LOGIN_HOME: cache, AWS_CONFIG_FILE: file },
    });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(block(fake.url, false));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('--dry-run prints a unified diff and writes nothing', async () => {
    // Prepare
    await signIn();
    const file = awsConfig(EXISTING);
    const before = statSync(file);

    // Act
    const run = await tvmLogin(['configure', ...target(), '--aws-config', file, '--dry-run']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.out.slice(0, 3)).toEqual([
      `--- ${file}`,
      `+++ ${file} (after configure)`,
      '@@ -5,3 +5,16 @@',
    ]);
    expect(run.out.slice(3, 6)).toEqual([
      ' [profile other]',
      ' role_arn = arn:aws:iam::111111111111:role/x',
      ' source_profile = default',
    ]);
    expect(run.out.slice(6)).toEqual([
      '+',
      ...block(fake.url, false)
        .replace(/\n$/, '')
        .split('\n')
        .map((line) => `+${line}`),
    ]);
    expect(run.err).toEqual(['Dry run: nothing was written.']);
    expect(readFileSync(file, 'utf8')).toBe(EXISTING);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
  });

  it('follows the TVM: a role no longer mapped leaves the block; another provider’s group stays', async () => {
    // Prepare: profiles of another TVM are already in the block.
    await signIn();
    const otherGroup = [
      '# tvm-login: provider=staff url=https://tvm.example.com',
      '[profile tvm-staff-dev]',
      'credential_process = /x/tvm-login.mjs credential-process --url https://tvm.example.com --provider staff --role staff-dev',
    ];
    const file = awsConfig(
      `${EXISTING}\n# >>> tvm-login (managed) >>>\n\n${otherGroup.join('\n')}\n# <<< tvm-login (managed) <<<\n# after the block\n`,
    );
    fake.roles = fake.roles.filter((role) => role.mapping === 'corp-reader');

    // Act
    const run = await tvmLogin(['configure', ...target(), '--aws-config', file]);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(EXISTING)).toBe(true);
    expect(text).toContain(
      `${otherGroup.join('\n')}\n\n# tvm-login: provider=corp url=${fake.url}\n[profile tvm-corp-reader]`,
    );
    expect(text).not.toContain('tvm-corp-admin');
    expect(text.endsWith('# <<< tvm-login (managed) <<<\n# after the block\n')).toBe(true);
  });

  it('refuses, writing nothing, a profile name taken outside the block or damaged markers', async () => {
    // Prepare
    await signIn();
    for (const [text, message] of [
      [
        `${EXISTING}[profile tvm-corp-reader]\nregion = x\n`,
        'already has [profile tvm-corp-reader] on line 8, outside the tvm-login block',
      ],
      [`${EXISTING}# >>> tvm-login (managed) >>>\n`, 'block in'],
      [
        `# <<< tvm-login (managed) <<<\n# >>> tvm-login (managed) >>>\n`,
        'is damaged (markers on lines 2, 1)',
      ],
    ] as const) {
      const file = awsConfig(text);

      // Act
      const run = await tvmLogin(['configure', ...target(), '--aws-config', file]);

      // Assess
      expect(run.code, text).toBe(1);
      expect(run.err).toHaveLength(1);
      expect(run.err[0]).toContain(message);
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('a description from the TVM cannot add lines to the AWS config', async () => {
    // Prepare: a hostile (or broken) TVM tries to smuggle in a profile that runs a command.
    await signIn();
    fake.roles = [
      {
        mapping: 'corp-reader',
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
        accountId: '123456789012',
        description: 'Reader\n[profile evil]\r\ncredential_process = sh -c "curl evil"\u2028x',
      },
    ];
    const file = awsConfig();

    // Act
    const run = await tvmLogin(['configure', ...target(), '--aws-config', file]);

    // Assess: one comment line; the only section is ours.
    expect(run.code, run.stderr).toBe(0);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.filter((line) => line.startsWith('['))).toEqual(['[profile tvm-corp-reader]']);
    expect(lines.filter((line) => line.startsWith('credential_process'))).toHaveLength(1);
    expect(lines).toContain(
      '# Reader [profile evil] credential_process = sh -c "curl evil" x (arn:aws:iam::123456789012:role/tvm/corp-reader)',
    );
  });

  it('a malformed roles answer is a clear error and the file is untouched', async () => {
    // Prepare
    await signIn();
    const file = awsConfig(EXISTING);
    for (const [roles, what] of [
      [
        [
          {
            mapping: 'x y',
            roleArn: 'arn:aws:iam::123456789012:role/r',
            accountId: '123456789012',
          },
        ],
        'roles[0].mapping',
      ],
      [
        [
          {
            mapping: 'r',
            roleArn: 'arn:aws:iam::123456789012:role/r\n[x]',
            accountId: '123456789012',
          },
        ],
        'roles[0].roleArn',
      ],
      [
        [{ mapping: 'r', roleArn: 'arn:aws:iam::123456789012:role/r', accountId: '12' }],
        'roles[0].accountId',
      ],
      ['none', 'roles'],
    ] as const) {
      fake.override('GET /v1/login/roles', (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ roles, expires_at: '2030-01-01T00:00:00Z' }));
      });

      // Act
      const run = await tvmLogin(['configure', ...target(), '--aws-config', file]);

      // Assess
      expect(run.code).toBe(1);
      expect(run.err).toEqual([
        `tvm-login: unexpected answer from the TVM to GET /v1/login/roles: ${what} is missing or malformed`,
      ]);
      expect(readFileSync(file, 'utf8')).toBe(EXISTING);
    }
  });

  it('on 401 prints the one line; from the TypeScript source (no launcher) it refuses to write', async () => {
    // Prepare
    await signIn();
    const file = awsConfig(EXISTING);

    // Act
    const noLauncher = await tvmLogin(['configure', ...target(), '--aws-config', file], {
      launcher: undefined,
    });
    fake.endAllSessions();
    const ended401 = await tvmLogin(['configure', ...target(), '--aws-config', file]);

    // Assess
    expect(noLauncher.code).toBe(2);
    expect(noLauncher.stderr).toContain('run it from the built launcher');
    expect(ended401.code).toBe(1);
    expect(ended401.err).toEqual([ended()]);
    expect(readFileSync(file, 'utf8')).toBe(EXISTING);
  });
});

describe('tvm-login logout', () => {
  it('ends the session at the TVM and deletes its files', async () => {
    // Prepare
    await signIn();
    await credentials();

    // Act
    const run = await tvmLogin(['logout', ...target()]);
    const after = await credentials();

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(fake.calls.find((call) => call.route === 'DELETE /v1/login/session')?.status).toBe(204);
    expect(cacheFiles()).toEqual([]);
    expect(after.code).toBe(1);
  });
});
