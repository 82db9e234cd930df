/**
 * Builds the tvm-login launcher: one ES module for Node >= 20 with a `#!/usr/bin/env node` line,
 * mode 0755, so that `credential_process = /path/to/tvm-login.mjs credential-process ...` runs it
 * without tsx or node_modules. Written to a temporary name and renamed, so a build never leaves
 * half a launcher where a running AWS CLI might start it.
 *
 *   npm run build:login            -> dist/tvm-login.mjs
 *   tsx scripts/login/build.ts <file>
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const LAUNCHER_PATH = path.join(root, 'dist', 'tvm-login.mjs');
/** The oldest Node the launcher supports (fetch, parseArgs, top-level await). */
export const LAUNCHER_TARGET = 'node20';

export async function buildLauncher(
  outfile = LAUNCHER_PATH,
): Promise<{ outfile: string; metafile: Metafile }> {
  mkdirSync(path.dirname(outfile), { recursive: true });
  const temporary = `${outfile}.${randomBytes(6).toString('hex')}.tmp`;
  const result = await build({
    entryPoints: [path.join(root, 'scripts', 'login', 'bin.ts')],
    outfile: temporary,
    bundle: true,
    platform: 'node',
    target: LAUNCHER_TARGET,
    format: 'esm',
    banner: { js: '#!/usr/bin/env node' },
    // Readable on purpose: a user can audit what their credential_process runs.
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  chmodSync(temporary, 0o755);
  renameSync(temporary, outfile);
  return { outfile, metafile: result.metafile };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { outfile } = await buildLauncher(
    process.argv[2] === undefined ? undefined : path.resolve(process.argv[2]),
  );
  process.stdout.write(`built ${path.relative(process.cwd(), outfile)}\n`);
}
