/**
 * The pieces `configure` is made of: the managed block merge, the credential_process quoting
 * (checked against Python's shlex, which botocore uses to split it), and the unified diff
 * (checked by applying it with patch(1)).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_BEGIN,
  BLOCK_END,
  commandLine,
  mergeManagedBlock,
  type ProfileSpec,
} from '../../../scripts/login/aws-config.ts';
import { unifiedDiff } from '../../../scripts/login/unified-diff.ts';

const target = { url: 'https://tvm.example.com', provider: 'corp' };
const profile = (mapping: string): ProfileSpec => ({
  role: {
    mapping,
    roleArn: `arn:aws:iam::123456789012:role/${mapping}`,
    accountId: '123456789012',
  },
  credentialProcess: `/bin/tvm-login.mjs credential-process --role ${mapping}`,
});

describe('mergeManagedBlock', () => {
  it('appends the block to a file without one, and keeps CRLF line ends', () => {
    // Act
    const merged = mergeManagedBlock('[default]\r\nregion = eu-west-1', 'config', target, [
      profile('a'),
    ]);

    // Assess
    expect(merged.split('\r\n')).toEqual([
      '[default]',
      'region = eu-west-1',
      '',
      BLOCK_BEGIN,
      '# Written by `tvm-login configure`, which rewrites this block: edit outside it.',
      '',
      '# tvm-login: provider=corp url=https://tvm.example.com',
      '[profile tvm-a]',
      '# (arn:aws:iam::123456789012:role/a)',
      'credential_process = /bin/tvm-login.mjs credential-process --role a',
      BLOCK_END,
      '',
    ]);
  });

  it('is idempotent, and removing the last profile removes the block but no other line', () => {
    // Prepare
    const start = '# top\n[profile x]\nregion = eu-west-1\n';
    const once = mergeManagedBlock(start, 'config', target, [profile('a'), profile('b')]);

    // Act
    const twice = mergeManagedBlock(once, 'config', target, [profile('a'), profile('b')]);
    const emptied = mergeManagedBlock(once, 'config', target, []);

    // Assess
    expect(twice).toBe(once);
    expect(emptied).toBe(`${start}\n`);
  });

  it('keeps lines a user put inside the block only if they belong to a group (the block is ours)', () => {
    // Prepare
    const text = `${BLOCK_BEGIN}\n# stray\n# tvm-login: provider=corp url=https://tvm.example.com\n[profile tvm-old]\n${BLOCK_END}\n`;

    // Act
    const merged = mergeManagedBlock(text, 'config', target, [profile('a')]);

    // Assess
    expect(merged).not.toContain('stray');
    expect(merged).not.toContain('tvm-old');
    expect(merged).toContain('[profile tvm-a]');
  });
});

describe('commandLine', () => {
  it('quotes so that shlex (botocore on Linux and macOS) splits back to the same argv', () => {
    // Prepare: many argument lists, split by one Python process.
    const cases = fc.sample(
      fc.array(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), {
        minLength: 1,
        maxLength: 5,
      }),
      { numRuns: 300, seed: 42 },
    );
    const lines = cases.map((argv) => commandLine(argv, 'linux'));

    // Act
    const split = execFileSync(
      'python3',
      [
        '-c',
        'import json,shlex,sys; print(json.dumps([shlex.split(l) for l in json.load(sys.stdin)]))',
      ],
      { input: JSON.stringify(lines), encoding: 'utf8' },
    );

    // Assess
    expect(JSON.parse(split)).toEqual(cases);
  });

  it('leaves plain arguments alone and double-quotes on Windows', () => {
    expect(
      commandLine(['/opt/tvm-login.mjs', '--url', 'https://tvm.example.com/prod'], 'linux'),
    ).toBe('/opt/tvm-login.mjs --url https://tvm.example.com/prod');
    expect(commandLine(['C:\\Program Files\\node.exe', 'x'], 'win32')).toBe(
      '"C:\\Program Files\\node.exe" x',
    );
  });
});

describe('unifiedDiff', () => {
  const lineList = fc.array(fc.constantFrom('a', 'b', 'c', 'd', '', '[x]', 'region = 1'), {
    maxLength: 25,
  });

  it('is empty for equal texts, and patch(1) turns the old text into the new one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tvm-login-diff-'));
    try {
      fc.assert(
        fc.property(lineList, lineList, (before, after) => {
          const oldText = before.map((line) => `${line}\n`).join('');
          const newText = after.map((line) => `${line}\n`).join('');
          const diff = unifiedDiff(oldText, newText, { from: 'a/config', to: 'b/config' });
          if (oldText === newText) {
            expect(diff).toBe('');
            return;
          }
          const file = path.join(dir, 'config');
          writeFileSync(file, oldText);
          execFileSync('patch', ['--quiet', '--force', file], { input: diff });
          expect(readFileSync(file, 'utf8')).toBe(newText);
        }),
        { numRuns: 150 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('numbers hunks as diff -u does, with 3 lines of context', () => {
    const before = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']
      .map((l) => `${l}\n`)
      .join('');
    const after = before.replace('5\n', 'five\n').replace('10\n', '10\n11\n');
    expect(unifiedDiff(before, after, { from: 'a', to: 'b' })).toBe(
      execFileSync(
        'bash',
        [
          '-c',
          'diff -u --label a --label b <(printf "$1") <(printf "$2") || true',
          '_',
          before,
          after,
        ],
        {
          encoding: 'utf8',
        },
      ),
    );
  });
});
