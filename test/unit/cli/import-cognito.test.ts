import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '#shared/config/parse.ts';
import { type CliDeps, defaultDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { childEnv, repoRoot } from '../../support/process.ts';

const FIXTURES = join(repoRoot, 'test/fixtures/cognito-import');
const fixture = (path: string) => join(FIXTURES, path);

/** Runs the CLI in-process with captured output; files are real (the command writes one). */
async function tvm(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const deps: CliDeps = defaultDeps({ ...process.env, TVM_STAGE: 'prod' });
  const code = await runCli(
    args,
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'tvm-import-cognito-'));
}

const EXAMPLES = [
  'user-pool-rules',
  'guest-pool',
  'token-mapping',
  'unsupported-logins',
  'two-app-clients',
];

describe('tvm config import-cognito', () => {
  it.each(EXAMPLES)('writes a config that `config validate` accepts: %s', async (name) => {
    // Prepare
    const dir = freshDir();
    const file = join(dir, 'imported.yaml');
    // Act
    const imported = await tvm([
      'config',
      'import-cognito',
      '--pool',
      fixture(`${name}/pool.json`),
      '--roles',
      fixture(`${name}/roles.json`),
      '--out',
      file,
    ]);
    const validated = await tvm(['config', 'validate', file, '--stage', 'prod']);
    // Assess
    expect(imported.code, imported.err).toBe(EXIT.ok);
    expect(imported.out).toContain(`wrote ${file}`);
    expect(imported.err).toContain('! trust policies:');
    expect(imported.err).toContain('docs/cognito.md');
    expect(validated.code, validated.err).toBe(EXIT.ok);
    // Only the file itself: the temporary file was linked into place and removed.
    expect(readdirSync(dir)).toEqual(['imported.yaml']);
  });

  it('prints the config to stdout and every message to stderr without --out', async () => {
    // Act
    const result = await tvm([
      'config',
      'import-cognito',
      '--pool',
      fixture('unsupported-logins/pool.json'),
      '--roles',
      fixture('unsupported-logins/roles.json'),
      '--audience',
      'login.community.example/realms/members=community-app',
    ]);
    // Assess
    expect(result.code).toBe(EXIT.ok);
    const parsed = parseConfigText(result.out, 'stdout', { stage: 'prod' });
    expect(parsed.ok).toBe(true);
    expect(result.out).toMatch(/^# Imported from Cognito identity pool "Community"/);
    expect(result.out).toContain('# WARNING: SupportedLoginProviders "graph.facebook.com"');
    expect(result.out).toContain('- community-app');
    // Five items that cannot be imported, the placeholder audience, and the roles' path.
    expect(result.err.match(/^! warning:/gm)).toHaveLength(7);
  });

  it.each([
    ['not JSON', 'invalid/truncated.json', 'user-pool-rules/roles.json', 'is not JSON'],
    [
      'another pool',
      'user-pool-rules/pool.json',
      'invalid/roles-of-another-pool.json',
      'different identity pools',
    ],
    ['a missing file', 'user-pool-rules/nope.json', 'user-pool-rules/roles.json', 'cannot read'],
  ])(
    'refuses bad input (%s) with exit 1 and writes nothing',
    async (_name, pool, roles, message) => {
      // Prepare
      const dir = freshDir();
      const file = join(dir, 'imported.yaml');
      // Act
      const result = await tvm([
        'config',
        'import-cognito',
        '--pool',
        fixture(pool),
        '--roles',
        fixture(roles),
        '--out',
        file,
      ]);
      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toContain(message);
      expect(result.out).toBe('');
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  it('writes nothing when the imported config would not validate (a malformed role ARN)', async () => {
    // Prepare
    const dir = freshDir();
    const roles = join(dir, 'roles.json');
    writeFileSync(
      roles,
      readFileSync(fixture('guest-pool/roles.json'), 'utf8').replace(
        'arn:aws:iam::210987654321:role/service-role/Cognito_PhotoGalleryUnauth_Role',
        'arn:aws:iam::2109:role/Unauth',
      ),
    );
    const file = join(dir, 'imported.yaml');
    // Act
    const result = await tvm([
      'config',
      'import-cognito',
      '--pool',
      fixture('guest-pool/pool.json'),
      '--roles',
      roles,
      '--out',
      file,
    ]);
    // Assess
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toContain('does not validate for stage prod; nothing was written');
    expect(result.err).toContain('roleArn');
    expect(existsSync(file)).toBe(false);
  });

  it('shows control characters from the input escaped, in messages and in the file', async () => {
    // Prepare: a terminal escape hidden in a login provider's app id.
    const dir = freshDir();
    const pool = join(dir, 'pool.json');
    const parsed = JSON.parse(readFileSync(fixture('guest-pool/pool.json'), 'utf8'));
    parsed.SupportedLoginProviders = { 'graph.facebook.com': '123\u001b]0;pwned\u0007' };
    writeFileSync(pool, JSON.stringify(parsed));
    const file = join(dir, 'out.yaml');
    // Act
    const result = await tvm([
      'config',
      'import-cognito',
      '--pool',
      pool,
      '--roles',
      fixture('guest-pool/roles.json'),
      '--out',
      file,
    ]);
    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.err).toContain('app id 123\\u001b]0;pwned\\u0007)');
    expect(result.err).not.toContain('\u001b');
    expect(readFileSync(file, 'utf8')).not.toContain('\u001b');
  });

  it('does not replace an existing file unless --force', async () => {
    // Prepare
    const dir = freshDir();
    const file = join(dir, 'tvm.yaml');
    writeFileSync(file, 'keep me\n');
    const args = [
      'config',
      'import-cognito',
      '--pool',
      fixture('guest-pool/pool.json'),
      '--roles',
      fixture('guest-pool/roles.json'),
      '--out',
      file,
    ];
    // Act
    const refused = await tvm(args);
    const kept = readFileSync(file, 'utf8');
    const forced = await tvm([...args, '--force']);
    // Assess
    expect(refused.code).toBe(EXIT.invalid);
    expect(refused.err).toContain('exists; nothing was written (--force replaces it)');
    expect(kept).toBe('keep me\n');
    expect(forced.code).toBe(EXIT.ok);
    expect(readFileSync(file, 'utf8')).toContain('type: guest');
    expect(readdirSync(dir)).toEqual(['tvm.yaml']);
  });

  it('refuses a malformed --audience as a usage error', async () => {
    // Act
    const result = await tvm([
      'config',
      'import-cognito',
      '--pool',
      fixture('guest-pool/pool.json'),
      '--roles',
      fixture('guest-pool/roles.json'),
      '--audience',
      'no-equals-sign',
    ]);
    // Assess
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain('--audience must be <Logins key>=<client id>');
  });

  it('lists the command and its options in the generated help', async () => {
    // Act
    const usage = await tvm(['--help']);
    const help = await tvm(['config', 'import-cognito', '--help']);
    // Assess
    expect(usage.out).toContain('config import-cognito --pool <file> --roles <file>');
    for (const option of [
      '--pool <file>',
      '--roles <file>',
      '--out <file>',
      '--force',
      '--audience',
    ]) {
      expect(help.out).toContain(option);
    }
  });

  it('works through the real CLI binary: exit codes and a written file', {
    timeout: 60_000,
  }, async () => {
    // Prepare
    const dir = freshDir();
    const file = join(dir, 'shop.yaml');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('npx', ['tsx', 'scripts/tvm.ts', ...args], {
          cwd: repoRoot,
          env: childEnv({ set: { NO_COLOR: '1', TVM_STAGE: 'prod' } }),
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => {
          stdout += d;
        });
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    // Act
    const ok = await run([
      'config',
      'import-cognito',
      '--pool',
      fixture('user-pool-rules/pool.json'),
      '--roles',
      fixture('user-pool-rules/roles.json'),
      '--out',
      file,
    ]);
    const bad = await run([
      'config',
      'import-cognito',
      '--pool',
      fixture('user-pool-rules/pool.json'),
      '--roles',
      fixture('invalid/roles-of-another-pool.json'),
      '--out',
      join(dir, 'bad.yaml'),
    ]);
    // Assess
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`wrote ${file}`);
    expect(parseConfigText(readFileSync(file, 'utf8'), file, { stage: 'prod' }).ok).toBe(true);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the files describe different identity pools');
    expect(existsSync(join(dir, 'bad.yaml'))).toBe(false);
  });
});
