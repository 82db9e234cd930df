import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { type CliDeps, defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { PROJECT_ROOT } from '../../scripts/local/aws-stack.ts';
import { sampleConfig } from '../support/config-fixtures.ts';
import { freshTable } from '../support/local-table.ts';

const dir = mkdtempSync(join(tmpdir(), 'tvm-cli-'));
function writeConfig(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : stringify(value));
  return file;
}

/** Runs the CLI in-process with captured output, as `npm run tvm` would with this env. */
async function tvm(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    defaultDeps({ ...process.env, ...env }),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Runs the real CLI entry point as a child process (exit codes as a shell sees them). */
function tvmProcess(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('npx', ['tsx', 'scripts/tvm.ts', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, NO_COLOR: '1' },
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
}

async function tableItems(table: Awaited<ReturnType<typeof freshTable>>) {
  const { Items = [] } = await table.documentClient.send(
    new ScanCommand({ TableName: table.tableName }),
  );
  return Items.map((item) => `${item.pk}|${item.sk}`).sort();
}

/**
 * A TCP proxy in front of moto that vanishes when the Nth request of one DynamoDB operation
 * arrives: the apply loses its emulator mid-way, while moto keeps its state so the test can
 * look at the table afterwards (a killed moto would take its in-memory tables with it).
 */
async function cuttingProxy(target: URL, operation: string, nth: number) {
  const sockets = new Set<Socket>();
  let seen = 0;
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      seen += text.split(`X-Amz-Target: DynamoDB_20120810.${operation}`).length - 1;
      seen += text.split(`x-amz-target: DynamoDB_20120810.${operation}`).length - 1;
      if (seen >= nth && !cut) {
        cut = true;
        for (const socket of sockets) socket.destroy();
        server.close();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { endpoint: `http://127.0.0.1:${address.port}`, wasCut: () => cut };
}

describe('tvm CLI against moto', () => {
  let table: Awaited<ReturnType<typeof freshTable>>;

  beforeEach(async () => {
    table = await freshTable('tvm-cli');
  });

  it('applies a file, prints what changed, and exports it back', async () => {
    const file = writeConfig('ok.yaml', sampleConfig(2));

    const applied = await tvm(['config', 'apply', file], table.env);
    const exported = await tvm(['config', 'export', '--format', 'json'], table.env);

    expect(applied.code).toBe(EXIT.ok);
    expect(applied.out).toContain('+ provider mobile');
    expect(applied.out).toContain('+ mapping m0');
    expect(applied.out).toMatch(/applied .* as generation 1/);
    expect(exported.code).toBe(EXIT.ok);
    expect(JSON.parse(exported.out)).toMatchObject({
      version: 1,
      mappings: [{ id: 'm0' }, { id: 'm1' }],
    });
  });

  it('keeps accounts and identity pools through apply and export, and diffs account aliases', async () => {
    // Prepare: every optional top-level section a generation can carry.
    const config = {
      ...sampleConfig(2),
      accounts: { '123456789012': { alias: 'prod' } },
      identityPools: [
        {
          id: 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab',
          providers: [{ provider: 'mobile' }],
        },
      ],
    };
    await tvm(['config', 'apply', writeConfig('full.yaml', config)], table.env);
    const renamed = { ...config, accounts: { '123456789012': { alias: 'production' } } };

    // Act
    const exported = await tvm(['config', 'export', '--format', 'json'], table.env);
    const diff = await tvm(['config', 'diff', writeConfig('renamed.yaml', renamed)], table.env);
    const again = await tvm(['config', 'diff', writeConfig('same.yaml', config)], table.env);

    // Assess: the stored generation loads (its hash checks out) and carries both sections.
    expect(exported.code, exported.err).toBe(EXIT.ok);
    expect(JSON.parse(exported.out)).toMatchObject({
      accounts: config.accounts,
      identityPools: [{ id: config.identityPools[0]?.id }],
    });
    expect(diff.out).toContain('~ account 123456789012');
    expect(diff.out).toContain('alias: "prod" → "production"');
    expect(again.out).not.toContain('account');
  });

  it('diff and apply --dry-run show field-level changes and write nothing', async () => {
    await tvm(['config', 'apply', writeConfig('v1.yaml', sampleConfig(2, 'v1'))], table.env);
    const before = await tableItems(table);
    const next = sampleConfig(2, 'v1');
    (next.mappings[1] as { sessionTags: Record<string, string> }).sessionTags = { team: 'green' };
    const file = writeConfig('v2.yaml', next);

    const diff = await tvm(['config', 'diff', file], table.env);
    const dry = await tvm(['config', 'apply', file, '--dry-run'], table.env);

    expect(diff.code).toBe(EXIT.ok);
    expect(diff.out).toContain('~ mapping m1');
    expect(diff.out).toContain('sessionTags.team: "m1" → "green"');
    expect(dry.out).toContain('dry run: nothing was applied');
    expect(await tableItems(table)).toEqual(before);
  });

  it('an invalid file exits 1, lists every problem, and changes nothing in the table', async () => {
    await tvm(['config', 'apply', writeConfig('base.yaml', sampleConfig(1))], table.env);
    const before = await tableItems(table);
    const bad = sampleConfig(2);
    Object.assign(bad.mappings[0] as object, { durationSeconds: 43_200 });
    Object.assign(bad.mappings[1] as object, { id: 'm0', roleArn: 'arn:aws:iam::12:role/x' });
    const file = writeConfig('bad.yaml', bad);

    const result = await tvm(['config', 'apply', file], table.env);

    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toMatch(/3 problems/);
    expect(result.err).toContain('mappings[0].durationSeconds');
    expect(result.err).toContain('mappings[1].id');
    expect(result.err).toContain('mappings[1].roleArn');
    expect(result.err).toContain('nothing was changed');
    expect(await tableItems(table)).toEqual(before);
  });

  it('malformed YAML exits 1 with the line and column', async () => {
    const file = writeConfig('broken.yaml', 'version: 1\nproviders:\n  - id: [unclosed\n');
    const result = await tvm(['config', 'validate', file], table.env);
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toMatch(/broken\.yaml:\d+:\d+/);
  });

  it('an apply that loses the emulator part-way exits 3 and leaves the previous generation current', async () => {
    // Prepare: generation 1 is current; the next apply needs several BatchWriteItem calls.
    const store = new DynamoConfigStore(table.documentClient, table.tableName);
    await tvm(['config', 'apply', writeConfig('gen1.yaml', sampleConfig(2, 'gen1'))], table.env);
    const before = await store.current();
    const proxy = await cuttingProxy(new URL(table.endpoint), 'BatchWriteItem', 2);

    // Act: the real CLI process, through the proxy that disappears on the second batch.
    const result = await tvmProcess(
      ['config', 'apply', writeConfig('gen2.yaml', sampleConfig(60, 'gen2'))],
      { ...table.env, AWS_ENDPOINT_URL: proxy.endpoint },
    );

    // Assess
    expect(proxy.wasCut()).toBe(true);
    expect(result.code).toBe(EXIT.upstream);
    expect(result.stderr).toMatch(/AWS call failed/);
    const after = await store.current();
    expect(after?.generation).toBe(before?.generation);
    expect(after?.config).toEqual(before?.config);
    // The half-written generation 2 has no META and can never be loaded or pointed at.
    await expect(store.load(2)).rejects.toMatchObject({
      problems: [{ message: expect.stringMatching(/incomplete/) }],
    });
  });

  it('a concurrent apply that loses the race exits 4 with a clear conflict message', async () => {
    const store = new DynamoConfigStore(table.documentClient, table.tableName);
    await tvm(['config', 'apply', writeConfig('c1.yaml', sampleConfig(1, 'c1'))], table.env);
    // Another operator flips the pointer between this CLI's read and its flip.
    const other = validateConfig(sampleConfig(3, 'other'), { stage: 'local' });
    if (!other.ok) throw new Error('fixture invalid');
    const deps = defaultDeps({ ...process.env, ...table.env });
    const racing: CliDeps = {
      ...deps,
      openStore: (options) => {
        const inner = deps.openStore(options);
        const apply = inner.apply.bind(inner);
        inner.apply = (config, opts) =>
          apply(config, {
            ...opts,
            beforeFlip: async () => {
              await store.apply(other.config, { appliedBy: 'someone-else' });
            },
          });
        return inner;
      },
    };
    const err: string[] = [];

    const code = await runCli(
      ['config', 'apply', writeConfig('c2.yaml', sampleConfig(2, 'c2'))],
      { out: () => {}, err: (line) => err.push(line), color: false },
      racing,
    );

    expect(code).toBe(EXIT.conflict);
    expect(err.join('\n')).toMatch(
      /conflict: the config changed while this apply was running .*someone-else/,
    );
    expect((await store.current())?.config.mappings).toHaveLength(3);
  });

  it('rollback and history through the CLI', async () => {
    await tvm(['config', 'apply', writeConfig('h1.yaml', sampleConfig(1, 'h1'))], table.env);
    await tvm(['config', 'apply', writeConfig('h2.yaml', sampleConfig(2, 'h2'))], table.env);

    const rolled = await tvm(['config', 'rollback'], table.env);
    const history = await tvm(['config', 'history'], table.env);

    expect(rolled.code).toBe(EXIT.ok);
    expect(rolled.out).toContain('- mapping m1');
    expect(rolled.out).toContain('rolled back to generation 1 (was 2)');
    expect(history.out.split('\n')).toHaveLength(4);
    expect(history.out).toMatch(/3\s+rollback\s+1\s+2 .*← current/);
  });

  it('exit codes: 2 for usage, 3 when AWS is unreachable or the table is missing', async () => {
    const file = writeConfig('u.yaml', sampleConfig(1));
    expect((await tvm(['config', 'frobnicate'], table.env)).code).toBe(EXIT.usage);
    expect((await tvm(['config', 'apply'], table.env)).code).toBe(EXIT.usage);
    expect((await tvm(['config', 'validate', file, '--dry-run'], table.env)).code).toBe(EXIT.usage);
    expect((await tvm(['config', 'history', '--limit', 'x'], table.env)).code).toBe(EXIT.usage);
    const unreachable = await tvm(['config', 'apply', file], {
      ...table.env,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    });
    expect(unreachable.code).toBe(EXIT.upstream);
    const missing = await tvm(['config', 'diff', file, '--table', 'no-such-table'], table.env);
    expect(missing.code).toBe(EXIT.upstream);
    expect(missing.err).toContain('table not found');
  });
});
