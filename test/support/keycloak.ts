/**
 * A real Keycloak for the interop suite: the pinned distribution from Maven Central (through
 * `mvn dependency:copy`, cached under .local/keycloak/), run with a Java ≥ 21 found on this
 * machine, in dev mode on loopback with an in-memory database, its log kept in .local/keycloak/.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  freePort,
  type GroupProcess,
  killGroup,
  repoRoot,
  runCommand,
  spawnGroup,
  waitForHttp,
} from './process.ts';

export const KEYCLOAK_VERSION = '26.4.7';
const ARTIFACT = `org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`;
// The zip Maven Central served for 26.4.7; a different file is refused, not run.
const ZIP_SHA256 = 'dd9834c023460be856f731423d86228c23b5d002194a2064642bec0cc6573eaa';
export const KEYCLOAK_DIR = path.join(repoRoot, '.local', 'keycloak');
const ZIP = path.join(KEYCLOAK_DIR, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`);
const HOME = path.join(KEYCLOAK_DIR, `keycloak-${KEYCLOAK_VERSION}`);
const COMPLETE = path.join(HOME, '.tvm-unpacked');
const MIN_JAVA = 21;
/** Where Debian and Ubuntu install JDKs; TVM_INTEROP_JVM_DIR names another folder of JDKs. */
const SYSTEM_JVMS = '/usr/lib/jvm';

export const KEYCLOAK_ADMIN = { username: 'admin', password: 'admin-interop' } as const;

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, command))) return path.join(dir, command);
  }
  return undefined;
}

/** The major version `java -version` reports ("25.0.3" → 25, "1.8.0_392" → 8). */
export function javaMajor(javaBin: string): number | undefined {
  const result = spawnSync(javaBin, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

export interface FoundJava {
  home: string;
  major: number;
}

/** JAVA_HOME when it is ≥ 21, else the newest ≥ 21 JDK in the system's JVM folder or on PATH. */
export function findJava(env: NodeJS.ProcessEnv = process.env): FoundJava | undefined {
  const homes: string[] = [];
  if (env.JAVA_HOME) homes.push(env.JAVA_HOME);
  const jvms = env.TVM_INTEROP_JVM_DIR || SYSTEM_JVMS;
  if (existsSync(jvms)) {
    for (const entry of readdirSync(jvms)) homes.push(path.join(jvms, entry));
  }
  const pathJava = onPath('java', env);
  if (pathJava !== undefined) homes.push(path.dirname(path.dirname(realpathSync(pathJava))));
  const found: FoundJava[] = [];
  for (const home of new Set(homes)) {
    const bin = path.join(home, 'bin', 'java');
    if (!executable(bin)) continue;
    const major = javaMajor(bin);
    if (major === undefined || major < MIN_JAVA) continue;
    // JAVA_HOME wins whenever it is recent enough: the user chose it.
    if (home === env.JAVA_HOME) return { home, major };
    found.push({ home, major });
  }
  return found.sort((a, b) => b.major - a.major)[0];
}

export type Prerequisites =
  | { ok: true; java: FoundJava; maven: string | undefined }
  | { ok: false; reason: string };

/** Java ≥ 21 always; Maven only while the distribution is not cached yet. */
export function interopPrerequisites(env: NodeJS.ProcessEnv = process.env): Prerequisites {
  const java = findJava(env);
  if (java === undefined) {
    return {
      ok: false,
      reason: `no Java ≥ ${MIN_JAVA} (JAVA_HOME, ${env.TVM_INTEROP_JVM_DIR || SYSTEM_JVMS}/*, PATH) to run Keycloak ${KEYCLOAK_VERSION}`,
    };
  }
  const maven = onPath('mvn', env);
  if (maven === undefined && !existsSync(ZIP) && !existsSync(COMPLETE)) {
    return { ok: false, reason: `no Maven (mvn) to download Keycloak ${KEYCLOAK_VERSION}` };
  }
  return { ok: true, java, maven };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface KeycloakInstall {
  home: string;
  /** Milliseconds spent downloading and unpacking in this run (0 when cached). */
  downloadMs: number;
  unpackMs: number;
}

/** The unpacked distribution, downloaded and unpacked on first use only. */
export async function ensureKeycloak(java: FoundJava): Promise<KeycloakInstall> {
  mkdirSync(KEYCLOAK_DIR, { recursive: true });
  let downloadMs = 0;
  let unpackMs = 0;
  if (!existsSync(COMPLETE)) {
    if (!existsSync(ZIP)) {
      const started = Date.now();
      const result = await runCommand(
        'mvn',
        [
          '-B',
          '-q',
          'dependency:copy',
          `-Dartifact=${ARTIFACT}`,
          `-DoutputDirectory=${KEYCLOAK_DIR}`,
        ],
        { timeoutMs: 20 * 60_000 },
      );
      if (result.code !== 0 || !existsSync(ZIP)) {
        throw new Error(`mvn dependency:copy ${ARTIFACT} failed:\n${result.output}`);
      }
      downloadMs = Date.now() - started;
    }
    const digest = await sha256File(ZIP);
    if (digest !== ZIP_SHA256) {
      rmSync(ZIP, { force: true });
      throw new Error(`${ZIP} has sha256 ${digest}, expected ${ZIP_SHA256}: deleted it`);
    }
    const started = Date.now();
    // Unpacked beside the final folder and renamed, so a half-unpacked tree is never run.
    const staging = path.join(KEYCLOAK_DIR, 'unpacking');
    rmSync(staging, { recursive: true, force: true });
    rmSync(HOME, { recursive: true, force: true });
    mkdirSync(staging);
    const unzip = onPath('unzip');
    const result =
      unzip === undefined
        ? await runCommand(path.join(java.home, 'bin', 'jar'), ['xf', ZIP], { cwd: staging })
        : await runCommand(unzip, ['-q', ZIP, '-d', staging]);
    if (result.code !== 0) throw new Error(`unpacking ${ZIP} failed:\n${result.output}`);
    renameSync(path.join(staging, `keycloak-${KEYCLOAK_VERSION}`), HOME);
    rmSync(staging, { recursive: true, force: true });
    writeFileSync(COMPLETE, `${ZIP_SHA256}\n`);
    unpackMs = Date.now() - started;
  }
  return { home: HOME, downloadMs, unpackMs };
}

export interface RunningKeycloak {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** Where its stdout and stderr go, for diagnosis. */
  logFile: string;
  process: GroupProcess;
  startMs: number;
  stop(): Promise<void>;
}

/**
 * `kc.sh start-dev` on a free loopback port with an in-memory database (a clean realm every
 * run) and a bootstrap admin; resolves once the master realm answers.
 */
export async function startKeycloak(
  install: KeycloakInstall,
  java: FoundJava,
): Promise<RunningKeycloak> {
  const port = await freePort();
  const managementPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The last run's log only: enough to diagnose it, and the folder does not grow.
  const logFile = path.join(KEYCLOAK_DIR, 'keycloak.log');
  const log = createWriteStream(logFile);
  const started = Date.now();
  const server = spawnGroup(
    path.join(install.home, 'bin', 'kc.sh'),
    [
      'start-dev',
      '--http-host=127.0.0.1',
      `--http-port=${port}`,
      `--http-management-port=${managementPort}`,
      '--db=dev-mem',
    ],
    {
      cwd: install.home,
      env: {
        ...process.env,
        JAVA_HOME: java.home,
        PATH: `${path.join(java.home, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
        // Without it, Java ≥ 24 fills the log with jboss-threads' IllegalAccessError traces.
        JAVA_OPTS_APPEND: [
          process.env.JAVA_OPTS_APPEND,
          '--add-opens=java.base/java.lang=ALL-UNNAMED',
        ]
          .filter(Boolean)
          .join(' '),
        KC_BOOTSTRAP_ADMIN_USERNAME: KEYCLOAK_ADMIN.username,
        KC_BOOTSTRAP_ADMIN_PASSWORD: KEYCLOAK_ADMIN.password,
      },
    },
  );
  server.child.stdout?.on('data', (chunk: string) => log.write(chunk));
  server.child.stderr?.on('data', (chunk: string) => log.write(chunk));
  const stop = async () => {
    await killGroup(server, 15_000);
    await new Promise<void>((resolve) => log.end(resolve));
  };
  try {
    for (;;) {
      // The master realm answers 200 only once the bootstrap admin exists.
      const answer = await waitForHttp(`${url}/realms/master`, {
        timeoutMs: 240_000,
        intervalMs: 500,
        process: server,
      });
      if (answer.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } catch (error) {
    await stop();
    throw new Error(`Keycloak did not start (log: ${logFile}): ${String(error).slice(0, 2_000)}`);
  }
  return { url, logFile, process: server, startMs: Date.now() - started, stop };
}
