/**
 * The IdP setup guides (docs/idp/*.md) must hand out configs TVM accepts, or an admin's first
 * `config validate` fails on our example. Convention (docs/idp/README.md): every ```yaml block in
 * a guide's "## TVM configuration" section is a whole config file, checked here exactly as
 * `config validate --stage prod` checks a file, and may pin only the docs' example certificate. The
 * index must list every guide, and say "tested" only of guides without the "Not tested here" banner.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '#shared/config/parse.ts';

const GUIDES = new URL('../../../docs/idp/', import.meta.url);
const CONFIG_HEADING = '## TVM configuration';
const UNTESTED_BANNER = 'Not tested here';
/** The subject of the docs' example certificate, whose private key was never stored. */
const EXAMPLE_CERTIFICATE_SUBJECT = "O=TVM docs: replace with your IdP's certificate";

const read = (file: string): string => readFileSync(new URL(file, GUIDES), 'utf8');

const guideFiles = readdirSync(GUIDES)
  .filter((file) => file.endsWith('.md') && file !== 'README.md')
  .sort();

/** The ```yaml blocks of the "## TVM configuration" section; fences are tracked, so a YAML comment is never a heading. */
function configBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  let inSection = false;
  let fence: { yaml: boolean; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (fence !== undefined) {
      if (/^```\s*$/.test(line)) {
        if (fence.yaml && inSection) blocks.push(`${fence.lines.join('\n')}\n`);
        fence = undefined;
      } else {
        fence.lines.push(line);
      }
    } else if (line.startsWith('```')) {
      fence = { yaml: /^```ya?ml\s*$/.test(line), lines: [] };
    } else if (line.startsWith('## ')) {
      inSection = line.trim() === CONFIG_HEADING;
    }
  }
  return blocks;
}

const configs = guideFiles.flatMap((file) =>
  configBlocks(read(file)).map((block, index) => ({ file, index: index + 1, block })),
);

describe('docs/idp setup guides', () => {
  it('finds the guides', () => {
    expect(guideFiles.length).toBeGreaterThanOrEqual(8);
  });

  it.each(guideFiles)('%s has a "## TVM configuration" section with a config', (file) => {
    // Assess
    expect(configBlocks(read(file)).length).toBeGreaterThan(0);
  });

  it.each(configs)(
    '$file config $index is a whole config file valid for stage prod',
    ({ file, block }) => {
      // Act
      const result = parseConfigText(block, `docs/idp/${file}`, { stage: 'prod' });

      // Assess
      expect(block.startsWith('version: 1\n')).toBe(true);
      expect(result.ok ? [] : result.problems).toEqual([]);
    },
  );

  it.each(configs)(
    '$file config $index: the guide names its SAML URLs as configured',
    ({ file, block }) => {
      // Prepare
      const result = parseConfigText(block, file, { stage: 'prod' });
      if (!result.ok) throw new Error(`${file} config does not validate`);
      // The prose and the IdP-side snippets, without the configs (which name the entity id anyway).
      const text = read(file).replaceAll(/^```ya?ml\n[\s\S]*?^```$/gm, '');

      // Assess: a guide copied from another must not tell the IdP admin the other provider's URLs.
      for (const provider of result.config.providers) {
        if (provider.type !== 'saml') continue;
        expect(text).toContain(`/v1/saml/${provider.id}/acs`);
        expect(text).toContain(provider.spEntityId);
        expect(provider.allowSha1).toBe(false);
      }
    },
  );

  it.each(configs)('$file config $index pins only the example certificate', ({ file, block }) => {
    // Prepare
    const result = parseConfigText(block, file, { stage: 'prod' });
    if (!result.ok) throw new Error(`${file} config does not validate`);

    // Assess: a copied config must never trust a key that sits in this repository (test fixtures).
    for (const provider of result.config.providers) {
      if (provider.type !== 'saml') continue;
      expect(provider.metadataXml).toBeUndefined();
      for (const pem of provider.certificates ?? []) {
        expect(new X509Certificate(pem).subject).toContain(EXAMPLE_CERTIFICATE_SUBJECT);
      }
    }
  });

  it.each(guideFiles)('%s: an untested guide says so and cites its sources', (file) => {
    // Prepare
    const text = read(file);
    if (!text.includes(UNTESTED_BANNER)) return;

    // Assess
    expect(text).toMatch(/\*\*Not tested here — written from .+'s documentation/);
    const sources = text.split('\n## Sources\n')[1] ?? '';
    expect(sources).toMatch(/<https:\/\/[^>]+>/);
  });

  it('the index lists every guide, "tested" exactly for those without the banner', () => {
    // Prepare
    const rows = new Map(
      [
        ...read('README.md').matchAll(
          /^\| \[[^\]]+\]\(([a-z0-9-]+\.md)\) *\|[^|]*\| *(yes|no)\b/gm,
        ),
      ].map((match) => [match[1] as string, match[2] === 'yes']),
    );

    // Assess
    for (const file of guideFiles) {
      expect(rows.has(file), `${file} is missing from docs/idp/README.md`).toBe(true);
      expect(rows.get(file), `${file}: "tested" in the index`).toBe(
        !read(file).includes(UNTESTED_BANNER),
      );
    }
  });
});
