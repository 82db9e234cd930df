/**
 * Writes docs/config.schema.json from the zod schema in shared/config/schema.ts.
 *   npx tsx scripts/generate-config-schema.ts          regenerate the file
 *   npx tsx scripts/generate-config-schema.ts --check  exit 1 if the committed file is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderConfigJsonSchema } from '#shared/config/schema.ts';

const target = fileURLToPath(new URL('../docs/config.schema.json', import.meta.url));
const expected = renderConfigJsonSchema();

if (process.argv.includes('--check')) {
  const committed = await readFile(target, 'utf8').catch(() => undefined);
  if (committed !== expected) {
    process.stderr.write(
      'docs/config.schema.json is stale: run `npx tsx scripts/generate-config-schema.ts` and commit it\n',
    );
    process.exit(1);
  }
  process.stdout.write('docs/config.schema.json is up to date\n');
} else {
  await writeFile(target, expected);
  process.stdout.write(`wrote ${target}\n`);
}
