import pc from 'picocolors';
import { defaultDeps, runCli } from './cli/main.ts';

runCli(
  process.argv.slice(2),
  {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    color: pc.isColorSupported,
  },
  defaultDeps(),
).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`unexpected error: ${String(error)}\n`);
    process.exitCode = 3;
  },
);
