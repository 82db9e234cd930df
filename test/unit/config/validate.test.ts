import { describe, expect, it } from 'vitest';
import {
  formatConfigPath,
  parseConfigPath,
  requireValidConfig,
  type ValidateOptions,
  validateConfig,
} from '#shared/config/validate.ts';
import type { ConfigProblem } from '#shared/errors.ts';
import {
  CERTIFICATE_VALID_AT,
  type ConfigDocument,
  documentWithMapping,
  type Fields,
  IDP_CERTIFICATE,
  mapping,
  oidcProvider,
  samlProvider,
  validDocument,
  WEAK_IDP_CERTIFICATE,
} from '../../fixtures/config/documents.ts';

const prod: ValidateOptions = { stage: 'prod', now: CERTIFICATE_VALID_AT };

function problemsOf(document: unknown, options: Partial<ValidateOptions> = {}): ConfigProblem[] {
  const result = validateConfig(document, { ...prod, ...options });
  return result.ok ? [] : result.problems;
}

const escapeRegExp = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A problem at `path` whose message contains every one of `words`, in any order. */
const problem = (path: string, ...words: string[]) => ({
  path,
  message: expect.stringMatching(
    new RegExp(words.map((word) => `(?=[\\s\\S]*${escapeRegExp(word)})`).join('')),
  ),
});

/** A session policy with one `{{claims.tenant}}` (max 64) whose worst-case JSON is `length` long. */
function policyRenderingTo(length: number): Fields {
  const policy = (padding: string) => ({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::bucket/{{claims.tenant}}/${padding}`,
      },
    ],
  });
  const worstCase = (padding: string) =>
    JSON.stringify(policy(padding)).replace('{{claims.tenant}}', 'x'.repeat(64)).length;
  return policy('p'.repeat(length - worstCase('')));
}

describe('validateConfig', () => {
  it('accepts the valid document', () => {
    expect(problemsOf(validDocument())).toEqual([]);
  });

  it('collects every problem instead of stopping at the first', () => {
    // Prepare
    const document = validDocument();
    document.providers.push(oidcProvider()); // duplicate id
    document.mappings = [
      mapping({ durationSeconds: 7200 }),
      mapping({ id: 'second', roleArn: 'arn:aws:iam::1:role/x', externalId: 'x' }),
      mapping({ id: 'third', provider: 'nobody', sessionTags: { 'aws:team': 'blue' } }),
    ];

    // Act
    const problems = problemsOf(document);

    // Assess
    expect(problems).toEqual([
      problem('providers[2].id', 'duplicate id "mobile"'),
      problem('mappings[0].durationSeconds', '3,600'),
      problem('mappings[1].roleArn', 'not an IAM role ARN'),
      problem('mappings[1].externalId', '2–1,224'),
      problem('mappings[2].provider', 'unknown provider "nobody"'),
      problem('mappings[2].sessionTags["aws:team"]', '"aws:"'),
    ]);
  });

  describe('ids and references', () => {
    it('rejects duplicate mapping ids', () => {
      // Prepare
      const document = validDocument();
      document.mappings.push(mapping({ priority: 5 }));

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([
        problem('mappings[1].id', 'duplicate id "tenant-data"', 'mappings[0].id'),
      ]);
    });

    it('rejects a mapping whose provider does not exist, suggesting the closest', () => {
      expect(problemsOf(documentWithMapping({ provider: 'mobil' }))).toEqual([
        problem('mappings[0].provider', 'unknown provider "mobil"', 'did you mean "mobile"?'),
      ]);
    });
  });

  describe('ARNs', () => {
    it.each([
      ['a 5-digit account', 'arn:aws:iam::12345:role/x'],
      ['a user instead of a role', 'arn:aws:iam::123456789012:user/x'],
      ['a name with spaces', 'arn:aws:iam::123456789012:role/my role'],
      ['a name over 64 characters', `arn:aws:iam::123456789012:role/${'r'.repeat(65)}`],
    ])('rejects a roleArn with %s', (_case, roleArn) => {
      expect(problemsOf(documentWithMapping({ roleArn }))).toEqual([
        problem('mappings[0].roleArn', 'not an IAM role ARN', '12-digit'),
      ]);
    });

    it.each([
      'arn:aws:iam::123456789012:role/name',
      'arn:aws-cn:iam::123456789012:role/team/app/name',
      'arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h',
    ])('accepts the role ARN %s', (roleArn) => {
      expect(problemsOf(documentWithMapping({ roleArn }))).toEqual([]);
    });

    it('accepts AWS managed and customer managed policy ARNs', () => {
      // Prepare
      const policyArns = [
        'arn:aws:iam::aws:policy/ReadOnlyAccess',
        'arn:aws:iam::aws:policy/job-function/ViewOnlyAccess',
        'arn:aws:iam::123456789012:policy/tvm/tenant-boundary',
      ];

      // Act
      const problems = problemsOf(documentWithMapping({ policyArns }));

      // Assess
      expect(problems).toEqual([]);
    });

    it('rejects more than 10 policyArns, duplicates and malformed ones', () => {
      // Prepare
      const policyArns = [
        ...Array.from({ length: 9 }, (_, index) => `arn:aws:iam::123456789012:policy/p${index}`),
        'arn:aws:iam::123456789012:policy/p0',
        'arn:aws:iam::123456789012:role/not-a-policy',
      ];

      // Act
      const problems = problemsOf(documentWithMapping({ policyArns }));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].policyArns', '11 managed policies', 'at most 10'),
        problem('mappings[0].policyArns[9]', 'duplicates'),
        problem('mappings[0].policyArns[10]', 'not an IAM policy ARN'),
      ]);
    });
  });

  describe('session tags', () => {
    it('accepts 50 tags and rejects 51', () => {
      // Prepare
      const tags = (count: number) =>
        Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 'v']));

      // Act
      const fifty = problemsOf(documentWithMapping({ sessionTags: tags(50) }));
      const fiftyOne = problemsOf(documentWithMapping({ sessionTags: tags(51) }));

      // Assess
      expect(fifty).toEqual([]);
      expect(fiftyOne).toEqual([
        problem('mappings[0].sessionTags', '51 session tags', 'at most 50'),
      ]);
    });

    it('rejects a key over 128 characters and a static value over 256', () => {
      // Prepare
      const sessionTags = { ['k'.repeat(129)]: 'v', ok: 'v'.repeat(257), max: 'v'.repeat(256) };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionTags }));

      // Assess
      expect(problems).toEqual([
        problem(`mappings[0].sessionTags.${'k'.repeat(129)}`, '129 characters', '1–128'),
        problem('mappings[0].sessionTags.ok', '257 characters', '256'),
      ]);
    });

    it('bounds a templated value with every variable at its maximum length', () => {
      // Prepare: claims.tenant is at most 64, claims.email defaults to 128: 64 + 128 + 64 = 256.
      const atLimit = { owner: `{{claims.tenant}}${'/'.repeat(64)}{{claims.email}}` };
      const overLimit = { owner: `{{claims.tenant}}${'/'.repeat(65)}{{claims.email}}` };

      // Act
      const at = problemsOf(documentWithMapping({ sessionTags: atLimit }));
      const over = problemsOf(documentWithMapping({ sessionTags: overLimit }));

      // Assess
      expect(at).toEqual([]);
      expect(over).toEqual([
        problem(
          'mappings[0].sessionTags.owner',
          '257 characters when rendered with the longest allowed claim values',
          'claims.tenant: 64',
          'claims.email: 128',
          'limit is 256',
        ),
      ]);
    });

    it('accepts Unicode letters, digits, spaces and the STS symbols', () => {
      // Prepare
      const sessionTags = { 'Kostenstelle Zürich': 'Équipe 東京 ١٢٣ _.:/=+-@' };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionTags }));

      // Assess
      expect(problems).toEqual([]);
    });

    it.each([
      ['a key', { 'team#1': 'blue' }, 'mappings[0].sessionTags.team#1'],
      ['a static value', { team: 'blue!' }, 'mappings[0].sessionTags.team'],
      [
        'the static text of a templated value',
        { team: 'blue#/{{claims.tenant}}' },
        'mappings[0].sessionTags.team',
      ],
    ])('rejects characters outside the STS tag pattern in %s', (_case, sessionTags, path) => {
      // Act
      const problems = problemsOf(documentWithMapping({ sessionTags }));

      // Assess
      expect(problems).toHaveLength(1);
      expect(problems[0]?.path).toBe(path.replace('.team#1', '["team#1"]'));
      expect(problems[0]?.message).toMatch(/contains "[#!*]"/);
    });

    it('rejects keys that differ only in case', () => {
      expect(problemsOf(documentWithMapping({ sessionTags: { Team: 'a', team: 'b' } }))).toEqual([
        problem('mappings[0].sessionTags.team', '"team" duplicates "Team"', 'case-insensitive'),
      ]);
    });

    it.each(['aws:team', 'AWS:team', 'Aws:Team'])('rejects the reserved prefix in %s', (key) => {
      expect(problemsOf(documentWithMapping({ sessionTags: { [key]: 'a' } }))).toEqual([
        problem(`mappings[0].sessionTags["${key}"]`, 'starts with "aws:"', 'reserves'),
      ]);
    });

    it('rejects transitive tag keys that are not session tag keys', () => {
      // Prepare
      const fields = { sessionTags: { tenant: 'a' }, transitiveTagKeys: ['tenant', 'Team'] };

      // Act
      const problems = problemsOf(documentWithMapping(fields));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].transitiveTagKeys[1]', '"Team" is not a sessionTags key', '"tenant"'),
      ]);
    });
  });

  describe('session policy', () => {
    it('accepts a policy of exactly 2,048 characters rendered with maximum-length claims', () => {
      expect(problemsOf(documentWithMapping({ sessionPolicy: policyRenderingTo(2048) }))).toEqual(
        [],
      );
    });

    it('rejects a policy of 2,049 characters rendered with maximum-length claims', () => {
      expect(problemsOf(documentWithMapping({ sessionPolicy: policyRenderingTo(2049) }))).toEqual([
        problem(
          'mappings[0].sessionPolicy',
          '2,049 characters when rendered with the longest allowed claim values',
          'claims.tenant: 64',
          'STS limit is 2,048',
        ),
      ]);
    });

    it('counts a lower declared maxLength, which lets the same policy fit', () => {
      // Prepare
      const provider = oidcProvider({
        claims: { tenant: { type: 'string', maxLength: 63 }, groups: { type: 'list' } },
      });

      // Act
      const problems = problemsOf(
        documentWithMapping({ sessionPolicy: policyRenderingTo(2049) }, provider),
      );

      // Assess
      expect(problems).toEqual([]);
    });

    it('rejects a static policy over 2,048 characters', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: `arn:aws:s3:::${'b'.repeat(2100)}`,
        },
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].sessionPolicy', 'as minified JSON', 'STS limit is 2,048'),
      ]);
    });

    it('requires the IAM policy grammar: Version, Effect and one of Action/NotAction and Resource/NotResource', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-18',
        Statement: [
          { Effect: 'Allow', Action: 's3:GetObject' },
          { Effect: 'Permit', Action: '*', Resource: '*' },
        ],
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].sessionPolicy.Version', '"2012-10-17"'),
        problem('mappings[0].sessionPolicy.Statement[1].Effect', '"Allow", "Deny"'),
      ]);
    });

    it('requires exactly one of Resource and NotResource', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }],
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionPolicy.Statement[0]',
          'exactly one of Resource and NotResource',
        ),
      ]);
    });

    it('rejects Principal, which identity and session policies cannot have', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' },
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].sessionPolicy.Statement.Principal', 'unknown field'),
      ]);
    });

    it('rejects templates in Action: a claim must never choose the allowed API calls', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:{{claims.tenant}}'], Resource: '*' },
        ],
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].sessionPolicy.Statement[0].Action[1]', 'not allowed in Action'),
      ]);
    });

    it('accepts templates in Resource and Condition values, and rejects them in Condition keys', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::bucket',
          Condition: {
            StringLike: { 's3:prefix': ['{{claims.tenant}}/*'] },
            StringEquals: { 'aws:PrincipalTag/{{claims.tenant}}': 'x' },
          },
        },
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionPolicy.Statement.Condition.StringEquals["aws:PrincipalTag/{{claims.tenant}}"]',
          'not allowed in keys',
        ),
      ]);
    });
  });

  describe('duration', () => {
    it.each([900, 3600])('accepts %i seconds', (durationSeconds) => {
      expect(problemsOf(documentWithMapping({ durationSeconds }))).toEqual([]);
    });

    it.each([
      [899, 'at least 900'],
      [3601, 'role chaining'],
      [43_200, '3,600'],
    ])('rejects %i seconds', (durationSeconds, words) => {
      expect(problemsOf(documentWithMapping({ durationSeconds }))).toEqual([
        problem('mappings[0].durationSeconds', words),
      ]);
    });
  });

  describe('session names and external id', () => {
    it.each([
      ['sourceIdentity', 'too short', 'a', '1 character', '2–64'],
      ['roleSessionName', 'too long', 'n'.repeat(65), '65 characters', '2–64'],
      ['roleSessionName', 'spaced', 'john doe', 'contains " "'],
      ['sourceIdentity', 'with a colon', 'user:1', 'contains ":"'],
    ])('rejects a static %s that is %s', (field, _case, value, ...words) => {
      expect(problemsOf(documentWithMapping({ [field]: value }))).toEqual([
        problem(`mappings[0].${field}`, ...words),
      ]);
    });

    it('accepts templated names whose rendered length may exceed 64 (shortened at runtime)', () => {
      // Prepare: claims.email may be 128 characters long.
      const fields = {
        roleSessionName: 'app-{{claims.email}}',
        sourceIdentity: '{{claims.sub}}@{{provider.id}}',
      };

      // Act
      const problems = problemsOf(documentWithMapping(fields));

      // Assess
      expect(problems).toEqual([]);
    });

    it('checks the static text of a templated session name', () => {
      expect(problemsOf(documentWithMapping({ roleSessionName: 'app/{{claims.sub}}' }))).toEqual([
        problem('mappings[0].roleSessionName', 'static text contains "/"', 'roleSessionName'),
      ]);
    });

    it.each([
      ['too short', 'x', '1 character', '2–1,224'],
      ['too long', 'e'.repeat(1225), '1,225 characters'],
      ['spaced', 'has space', 'contains " "'],
    ])('rejects an externalId that is %s', (_case, externalId, ...words) => {
      expect(problemsOf(documentWithMapping({ externalId }))).toEqual([
        problem('mappings[0].externalId', ...words),
      ]);
    });
  });

  describe('template placement', () => {
    it.each([
      [
        'roleArn',
        { roleArn: 'arn:aws:iam::123456789012:role/{{claims.tenant}}' },
        'mappings[0].roleArn',
      ],
      [
        'policyArns',
        { policyArns: ['arn:aws:iam::aws:policy/{{claims.tenant}}'] },
        'mappings[0].policyArns[0]',
      ],
      [
        'a tag key',
        { sessionTags: { '{{claims.tenant}}': 'x' } },
        'mappings[0].sessionTags["{{claims.tenant}}"]',
      ],
      ['externalId', { externalId: '{{claims.sub}}' }, 'mappings[0].externalId'],
      [
        'a match value',
        { match: { claim: 'groups', op: 'equals', value: '{{claims.sub}}' } },
        'mappings[0].match.value',
      ],
      [
        'an in list',
        { match: { claim: 'groups', op: 'in', value: ['a', '{{claims.sub}}'] } },
        'mappings[0].match.value[1]',
      ],
      [
        'transitiveTagKeys',
        { sessionTags: { t: 'a' }, transitiveTagKeys: ['{{claims.sub}}'] },
        'mappings[0].transitiveTagKeys[0]',
      ],
    ])('rejects a template in %s', (_case, fields, path) => {
      // Act
      const problems = problemsOf(documentWithMapping(fields));

      // Assess
      expect(problems).toContainEqual(
        problem(
          path,
          'only allowed in sessionTags values, roleSessionName, sourceIdentity and sessionPolicy',
        ),
      );
    });

    it('rejects a template in a provider field', () => {
      // Prepare
      const document = validDocument();
      document.providers[0] = oidcProvider({ audiences: ['{{claims.aud}}'] });

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([
        problem('providers[0].audiences[0]', 'templates are not allowed here'),
      ]);
    });

    it('ignores braces in a description, which is never rendered', () => {
      expect(
        problemsOf(
          documentWithMapping({ description: 'tags each session with {{claims.tenant}}' }),
        ),
      ).toEqual([]);
    });

    it('rejects an unbalanced template where templates are allowed', () => {
      expect(
        problemsOf(documentWithMapping({ sessionTags: { tenant: '{{claims.tenant}' } })),
      ).toEqual([problem('mappings[0].sessionTags.tenant', 'invalid template', 'never closed')]);
    });
  });

  describe('template variables', () => {
    it('rejects an unknown OIDC claim, suggests the closest and lists what the provider offers', () => {
      // Act
      const problems = problemsOf(
        documentWithMapping({ sessionTags: { tenant: '{{claims.tenat}}' } }),
      );

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionTags.tenant',
          'unknown template variable "claims.tenat"',
          'did you mean "claims.tenant"?',
          'provider "mobile" offers: provider.id, mapping.id, claims.sub, claims.tenant, claims.email',
          'declare it under providers[].claims as { type: string }',
        ),
      ]);
    });

    it('refuses an undeclared claim, even a standard OIDC one, and a list claim in a template', () => {
      // Prepare
      const fields = {
        sessionTags: { who: '{{claims.preferred_username}}', g: '{{claims.groups}}' },
      };

      // Act
      const problems = problemsOf(documentWithMapping(fields));

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionTags.who',
          'unknown template variable "claims.preferred_username"',
          'declare it under providers[].claims as { type: string }',
        ),
        problem(
          'mappings[0].sessionTags.g',
          'reads claim "groups", which is declared as a list; only string claims can be rendered',
        ),
      ]);
    });

    it('offers a SAML provider its NameID and attributeMap claims only', () => {
      // Prepare
      const fields = {
        provider: 'corp',
        sessionTags: {
          id: '{{claims.nameId}}',
          mail: '{{claims.email}}',
          g: '{{claims.given_name}}',
        },
      };

      // Act
      const problems = problemsOf(documentWithMapping(fields));

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionTags.g',
          'unknown template variable "claims.given_name"',
          'offers: provider.id, mapping.id, claims.sub, claims.nameId, claims.email',
          'attributeMap',
        ),
      ]);
    });

    it('checks variables inside session policy values', () => {
      // Prepare
      const sessionPolicy = {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::b/{{claims.tenant_id}}/*',
        },
      };

      // Act
      const problems = problemsOf(documentWithMapping({ sessionPolicy }));

      // Assess
      expect(problems).toEqual([
        problem(
          'mappings[0].sessionPolicy.Statement.Resource',
          'unknown template variable "claims.tenant_id"',
        ),
      ]);
    });
  });

  describe('URLs', () => {
    it.each([
      ['http://localhost:9400'],
      ['http://127.0.0.1:9400/realms/dev'],
      ['http://127.8.9.10'],
      ['http://[::1]:9400'],
    ])('accepts the loopback http issuer %s in the local stage', (issuer) => {
      // Prepare
      const document = validDocument();
      document.providers[0] = oidcProvider({ issuer });

      // Act
      const problems = problemsOf(document, { stage: 'local' });

      // Assess
      expect(problems).toEqual([]);
    });

    it('rejects a loopback http URL outside the local stage, saying so', () => {
      // Prepare
      const document = validDocument();
      document.providers[0] = oidcProvider({ issuer: 'http://127.0.0.1:9400' });

      // Act
      const problems = problemsOf(document, { stage: 'dev' });

      // Assess
      expect(problems).toEqual([
        problem('providers[0].issuer', 'only in the "local" stage', 'stage "dev"', 'https'),
      ]);
    });

    it('rejects http on a non-loopback host even in the local stage', () => {
      // Prepare
      const document = validDocument();
      document.providers[1] = samlProvider({ ssoUrl: 'http://idp.example.com/sso' });

      // Act
      const problems = problemsOf(document, { stage: 'local' });

      // Assess
      expect(problems).toEqual([problem('providers[1].ssoUrl', 'must use https', 'loopback')]);
    });

    it.each([
      ['jwksUri', { jwksUri: 'ftp://issuer.example.com/jwks' }, 'https:// URL'],
      ['jwksUri', { jwksUri: 'not a url' }, 'not an absolute URL'],
      ['issuer', { issuer: 'https://issuer.example.com/?tenant=1' }, 'query or fragment'],
      ['issuer', { issuer: 'https://user:secret@issuer.example.com' }, 'user name or password'],
    ])('rejects the %s in %j', (field, fields, words) => {
      // Prepare
      const document = validDocument();
      document.providers[0] = oidcProvider(fields);

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([problem(`providers[0].${field}`, words)]);
    });

    it('holds an http SP entity id to the https rule but accepts an IdP http entity id (a name)', () => {
      // Prepare
      const document = validDocument();
      document.providers[1] = samlProvider({
        entityId: 'http://www.okta.com/exk1a2b3c4d5e6f7g8h9',
        spEntityId: 'http://tvm.example.com/saml/corp',
      });

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([problem('providers[1].spEntityId', 'must use https')]);
    });
  });

  describe('SAML providers', () => {
    const metadata = (entityId: string, certificate = IDP_CERTIFICATE) => {
      const body = certificate.replace(/-----[A-Z ]+-----/g, '').trim();
      return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}"><md:IDPSSODescriptor><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>`;
    };

    function withSaml(fields: Fields): ConfigDocument {
      const document = validDocument();
      const provider = samlProvider(fields);
      for (const key of Object.keys(fields)) if (fields[key] === undefined) delete provider[key];
      document.providers[1] = provider;
      return document;
    }

    it('accepts metadata XML instead of pinned certificates', () => {
      expect(
        problemsOf(
          withSaml({
            certificates: undefined,
            metadataXml: metadata('https://idp.example.com/metadata'),
          }),
        ),
      ).toEqual([]);
    });

    it.each([
      [
        'both',
        { metadataXml: metadata('https://idp.example.com/metadata') },
        'both certificates and metadataXml',
      ],
      ['neither', { certificates: undefined }, 'exactly one of certificates (PEM) and metadataXml'],
    ])('rejects %s of certificates and metadataXml', (_case, fields, words) => {
      expect(problemsOf(withSaml(fields))).toEqual([problem('providers[1]', words)]);
    });

    it('rejects metadata that describes another entity', () => {
      expect(
        problemsOf(
          withSaml({ certificates: undefined, metadataXml: metadata('https://other.example.com') }),
        ),
      ).toEqual([
        problem('providers[1].metadataXml', 'describes entity "https://other.example.com"'),
      ]);
    });

    it('rejects metadata whose only key is for encryption (nothing could verify a response)', () => {
      const encryptionOnly = metadata('https://idp.example.com/metadata').replace(
        'use="signing"',
        'use="encryption"',
      );
      expect(
        problemsOf(withSaml({ certificates: undefined, metadataXml: encryptionOnly })),
      ).toEqual([
        problem('providers[1].metadataXml', 'has no X509Certificate in a signing KeyDescriptor'),
      ]);
    });

    it('rejects metadata that is not well-formed XML', () => {
      expect(
        problemsOf(withSaml({ certificates: undefined, metadataXml: '<md:EntityDescriptor' })),
      ).toEqual([problem('providers[1].metadataXml', 'is not well-formed XML')]);
    });

    it('rejects a certificate that is not PEM or does not parse', () => {
      // Prepare
      const broken = IDP_CERTIFICATE.replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n');

      // Act
      const problems = problemsOf(withSaml({ certificates: ['MIIDSzCCAjOgAwIBAgIU', broken] }));

      // Assess
      expect(problems).toEqual([
        problem('providers[1].certificates[0]', 'not a PEM certificate'),
        problem('providers[1].certificates[1]', 'does not parse as an X.509 certificate'),
      ]);
    });

    it('reports an expired certificate with its notAfter date', () => {
      // Act
      const problems = problemsOf(validDocument(), { now: new Date('2047-01-01T00:00:00Z') });

      // Assess
      expect(problems).toEqual([
        problem('providers[1].certificates[0]', 'expired on 2046-11-28T', 'notAfter'),
      ]);
    });

    it('rejects an RSA key under 2,048 bits', () => {
      expect(problemsOf(withSaml({ certificates: [WEAK_IDP_CERTIFICATE] }))).toEqual([
        problem('providers[1].certificates[0]', '1024-bit RSA key', '2,048'),
      ]);
    });

    it('rejects attributes mapped onto the NameID claim or onto the same claim twice', () => {
      // Prepare
      const attributeMap = {
        uid: 'sub',
        mail: 'email',
        'urn:oid:0.9.2342.19200300.100.1.3': 'email',
      };

      // Act
      const problems = problemsOf(
        withSaml({ attributeMap, claims: { email: { type: 'string' } } }),
      );

      // Assess
      expect(problems).toEqual([
        problem('providers[1].attributeMap.uid', 'reserved', 'NameID'),
        problem(
          'providers[1].attributeMap["urn:oid:0.9.2342.19200300.100.1.3"]',
          'both map to claim "email"',
        ),
      ]);
    });

    it('rejects a declared claim that no attribute produces', () => {
      expect(
        problemsOf(withSaml({ claims: { department: { type: 'string', maxLength: 32 } } })),
      ).toEqual([problem('providers[1].claims.department', 'no attributeMap entry produces it')]);
    });

    it('rejects session tags and names on mappings of a native-mode provider (AssumeRoleWithSAML)', () => {
      // Prepare
      const document = validDocument();
      document.providers[1] = samlProvider({ mode: 'native' });
      document.mappings = [
        mapping({ provider: 'corp', sessionTags: { team: 'a' }, roleSessionName: 'fixed-name' }),
      ];

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].sessionTags', 'AssumeRoleWithSAML'),
        problem('mappings[0].roleSessionName', 'AssumeRoleWithSAML'),
      ]);
    });
  });

  describe('partially valid documents', () => {
    it('still checks the valid mappings when another mapping has a shape error', () => {
      // Prepare
      const document = validDocument();
      document.mappings = [
        mapping({ priority: 'high' }),
        mapping({ id: 'other', roleArn: 'role/x' }),
      ];

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([
        problem('mappings[0].priority', 'must be a number'),
        problem('mappings[1].roleArn', 'not an IAM role ARN'),
      ]);
    });

    it('does not report a reference to a provider that exists but has a shape error', () => {
      // Prepare
      const document = validDocument();
      document.providers[0] = oidcProvider({ audiences: [] });

      // Act
      const problems = problemsOf(document);

      // Assess
      expect(problems).toEqual([problem('providers[0].audiences', 'must not be empty')]);
    });
  });
});

describe('requireValidConfig', () => {
  it('returns the normalized config when it is valid', () => {
    expect(requireValidConfig(validDocument(), prod).mappings[0]?.durationSeconds).toBe(3600);
  });

  it('throws ERR_CONFIG_INVALID carrying every problem when it is not', () => {
    // Prepare
    const document = validDocument();
    document.mappings = [
      mapping({ durationSeconds: 7200 }),
      mapping({ id: 'b', roleArn: 'role/x' }),
    ];

    // Act
    const act = () => requireValidConfig(document, prod);

    // Assess
    expect(act).toThrowError(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        problems: [
          problem('mappings[0].durationSeconds', '3,600'),
          problem('mappings[1].roleArn', 'not an IAM role ARN'),
        ],
      }),
    );
  });
});

describe('config paths', () => {
  it.each([
    [['mappings', 2, 'sessionTags', 'team'], 'mappings[2].sessionTags.team'],
    [
      ['providers', 0, 'attributeMap', 'http://schemas.xmlsoap.org/claims/Group'],
      'providers[0].attributeMap["http://schemas.xmlsoap.org/claims/Group"]',
    ],
    [['mappings', 0, 'sessionTags', 'a"b'], 'mappings[0].sessionTags["a\\"b"]'],
    [[], ''],
  ])('formats %j as %s and parses it back', (segments, text) => {
    expect(formatConfigPath(segments)).toBe(text);
    expect(parseConfigPath(text)).toEqual(segments);
  });
});
