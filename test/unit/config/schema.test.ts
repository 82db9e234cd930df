import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigFileSchema, renderConfigJsonSchema } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { ConfigProblem } from '#shared/errors.ts';
import {
  CERTIFICATE_VALID_AT,
  type ConfigDocument,
  documentWithMapping,
  oidcProvider,
  validDocument,
} from '../../fixtures/config/documents.ts';

const options = { stage: 'prod', now: CERTIFICATE_VALID_AT };

function problemsOf(document: unknown): ConfigProblem[] {
  const result = validateConfig(document, options);
  return result.ok ? [] : result.problems;
}

/** `match` nested `depth` levels deep: `not` nodes around one condition. */
function nestedMatch(depth: number): unknown {
  let node: unknown = { claim: 'groups', op: 'exists' };
  for (let level = 1; level < depth; level++) node = { not: node };
  return node;
}

describe('config schema', () => {
  it('fills every default so the parsed config is fully normalized', () => {
    // Prepare
    const document = validDocument();

    // Act
    const result = validateConfig(document, options);

    // Assess
    expect(result.ok).toBe(true);
    const config = result.ok ? result.config : undefined;
    expect(config?.providers[0]).toMatchObject({
      algorithms: ['RS256'],
      clockToleranceSeconds: 60,
      jwks: { cooldownSeconds: 30, timeoutMs: 3000, staleMaxAgeSeconds: 3600 },
      defaultClaimMaxLength: 128,
      ambiguity: 'first',
    });
    expect(config?.providers[1]).toMatchObject({
      allowIdpInitiated: false,
      signAuthnRequests: false,
      wantResponseSigned: false,
      clockSkewSeconds: 60,
      maxAssertionAgeSeconds: 300,
      mode: 'chained',
      ambiguity: 'choose',
      claims: {},
    });
    expect(config?.mappings[0]).toMatchObject({
      sessionTags: {},
      transitiveTagKeys: [],
      policyArns: [],
      durationSeconds: 3600,
    });
  });

  it('defaults an exists condition to value true', () => {
    // Prepare
    const document = documentWithMapping({ match: { claim: 'tenant', op: 'exists' } });

    // Act
    const config = ConfigFileSchema.parse(document);

    // Assess
    expect(config.mappings[0]?.match).toEqual({ claim: 'tenant', op: 'exists', value: true });
  });

  it('rejects an unknown field and suggests the likely one', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = oidcProvider({ jwks_uri: 'https://issuer.example.com/jwks' });

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toEqual([
      {
        path: 'providers[0].jwks_uri',
        message: 'unknown field "jwks_uri"; did you mean "jwksUri"?',
      },
    ]);
  });

  it.each([
    ['none', 'none'],
    ['HMAC', 'HS256'],
  ])('never accepts the %s algorithm', (_case, algorithm) => {
    // Prepare
    const document = validDocument();
    document.providers[0] = oidcProvider({ algorithms: ['RS256', algorithm] });

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toEqual([
      { path: 'providers[0].algorithms[1]', message: expect.stringContaining('"EdDSA"') },
    ]);
  });

  it('allows "choose" ambiguity only on SAML providers', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = oidcProvider({ ambiguity: 'choose' });

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toEqual([
      { path: 'providers[0].ambiguity', message: expect.stringContaining('only SAML') },
    ]);
  });

  it('rejects ids that cannot appear in a URL path', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = oidcProvider({ id: 'Mobile App' });

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toContainEqual({
      path: 'providers[0].id',
      message: expect.stringContaining('URL paths'),
    });
  });

  it('rejects a version other than 1', () => {
    // Prepare
    const document: ConfigDocument = { ...validDocument(), version: 2 };

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toEqual([{ path: 'version', message: expect.stringContaining('must be 1') }]);
  });

  it('rejects a provider without a known type', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = { id: 'mobile', type: 'oauth' };

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toContainEqual({
      path: 'providers[0].type',
      message: 'must be one of "oidc", "saml", "guest", not the string "oauth"',
    });
  });

  it('rejects a document that is not an object', () => {
    expect(problemsOf(['version', 1])).toEqual([
      { path: '', message: 'must be an object, not an array' },
    ]);
  });

  describe('match trees', () => {
    it.each([
      ['an empty all', { all: [] }, 'mappings[0].match.all', 'must not be empty'],
      ['an empty any', { any: [] }, 'mappings[0].match.any', 'must not be empty'],
      [
        'an empty in list',
        { claim: 'groups', op: 'in', value: [] },
        'mappings[0].match.value',
        'must not be empty',
      ],
      [
        'a list value for equals',
        { claim: 'groups', op: 'equals', value: ['a'] },
        'mappings[0].match.value',
        'must be a string',
      ],
      [
        'an unknown operator',
        { claim: 'groups', op: 'matches', value: 'a' },
        'mappings[0].match.op',
        '"in", "containsAny", "containsAll", "exists"',
      ],
      ['a node of no known form', {}, 'mappings[0].match', 'must be a match node'],
      [
        'a misspelt condition field',
        { claim: 'groups', op: 'equals', valeu: 'a' },
        'mappings[0].match.valeu',
        'did you mean "value"?',
      ],
    ])('rejects %s', (_case, match, path, words) => {
      // Prepare
      const document = documentWithMapping({ match });

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toContainEqual({ path, message: expect.stringContaining(words) });
    });

    it('accepts a tree 8 levels deep and rejects one 9 levels deep', () => {
      // Act
      const eight = problemsOf(documentWithMapping({ match: nestedMatch(8) }));
      const nine = problemsOf(documentWithMapping({ match: nestedMatch(9) }));

      // Assess
      expect(eight).toEqual([]);
      expect(nine).toEqual([
        {
          path: `mappings[0].match${'.not'.repeat(8)}`,
          message: expect.stringContaining('the limit is 8 levels'),
        },
      ]);
    });

    it('accepts 64 conditions and rejects 65', () => {
      // Prepare
      const conditions = (count: number) =>
        Array.from({ length: count }, (_, index) => ({
          claim: 'groups',
          op: 'contains',
          value: `g${index}`,
        }));

      // Act
      const at = problemsOf(documentWithMapping({ match: { any: conditions(64) } }));
      const over = problemsOf(documentWithMapping({ match: { any: conditions(65) } }));

      // Assess
      expect(at).toEqual([]);
      expect(over).toEqual([
        { path: 'mappings[0].match', message: 'match tree has 65 conditions; the limit is 64' },
      ]);
    });

    it('refuses absurdly deep documents before parsing them', () => {
      // Prepare
      const document = documentWithMapping({ match: nestedMatch(10_000) });

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([
        {
          path: expect.stringMatching(/^mappings\[0\]\.match/),
          message: expect.stringContaining('the limit is 64'),
        },
      ]);
    });
  });
});

describe('docs/config.schema.json', () => {
  it('is the JSON Schema generated from the zod schema (run scripts/generate-config-schema.ts)', () => {
    // Prepare
    const committed = readFileSync(
      new URL('../../../docs/config.schema.json', import.meta.url),
      'utf8',
    );

    // Act
    const generated = renderConfigJsonSchema();

    // Assess
    expect(committed).toBe(generated);
  });
});
