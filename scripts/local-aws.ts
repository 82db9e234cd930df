/**
 * The local AWS stack as a command:
 *
 *   npm run local:aws -- install                     install the pinned moto, cfn-lint and
 *                                                    schemathesis into .venv, and the Debian
 *                                                    packages of the SAML tests
 *   npm run local:aws -- start [--port 5000] [--table tvm-local] [--foreground]
 *   npm run local:aws -- stop  [--port 5000]
 *   npm run local:aws -- status [--port 5000]
 *
 * `start` runs moto on 127.0.0.1, waits until it is healthy, creates the table (idempotent) and
 * prints the environment that points the AWS SDK at it. Without --foreground it leaves moto
 * running in the background with a pid file under .local/; `stop` ends its whole process group.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_PORT,
  ensurePythonEnv,
  ensureTable,
  LocalStackError,
  localAwsEnv,
  STATE_DIR,
  startMoto,
  stopProcessGroup,
} from './local/aws-stack.ts';
import { ensureSystemPackages } from './local/system-deps.ts';

const USAGE =
  'usage: local-aws <install|start|stop|status> [--port N] [--table NAME] [--foreground]';

function pidFile(port: number): string {
  return join(STATE_DIR, `moto-${port}.pid`);
}

/** The pid in the file, if that process is still a moto_server (pids get reused). */
function runningPid(port: number): number | undefined {
  const file = pidFile(port);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('moto_server') ? pid : undefined;
  } catch {
    return undefined;
  }
}

function printEnv(endpoint: string, table: string): void {
  console.log(`moto is running at ${endpoint}, table ${table}. For the local stage:`);
  for (const [name, value] of Object.entries(localAwsEnv(endpoint, table))) {
    console.log(`export ${name}=${value}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string', default: process.env.TVM_LOCAL_AWS_PORT ?? String(DEFAULT_PORT) },
        table: { type: 'string', default: 'tvm-local' },
        foreground: { type: 'boolean', default: false },
      },
    });
  }
  try {
    parsed = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  const port = Number(parsed.values.port);
  if (rest.length > 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    console.error(USAGE);
    return 2;
  }
  const table = parsed.values.table;

  switch (command) {
    case 'install':
      ensurePythonEnv();
      console.log('.venv is ready: moto_server, cfn-lint and schemathesis (st) are installed.');
      await ensureSystemPackages();
      console.log('system packages for the SAML tests: ok');
      return 0;
    case 'start': {
      const existing = runningPid(port);
      if (existing !== undefined) {
        const endpoint = `http://127.0.0.1:${port}`;
        await ensureTable(endpoint, table);
        printEnv(endpoint, table);
        return 0;
      }
      const moto = await startMoto({ port });
      const created = await ensureTable(moto.endpoint, table);
      console.log(`Table ${table}: ${created}.`);
      printEnv(moto.endpoint, table);
      if (!parsed.values.foreground) {
        writeFileSync(pidFile(port), `${moto.pid}\n`);
        moto.process.unref();
        return 0;
      }
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await moto.stop();
      console.log('moto stopped.');
      return 0;
    }
    case 'stop': {
      const pid = runningPid(port);
      if (pid === undefined) {
        console.log(`No local moto on port ${port}.`);
      } else {
        await stopProcessGroup(pid);
        console.log(`Stopped moto (pid ${pid}) on port ${port}.`);
      }
      rmSync(pidFile(port), { force: true });
      return 0;
    }
    case 'status': {
      const pid = runningPid(port);
      console.log(
        pid === undefined ? `stopped (port ${port})` : `running (pid ${pid}, port ${port})`,
      );
      return pid === undefined ? 1 : 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof LocalStackError ? error.message : error);
    process.exitCode = error instanceof LocalStackError ? 1 : 3;
  },
);
