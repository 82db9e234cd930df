/**
 * The Debian packages the SAML end-to-end tests need: SimpleSAMLphp (a real IdP) on PHP with DOM
 * and mbstring, Debian's Chromium (driven by playwright-core), xmlsec1 and openssl.
 *
 *   tsx scripts/local/system-deps.ts        check, and install with apt-get when something is missing
 *
 * `npm run setup` calls ensureSystemPackages() too. When everything is there it only looks at a few
 * files and runs `php -m` once: no apt, no network.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalStackError } from './aws-stack.ts';

/** Everything the SAML tests use, in one apt-get install. */
export const SYSTEM_PACKAGES: readonly string[] = [
  'simplesamlphp',
  'php8.2-cli',
  'php8.2-xml',
  'php8.2-mbstring',
  'chromium',
  'xmlsec1',
  'openssl',
];

export const APT_INSTALL_ARGS: readonly string[] = [
  'install',
  '-y',
  '--no-install-recommends',
  '--no-upgrade',
  ...SYSTEM_PACKAGES,
];

/** What to tell a user who has to install the packages themselves. */
export const APT_INSTALL_COMMAND = `sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get ${APT_INSTALL_ARGS.join(' ')}`;

export interface SystemTool {
  /** Shown in messages. */
  name: string;
  /** True when the tool is usable. */
  present(): boolean;
}

const PHP = '/usr/bin/php';

/** `php -m`, lower-cased module names; empty when php is missing or fails. */
function phpModules(): Set<string> {
  if (!existsSync(PHP)) return new Set();
  const result = spawnSync(PHP, ['-m'], { encoding: 'utf8', timeout: 15_000 });
  if (result.status !== 0) return new Set();
  return new Set(
    result.stdout
      .split('\n')
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line !== '' && !line.startsWith('[')),
  );
}

function file(path: string): SystemTool {
  return { name: path, present: () => existsSync(path) };
}

/** The checks, in the order they are reported. */
export function systemTools(): SystemTool[] {
  let modules: Set<string> | undefined;
  const phpModule = (name: string): SystemTool => ({
    name: `php extension ${name} (php -m)`,
    present: () => {
      modules ??= phpModules();
      return modules.has(name);
    },
  });
  return [
    file(PHP),
    phpModule('dom'),
    phpModule('mbstring'),
    file('/usr/share/simplesamlphp/www/index.php'),
    file('/usr/bin/chromium'),
    file('/usr/bin/xmlsec1'),
    file('/usr/bin/openssl'),
  ];
}

/** The names of the tools that are missing; empty when all are there. */
export function missingSystemTools(tools: readonly SystemTool[] = systemTools()): string[] {
  return tools.filter((tool) => !tool.present()).map((tool) => tool.name);
}

export class SystemPackagesError extends LocalStackError {}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir !== '' && existsSync(join(dir, command)));
}

/** `sudo -n` works only when sudo needs no password (or has a cached one). */
function passwordlessSudo(): boolean {
  if (!onPath('sudo')) return false;
  const probe = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 });
  return probe.status === 0;
}

/** Runs a command, streaming its output line by line to `log`; rejects on a non-zero exit. */
function run(command: string, args: readonly string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forward = (stream: NodeJS.ReadableStream | null): void => {
      if (stream === null) return;
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) log(line);
      });
      stream.on('end', () => {
        if (pending !== '') log(pending);
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

export interface EnsureSystemPackagesOptions {
  /** The checks to run; systemTools() by default. */
  tools?: readonly SystemTool[];
}

/**
 * Makes sure the SAML tests' system tools exist. Does nothing when they do. Otherwise installs the
 * Debian packages with apt-get (as root, or through passwordless `sudo -n`), streaming apt's
 * output to `log`, and checks again. Throws SystemPackagesError, naming the missing tools and the
 * command to run, when it cannot install them or they are still missing afterwards.
 */
export async function ensureSystemPackages(
  log: (line: string) => void = console.error,
  options: EnsureSystemPackagesOptions = {},
): Promise<void> {
  const tools = options.tools ?? systemTools();
  const missing = missingSystemTools(tools);
  if (missing.length === 0) return;

  const what = `The SAML end-to-end tests need tools that are missing: ${missing.join(', ')}.`;
  const isRoot = process.getuid?.() === 0;
  const hasApt = onPath('apt-get');
  let command: string;
  let base: string[];
  if (isRoot && hasApt) {
    command = 'apt-get';
    base = [];
  } else if (!isRoot && hasApt && passwordlessSudo()) {
    // sudo resets the environment: pass DEBIAN_FRONTEND through env(1).
    command = 'sudo';
    base = ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'];
  } else {
    const why = hasApt
      ? 'This process is not root and `sudo -n` is not available (no sudo, or it needs a password).'
      : 'apt-get was not found (these tests expect Debian 12 or a derivative).';
    throw new SystemPackagesError(`${what} ${why} Install them with:\n  ${APT_INSTALL_COMMAND}`);
  }

  log(`${what} Installing ${SYSTEM_PACKAGES.join(' ')} with apt-get…`);
  try {
    await run(command, [...base, 'update'], log);
    await run(command, [...base, ...APT_INSTALL_ARGS], log);
  } catch (error) {
    throw new SystemPackagesError(
      `${what} Installing them failed: ${(error as Error).message}. Install them with:\n  ${APT_INSTALL_COMMAND}`,
    );
  }

  const still = missingSystemTools(options.tools ?? systemTools());
  if (still.length > 0) {
    throw new SystemPackagesError(
      `apt-get finished but these are still missing: ${still.join(', ')}. Install them with:\n  ${APT_INSTALL_COMMAND}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureSystemPackages().then(
    () => {
      console.log('system packages for the SAML tests: ok');
    },
    (error: unknown) => {
      console.error(error instanceof SystemPackagesError ? error.message : error);
      process.exitCode = 1;
    },
  );
}
