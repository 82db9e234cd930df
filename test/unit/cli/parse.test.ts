import { describe, expect, it } from 'vitest';
import {
  type CliDeps,
  EXIT,
  globalOptions,
  parseCliArgs,
  runCli,
} from '../../../scripts/cli/main.ts';

/** No test here may reach AWS: a store call fails the test. */
const offline: CliDeps = {
  env: {},
  readFile: () => {
    throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
  },
  openStore: () => {
    throw new Error('the store must not be opened');
  },
};

async function run(args: string[], deps: CliDeps = offline) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { out: (l) => out.push(l), err: (l) => err.push(l), color: false },
    deps,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tvm CLI argument parsing', () => {
  it('prints usage and exits 2 without a command, 0 with --help', async () => {
    expect((await run([])).code).toBe(EXIT.usage);
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toContain('config apply <file> [--dry-run]');
  });

  it.each([
    [['config'], /unknown command "config"/],
    [['config', 'explode'], /unknown command "config explode"/],
    [['config', 'validate'], /needs exactly one <file>/],
    [['config', 'validate', 'a.yaml', 'b.yaml'], /needs exactly one <file>/],
    [['config', 'export', 'extra'], /takes no arguments/],
    [['config', 'validate', 'a.yaml', '--dry-run'], /does not take --dry-run/],
    [['config', 'apply', 'a.yaml', '--bogus'], /Unknown option '--bogus'/],
    [['config', 'history', '--limit', '0'], /--limit must be a positive integer/],
    [['config', 'rollback', '--to', '1.5'], /--to must be a positive integer/],
    [['config', 'export', '--format', 'xml'], /--format must be yaml or json/],
    [['config', 'validate', 'a.yaml', '--stage', 'Prod!'], /invalid --stage/],
  ])('rejects %j with exit 2 and says why', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toMatch(message);
  });

  it('a file that cannot be read is invalid input (exit 1), not a crash', async () => {
    const result = await run(['config', 'validate', 'missing.yaml']);
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toContain('cannot read missing.yaml');
  });

  it('derives stage and table from flags, then the environment, then defaults', () => {
    const env = { TVM_STAGE: 'local', TVM_TABLE_NAME: 'tvm-custom' };
    expect(globalOptions(parseCliArgs(['config', 'export']), {})).toMatchObject({
      stage: 'dev',
      table: 'tvm-dev',
    });
    expect(globalOptions(parseCliArgs(['config', 'export']), env)).toMatchObject({
      stage: 'local',
      table: 'tvm-custom',
    });
    expect(
      globalOptions(
        parseCliArgs(['config', 'export', '--stage', 'prod', '--table', 't', '--by', 'ci']),
        env,
      ),
    ).toMatchObject({ stage: 'prod', table: 't', by: 'ci' });
  });
});
