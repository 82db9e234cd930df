import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../scripts/cli/commands.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';

/** Help never reaches AWS or the disk: any dependency call fails the test. */
const offline: CliDeps = {
  env: {},
  readFile: () => {
    throw new Error('help must not read files');
  },
  openStore: () => {
    throw new Error('help must not open the store');
  },
  openDenyList: () => {
    throw new Error('help must not open the deny list');
  },
  openVendHistory: () => {
    throw new Error('help must not read audit records');
  },
  openIam: () => {
    throw new Error('help must not call IAM');
  },
  openAuditLog: () => {
    throw new Error('help must not read audit records');
  },
};

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { out: (l) => out.push(l), err: (l) => err.push(l), color: false },
    offline,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const names = COMMANDS.map((spec) => spec.name);
const groups = [...new Set(names.filter((name) => name.includes(' ')).map((n) => n.split(' ')[0]))];

describe('tvm CLI help', () => {
  it('has every command the docs and scripts use', () => {
    // Assess
    expect(names).toEqual([
      'config validate',
      'config apply',
      'config diff',
      'config export',
      'config rollback',
      'config history',
      'config import-cognito',
      'explain',
      'dev-token',
      'deny add',
      'deny remove',
      'deny list',
      'saml sp-metadata',
      'saml check',
      'revoke',
      'audit list',
      'audit key',
      'iam role-template',
      'doctor',
    ]);
  });

  it('lists every command of the table in the usage, one line each, with exit codes', async () => {
    // Act
    const result = await run(['--help']);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    const lines = result.out.split('\n');
    for (const name of names) {
      expect(
        lines.filter((line) => line.startsWith(`  ${name} `) || line === `  ${name}`),
      ).toHaveLength(1);
    }
    expect(result.out).toContain(
      'exit codes: 0 ok, 1 invalid input, 2 usage, 3 upstream failure, 4 conflict',
    );
  });

  it.each(COMMANDS.map((spec) => [spec.name, spec] as const))(
    '%s --help prints its usage, arguments and every option, and exits 0',
    async (name, spec) => {
      // Act: --help wins over missing arguments and required options.
      const result = await run([...name.split(' '), '--help']);
      const short = await run([...name.split(' '), '-h']);

      // Assess
      expect(result.code).toBe(EXIT.ok);
      expect(result.err).toBe('');
      expect(result.out.startsWith(`usage: npm run tvm -- ${name}`)).toBe(true);
      expect(result.out).toContain(spec.summary.split(' ').slice(0, 4).join(' '));
      for (const arg of spec.args) expect(result.out).toContain(`  ${arg.name}`);
      for (const option of Object.keys(spec.options)) {
        expect(result.out).toMatch(new RegExp(`^  --${option}\\b`, 'm'));
      }
      expect(short).toEqual(result);
    },
  );

  it.each(groups)('%s --help lists the commands of its group and exits 0', async (group) => {
    // Act
    const result = await run([group ?? '', '--help']);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    for (const name of names) {
      const listed = new RegExp(`^  ${name}( |$)`, 'm').test(result.out);
      expect(listed).toBe(name.startsWith(`${group} `));
    }
  });

  it('follows a usage error in a known command with that command help (exit 2)', async () => {
    // Act
    const result = await run(['deny', 'add', '--provider', 'mobile']);

    // Assess
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain('"deny add" needs --subject <sub>');
    expect(result.err).toContain('usage: npm run tvm -- deny add --provider <id> --subject <sub>');
    expect(result.err).toMatch(/^ {2}--until <time\|30m\|2h\|7d\|2w>/m);
  });

  it('refuses help for a command that does not exist (exit 2)', async () => {
    // Act
    const result = await run(['config', 'explode', '--help']);

    // Assess
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain('unknown command "config explode"');
  });

  it('the README documents every command of the table', () => {
    // Prepare
    const readme = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8');

    // Assess: a row of the CLI table starts with the command, in code.
    for (const name of names) expect(readme).toContain(`| \`${name}`);
  });
});
