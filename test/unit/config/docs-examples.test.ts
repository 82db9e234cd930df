import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '#shared/config/parse.ts';

/** Every config the docs show must be one the CLI accepts, or the docs are lying. */
function yamlBlocks(markdown: string): string[] {
  return (
    [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((match) => match[1] ?? '')
      // Outlines with `...` placeholders are not meant to be complete.
      .filter((block) => block.startsWith('version: 1') && !block.includes('...'))
  );
}

describe('documented configs', () => {
  it.each([
    ['README.md', 'prod'],
    ['docs/configuration.md', 'prod'],
  ])('every complete example in %s validates', (file, stage) => {
    for (const block of yamlBlocks(readFileSync(file, 'utf8'))) {
      const result = parseConfigText(block, file, { stage });
      expect(result.ok ? [] : result.problems).toEqual([]);
    }
  });

  it.each([
    ['docs/examples/tvm.config.yaml', 'prod'],
    ['scripts/local/demo-config.yaml', 'local'],
  ])('%s validates for stage %s', (file, stage) => {
    const result = parseConfigText(readFileSync(file, 'utf8'), file, { stage });
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});
