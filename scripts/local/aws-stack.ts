/**
 * The local AWS stack: moto in server mode on loopback, from a project-local .venv.
 * Used by `scripts/local-aws.ts` (the command), `npm start` and the integration tests.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  UpdateContinuousBackupsCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { ACCESS_KEY_INDEX, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/store/table.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** TVM_VENV_DIR moves the venv (for shared caches, and for the missing-python test). */
export const VENV_DIR = process.env.TVM_VENV_DIR ?? join(PROJECT_ROOT, '.venv');
export const REQUIREMENTS = join(PROJECT_ROOT, 'scripts', 'local', 'requirements.txt');
export const STATE_DIR = join(PROJECT_ROOT, '.local');
export const DEFAULT_PORT = 5000;
/** serverless.yml's default region: serverless-offline sets AWS_REGION to it for the functions. */
export const LOCAL_REGION = 'eu-west-1';

export class LocalStackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function venvBin(name: string): string {
  return join(VENV_DIR, 'bin', name);
}

/** Environment that points the AWS SDK at the emulator: for the local stage only. */
export function localAwsEnv(endpoint: string, tableName = 'tvm-local'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    TVM_STAGE: 'local',
    TVM_TABLE_NAME: tableName,
  };
}

function requirementsHash(): string {
  return createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');
}

/** Every tool the tests run from .venv: a venv made before one of them was pinned gets it too. */
const VENV_TOOLS = ['moto_server', 'cfn-lint', 'st'] as const;

/**
 * Installs the pinned moto[server], cfn-lint and schemathesis into .venv unless the same pinned
 * set is already there (a marker holds the hash of requirements.txt). Idempotent and quiet when
 * up to date.
 */
export function ensurePythonEnv(log: (line: string) => void = console.error): void {
  const marker = join(VENV_DIR, '.tvm-requirements.sha256');
  const wanted = requirementsHash();
  if (
    VENV_TOOLS.every((tool) => existsSync(venvBin(tool))) &&
    existsSync(marker) &&
    readFileSync(marker, 'utf8').trim() === wanted
  ) {
    return;
  }
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new LocalStackError(
      `${python} was not found. The local AWS emulator (moto) and cfn-lint need Python 3.9 or newer: install it (Debian: apt-get install python3 python3-venv) or set PYTHON to its path.`,
    );
  }
  if (!existsSync(join(VENV_DIR, 'bin', 'python'))) {
    log(`Creating ${VENV_DIR} with ${probe.stdout.trim() || probe.stderr.trim()}`);
    const venv = spawnSync(python, ['-m', 'venv', VENV_DIR], { encoding: 'utf8' });
    if (venv.status !== 0) {
      throw new LocalStackError(
        `${python} -m venv failed (Debian needs the python3-venv package): ${venv.stderr.trim()}`,
      );
    }
  }
  log('Installing the pinned moto[server], cfn-lint and schemathesis into .venv (first run only)…');
  const pip = spawnSync(
    venvBin('python'),
    ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (pip.status !== 0) {
    throw new LocalStackError(`pip install -r ${REQUIREMENTS} failed (exit ${pip.status})`);
  }
  writeFileSync(marker, `${wanted}\n`);
}

export interface MotoOptions {
  port?: number;
  host?: string;
  /** Where moto's output goes; by default a log file under .local/. */
  logFile?: string;
}

export interface RunningMoto {
  endpoint: string;
  port: number;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts moto_server in its own process group, so that stopping it also ends anything it
 * spawned, and waits until it answers DynamoDB calls.
 */
export async function startMoto(options: MotoOptions = {}): Promise<RunningMoto> {
  ensurePythonEnv();
  const port = options.port ?? DEFAULT_PORT;
  const host = options.host ?? '127.0.0.1';
  mkdirSync(STATE_DIR, { recursive: true });
  const logFile = options.logFile ?? join(STATE_DIR, `moto-${port}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(venvBin('moto_server'), ['-H', host, '-p', String(port)], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  const endpoint = `http://${host}:${port}`;
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const pid = child.pid;
  if (pid === undefined) {
    throw new LocalStackError(`moto_server did not start; see ${logFile}`);
  }
  const running: RunningMoto = {
    endpoint,
    port,
    pid,
    process: child,
    stop: async () => {
      await stopProcessGroup(pid, exited);
    },
  };
  try {
    await waitForMoto(endpoint, { exited, logFile });
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** Polls a real DynamoDB call until moto answers, or fails with the reason. */
export async function waitForMoto(
  endpoint: string,
  {
    timeoutMs = 30_000,
    exited,
    logFile,
  }: { timeoutMs?: number; exited?: Promise<number | null>; logFile?: string } = {},
): Promise<void> {
  const client = localDynamoClient(endpoint);
  let processGone = false;
  void exited?.then(() => {
    processGone = true;
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (processGone) {
        throw new LocalStackError(
          `moto_server exited during start-up (is ${endpoint} already in use?)${logFile ? `; see ${logFile}` : ''}`,
        );
      }
      try {
        await client.send(new DescribeTableCommand({ TableName: 'tvm-healthcheck' }));
        return;
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return;
      }
      if (Date.now() > deadline) {
        throw new LocalStackError(
          `moto did not become healthy at ${endpoint} within ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    client.destroy();
  }
}

/** SIGTERM to the whole group, then SIGKILL after a grace period; resolves once it is gone. */
export async function stopProcessGroup(
  pid: number,
  exited?: Promise<unknown>,
  graceMs = 5_000,
): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const done = await Promise.race([
        exited.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 100)),
      ]);
      if (done) return;
    } else {
      if (!alive()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  signalGroup('SIGKILL');
  await (exited ?? Promise.resolve());
}

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

/** The access-key index as serverless.yml declares it (shared/store/table.ts). */
const ACCESS_KEY_GSI: GlobalSecondaryIndex = {
  IndexName: ACCESS_KEY_INDEX.name,
  KeySchema: [
    { AttributeName: ACCESS_KEY_INDEX.partition, KeyType: 'HASH' },
    { AttributeName: ACCESS_KEY_INDEX.sort, KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: ACCESS_KEY_INDEX.projection },
};

const ATTRIBUTE_DEFINITIONS: AttributeDefinition[] = [
  { AttributeName: TABLE_KEYS.partition, AttributeType: 'S' },
  { AttributeName: TABLE_KEYS.sort, AttributeType: 'S' },
  { AttributeName: ACCESS_KEY_INDEX.partition, AttributeType: 'S' },
];

/**
 * Creates the table as serverless.yml declares it (keys, the access-key index, on-demand, TTL,
 * PITR). Idempotent: an existing table is left as it is, except that a table made before the
 * index existed gets it (`updated`), as a stack update would add it on AWS.
 */
export async function ensureTable(
  endpoint: string,
  tableName: string,
): Promise<'created' | 'exists' | 'updated'> {
  const client = localDynamoClient(endpoint);
  try {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: ATTRIBUTE_DEFINITIONS,
          KeySchema: [
            { AttributeName: TABLE_KEYS.partition, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.sort, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [ACCESS_KEY_GSI],
          SSESpecification: { Enabled: true },
        }),
      );
    } catch (error) {
      if (error instanceof ResourceInUseException) return await addMissingIndex(client, tableName);
      throw error;
    }
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
    await client.send(
      new UpdateContinuousBackupsCommand({
        TableName: tableName,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    );
    return 'created';
  } finally {
    client.destroy();
  }
}

async function addMissingIndex(
  client: DynamoDBClient,
  tableName: string,
): Promise<'exists' | 'updated'> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const indexes = Table?.GlobalSecondaryIndexes ?? [];
  if (indexes.some((index) => index.IndexName === ACCESS_KEY_INDEX.name)) return 'exists';
  await client.send(
    new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: ATTRIBUTE_DEFINITIONS,
      GlobalSecondaryIndexUpdates: [{ Create: ACCESS_KEY_GSI }],
    }),
  );
  return 'updated';
}
