/**
 * `npm run test:interop`: the Keycloak suite when this machine can run Keycloak (a Java ≥ 21,
 * and Maven until the distribution is cached), otherwise one line saying why, and exit 0.
 */
import { spawnSync } from 'node:child_process';
import { interopPrerequisites } from '../support/keycloak.ts';
import { repoRoot } from '../support/process.ts';

const prerequisites = interopPrerequisites();
if (!prerequisites.ok) {
  console.log(`test:interop skipped: ${prerequisites.reason}`);
  process.exit(0);
}
const run = (command: string, args: string[]) =>
  spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' }).status ?? 1;
const setup = run('npm', ['run', '--silent', 'setup']);
if (setup !== 0) process.exit(setup);
process.exit(
  run('npx', [
    'vitest',
    'run',
    '--config',
    'test/interop/vitest.config.ts',
    ...process.argv.slice(2),
  ]),
);
