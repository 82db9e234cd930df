import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_FILE_BYTES, parseConfigText } from '#shared/config/parse.ts';
import type { ConfigProblem } from '#shared/errors.ts';
import { CERTIFICATE_VALID_AT, readFixture } from '../../fixtures/config/documents.ts';

const prod = { stage: 'prod', now: CERTIFICATE_VALID_AT };

/** `line:column` of the key on the first line containing `marker` (after any "- "). */
function locate(text: string, marker: string): string {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.includes(marker));
  const column = (lines[index] ?? '').search(/[^ -]/) + 1;
  return `${index + 1}:${column}`;
}

function problemsOf(text: string, fileName = 'tvm.config.yaml'): ConfigProblem[] {
  const result = parseConfigText(text, fileName, prod);
  return result.ok ? [] : result.problems;
}

describe('parseConfigText', () => {
  it('accepts the documented example, docs/examples/tvm.config.yaml', () => {
    // Prepare
    const text = readFileSync(
      new URL('../../../docs/examples/tvm.config.yaml', import.meta.url),
      'utf8',
    );

    // Act
    const result = parseConfigText(text, 'tvm.config.yaml', prod);

    // Assess
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.config.providers.map((provider) => provider.type)).toEqual([
      'oidc',
      'saml',
    ]);
  });

  it('reads JSON as well as YAML', () => {
    // Act
    const result = parseConfigText(readFixture('minimal.json'), 'minimal.json', prod);

    // Assess
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it('reports five distinct mistakes at once, each with its line and column', () => {
    // Prepare
    const text = readFixture('five-errors.yaml');

    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems).toEqual([
      {
        path: 'providers[0].issuer',
        message: expect.stringContaining('must use https'),
        location: locate(text, '# 1.'),
      },
      {
        path: 'providers[1].id',
        message: expect.stringContaining('duplicate id "mobile"'),
        location: locate(text, '# 2.'),
      },
      {
        path: 'mappings[0].durationSeconds',
        message: expect.stringContaining('3,600'),
        location: locate(text, '# 3.'),
      },
      {
        path: 'mappings[1].roleArn',
        message: expect.stringContaining('not an IAM role ARN'),
        location: locate(text, '# 4.'),
      },
      {
        path: 'mappings[1].sessionTags.tenant',
        message: expect.stringContaining('unknown template variable "claims.tenat"'),
        location: locate(text, '{{claims.tenat}}'),
      },
    ]);
  });

  it('points a missing field at the object that lacks it', () => {
    // Prepare
    const text =
      'version: 1\nproviders:\n  - id: mobile\n    type: oidc\n    audiences: [a]\nmappings: []\n';

    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems).toEqual([
      { path: 'providers[0].issuer', message: 'is required', location: '3:5' },
    ]);
  });

  it('gives the line and column of malformed YAML', () => {
    // Prepare: the flow sequence on line 5 is never closed (inline: Biome would flag a fixture file).
    const text = [
      'version: 1',
      'providers:',
      '  - id: mobile',
      '    type: oidc',
      '    audiences: [client-id-1, client-id-2',
      'mappings: []',
      '',
    ].join('\n');

    // Act
    const problems = problemsOf(text, 'malformed.yaml');

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toEqual({
      path: '',
      message: expect.stringMatching(/^malformed\.yaml is not valid YAML or JSON: .*Flow sequence/),
      location: '6:1',
    });
    expect(problems[0]?.message).not.toContain('\n');
  });

  it('rejects a duplicate key, naming it', () => {
    // Act
    const problems = problemsOf(readFixture('duplicate-key.yaml'));

    // Assess
    expect(problems).toEqual([
      {
        path: '',
        message: 'duplicate key issuer: keys in a mapping must be unique',
        location: '7:5',
      },
    ]);
  });

  it('rejects a duplicate key in JSON', () => {
    expect(
      problemsOf('{"version": 1, "version": 1, "providers": [], "mappings": []}', 'c.json'),
    ).toEqual([
      { path: '', message: expect.stringContaining('duplicate key "version"'), location: '1:16' },
    ]);
  });

  it.each([
    ['an empty file', ''],
    ['a file of whitespace', ' \n\n  '],
    ['a file of comments only', '# nothing here yet\n'],
  ])('rejects %s', (_case, text) => {
    expect(problemsOf(text, 'new.yaml')).toEqual([
      { path: '', message: expect.stringContaining('new.yaml is empty') },
    ]);
  });

  it('rejects a file over 1 MiB before parsing it', () => {
    // Prepare
    const text = `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\nversion: 1\n`;

    // Act
    const problems = problemsOf(text, 'huge.yaml');

    // Assess
    expect(problems).toEqual([
      {
        path: '',
        message: expect.stringMatching(/^huge\.yaml is 1,048,5\d\d bytes; the limit is 1 MiB/),
      },
    ]);
  });

  it('rejects several documents in one file', () => {
    expect(problemsOf('version: 1\n---\nversion: 1\n')).toEqual([
      {
        path: '',
        message: expect.stringContaining('multiple documents'),
        location: expect.any(String),
      },
    ]);
  });

  it('rejects an alias to an anchor that does not exist instead of throwing', () => {
    expect(problemsOf('version: 1\nproviders: *missing\nmappings: []\n')).toEqual([
      { path: '', message: expect.stringContaining('Unresolved alias') },
    ]);
  });

  it('rejects unknown YAML tags rather than guessing their meaning', () => {
    expect(problemsOf('version: !Ref Version\nproviders: []\nmappings: []\n')).toEqual([
      { path: '', message: expect.stringContaining('Unresolved tag: !Ref'), location: '1:10' },
    ]);
  });

  it('refuses nesting deeper than 64 levels with one clear problem', () => {
    // Prepare
    const text = `version: 1\nproviders: []\nmappings: ${'['.repeat(100)}${']'.repeat(100)}\n`;

    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems).toEqual([
      {
        path: `mappings${'[0]'.repeat(64)}`,
        message: expect.stringContaining('the limit is 64'),
        location: expect.stringMatching(/^3:/),
      },
    ]);
  });

  it('reports, rather than throws, on nesting too deep for the YAML parser', () => {
    // Prepare
    const text = `mappings: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`;

    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.length).toBeLessThanOrEqual(10);
  });
});
