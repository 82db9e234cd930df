/**
 * The launcher's entry point (scripts/login/build.ts bundles it into dist/tvm-login.mjs). It
 * knows its own path, which `configure` writes into credential_process.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultLoginDeps, runTvmLogin } from './main.ts';

/**
 * The path the user ran (e.g. an npm bin link on PATH) when it leads to this file, since that
 * survives upgrades; else this file. Windows cannot run a .mjs directly: node runs it there.
 */
function launcher(): string[] {
  const self = fileURLToPath(import.meta.url);
  const invoked = process.argv[1];
  let chosen = self;
  if (invoked !== undefined && path.isAbsolute(invoked)) {
    try {
      if (realpathSync(invoked) === realpathSync(self)) chosen = invoked;
    } catch {
      // Not a path that exists: keep this file.
    }
  }
  return process.platform === 'win32' ? [process.execPath, chosen] : [chosen];
}

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

process.exitCode = await runTvmLogin(
  process.argv.slice(2),
  io,
  defaultLoginDeps({ launcher: launcher() }),
);
