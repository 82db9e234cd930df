/**
 * `npm start`: the whole TVM on this machine. It starts moto (the local AWS) on 127.0.0.1,
 * creates the table, starts the development OIDC issuer on 127.0.0.1:9400 (the demo config's
 * issuer), applies the demo config, and runs serverless-offline on port 3000 with the local
 * stage. Ctrl-C stops every process it started.
 *
 *   TVM_LOCAL_AWS_PORT (default 5000)   TVM_HTTP_PORT (default 3000)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { defaultDeps, runCli } from './cli/main.ts';
import {
  ensureTable,
  LocalStackError,
  localAwsEnv,
  PROJECT_ROOT,
  type RunningMoto,
  startMoto,
  stopProcessGroup,
} from './local/aws-stack.ts';
import { type DevIssuer, startDevIssuer } from './local/dev-issuer.ts';

const TABLE = 'tvm-local';
const DEMO_CONFIG = join(PROJECT_ROOT, 'scripts', 'local', 'demo-config.yaml');

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new LocalStackError(`${name} must be a port number`);
  }
  return value;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LocalStackError('serverless offline exited during start-up');
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new LocalStackError(`${url} did not answer within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
  const awsPort = port('TVM_LOCAL_AWS_PORT', 5000);
  const httpPort = port('TVM_HTTP_PORT', 3000);
  let moto: RunningMoto | undefined;
  let issuer: DevIssuer | undefined;
  let offline: ChildProcess | undefined;
  let offlineExited: Promise<unknown> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (offline?.pid !== undefined) await stopProcessGroup(offline.pid, offlineExited);
    await moto?.stop();
    await issuer?.stop().catch(() => {});
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  try {
    moto = await startMoto({ port: awsPort });
    console.log(`local AWS (moto) at ${moto.endpoint}`);
    await ensureTable(moto.endpoint, TABLE);
    issuer = await startDevIssuer();
    console.log(`development OIDC issuer at ${issuer.url}`);
    const env = { ...process.env, ...localAwsEnv(moto.endpoint, TABLE) };

    const code = await runCli(
      ['config', 'apply', DEMO_CONFIG, '--stage', 'local', '--by', 'npm-start'],
      {
        out: (line) => console.log(line),
        err: (line) => console.error(line),
        color: false,
      },
      defaultDeps(env),
    );
    if (code !== 0) throw new LocalStackError(`applying the demo config failed (exit ${code})`);

    offline = spawn(
      'npx',
      ['serverless', 'offline', 'start', '--stage', 'local', '--httpPort', String(httpPort)],
      { cwd: PROJECT_ROOT, env, stdio: 'inherit', detached: true },
    );
    offlineExited = new Promise((resolve) => offline?.once('exit', resolve));
    void offlineExited.then(() => {
      if (!stopping) {
        console.error('serverless offline stopped; shutting down');
        void stop(1);
      }
    });
    await waitForHttp(`http://127.0.0.1:${httpPort}/v1/health`, offline);
    const base = `http://127.0.0.1:${httpPort}`;
    console.log(`\nTVM is running at ${base}. Try:`);
    console.log(`  curl ${base}/v1/health`);
    console.log('  TOKEN=$(npm run -s tvm:local -- dev-token --sub alice --claim tenant=acme)');
    console.log(`  curl -s -X POST -H "Authorization: Bearer $TOKEN" ${base}/v1/credentials`);
    console.log('  npm run tvm:local -- config export');
    console.log('Press Ctrl-C to stop.');
  } catch (error) {
    console.error(error instanceof LocalStackError ? error.message : error);
    await stop(1);
  }
}

void main();
