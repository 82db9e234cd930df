import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whatever directory the tests were started from. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** A port the kernel just handed out on loopback; free unless someone races us for it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no TCP address for the probe server'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

export interface ChildEnvOptions {
  /** Variables to set (they win over the inherited ones). */
  set?: Record<string, string>;
  /** Variables to remove, by exact name or by a trailing-`*` prefix such as `AWS_ENDPOINT_URL*`. */
  unset?: readonly string[];
}

/**
 * The parent's environment with `node_modules/.bin` first on PATH, so `npx serverless` and the
 * `node` it starts are the project's Node 24 even when vitest was launched outside npm.
 */
export function childEnv(options: ChildEnvOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const pattern of options.unset ?? []) {
    const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
    for (const name of Object.keys(env)) {
      if (prefix === undefined ? name === pattern : name.startsWith(prefix)) delete env[name];
    }
  }
  Object.assign(env, options.set);
  const bin = path.join(repoRoot, 'node_modules', '.bin');
  const rest = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((entry) => entry !== '' && entry !== bin);
  env.PATH = [bin, ...rest].join(path.delimiter);
  // Colour codes would only make captured output harder to read and match.
  env.NO_COLOR = '1';
  env.FORCE_COLOR = '0';
  return env;
}

export interface GroupProcess {
  readonly child: ChildProcess;
  /** Also the process group id: the child leads its own group. */
  readonly pid: number;
  /** Everything written to stdout and stderr so far, interleaved. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Settles when the direct child has exited (not necessarily its descendants). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnGroupOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const liveGroups = new Set<number>();

// Last resort if a test run dies before its afterAll: never leave a server behind.
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/**
 * Starts a command as the leader of a new process group, so that killGroup() reaches the whole
 * tree (npx ▸ sh ▸ node ▸ esbuild service / lambda workers), not only the npx wrapper.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: SpawnGroupOptions = {},
): GroupProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? childEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  liveGroups.add(pid);
  let all = '';
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    all += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    all += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' (not 'exit') so that stdout/stderr are fully read first.
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  return {
    child,
    pid,
    exited,
    output: () => all,
    stdout: () => out,
    stderr: () => err,
  };
}

/** True while any process (the leader or a descendant that kept the group) is still alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

/**
 * SIGTERM to the whole group, then SIGKILL for whatever is left after `graceMs`; resolves only
 * once no process of the group remains and the leader's output is drained.
 */
export async function killGroup(proc: GroupProcess, graceMs = 5_000): Promise<void> {
  if (groupAlive(proc.pid)) {
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {
      // Exited between the check and the signal.
    }
    if (!(await waitGroupGone(proc.pid, graceMs))) {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // Exited just now.
      }
      if (!(await waitGroupGone(proc.pid, 5_000))) {
        throw new Error(`process group ${proc.pid} survived SIGKILL`);
      }
    }
  }
  liveGroups.delete(proc.pid);
  await proc.exited;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  output: string;
  durationMs: number;
}

export interface RunOptions extends SpawnGroupOptions {
  /** The whole group is killed after this long; the result then has `signal` set. */
  timeoutMs?: number;
}

/** Runs a command to completion in its own group; never leaves descendants behind. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const started = Date.now();
  const proc = spawnGroup(command, args, options);
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([proc.exited, timedOut]);
  clearTimeout(timer);
  // Also reaps anything the command left running in its group (e.g. esbuild's service process).
  await killGroup(proc);
  const { code, signal } = first === 'timeout' ? { code: null, signal: 'SIGTERM' as const } : first;
  return {
    code,
    signal,
    stdout: proc.stdout(),
    stderr: proc.stderr(),
    output: proc.output(),
    durationMs: Date.now() - started,
  };
}

export interface WaitForHttpOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Stop early when the server process dies, instead of polling until the timeout. */
  process?: GroupProcess;
}

/** Polls `url` until it answers with any HTTP status (connection refused means not yet). */
export async function waitForHttp(
  url: string,
  options: WaitForHttpOptions = {},
): Promise<Response> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exited = false;
  void options.process?.exited.then(() => {
    exited = true;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`server exited before ${url} answered:\n${options.process?.output() ?? ''}`);
    }
    try {
      return await fetch(url, { signal: AbortSignal.timeout(2_000) });
    } catch (error) {
      lastError = error;
      await delay(options.intervalMs ?? 250);
    }
  }
  throw new Error(
    `${url} did not answer in time: ${String(lastError)}\n${options.process?.output() ?? ''}`,
  );
}
