/**
 * Config validation of the rules that keep decisions from failing open: typed claims (every claim a rule reads is declared, and
 * every operator fits its type), policy templates that cannot widen, and the native-mode warning.
 */
import { describe, expect, it } from 'vitest';
import {
  configWarnings,
  requireValidConfig,
  type ValidateOptions,
  validateConfig,
} from '#shared/config/validate.ts';
import type { ConfigProblem } from '#shared/errors.ts';
import {
  CERTIFICATE_VALID_AT,
  documentWithMapping,
  type Fields,
  mapping,
  samlProvider,
  validDocument,
} from '../../fixtures/config/documents.ts';

/** `$` + `{aws:username}`, built so no linter mistakes it for a JS template. */
const IAM_USERNAME_VARIABLE = ['$', '{aws:username}'].join('');

const prod: ValidateOptions = { stage: 'prod', now: CERTIFICATE_VALID_AT };

function problemsOf(document: unknown): ConfigProblem[] {
  const result = validateConfig(document, prod);
  return result.ok ? [] : result.problems;
}

const withMatch = (match: Fields) => problemsOf(documentWithMapping({ match }));

describe('typed claims in match conditions', () => {
  it.each<[string, Fields, string, string]>([
    [
      'contains on a string claim (the substring finding)',
      { claim: 'email', op: 'contains', value: 'example' },
      'mappings[0].match.op',
      '"contains" tests list membership, but claim "email" is declared as a string; use "equals" for equality, "includesSubstring" for a substring test, or declare the claim as { type: list }',
    ],
    [
      'containsAny on a string claim',
      { claim: 'tenant', op: 'containsAny', value: ['a'] },
      'mappings[0].match.op',
      '"containsAny" compares a list claim, but claim "tenant" is declared as a string; use "in" to test against several values, or declare the claim as { type: list }',
    ],
    [
      'equals on a list claim',
      { claim: 'groups', op: 'equals', value: 'admins' },
      'mappings[0].match.op',
      '"equals" compares one string, but claim "groups" is declared as a list; use "contains" (element equality), "containsAny" or "containsAll", or declare the claim as { type: string }',
    ],
    [
      'in on a list claim',
      { claim: 'groups', op: 'in', value: ['a', 'b'] },
      'mappings[0].match.op',
      '"in" compares one string, but claim "groups" is declared as a list; use "containsAny", or declare the claim as { type: string }',
    ],
    [
      'glob on a list claim',
      { claim: 'groups', op: 'glob', value: 'aws-*' },
      'mappings[0].match.op',
      '"glob" compares one string, but claim "groups" is declared as a list; use "contains" (element equality), "containsAny" or "containsAll", or declare the claim as { type: string }',
    ],
    [
      'an undeclared claim',
      { claim: 'department', op: 'exists' },
      'mappings[0].match.claim',
      'claim "department" is not declared by provider "mobile"; declare it under providers[].claims with its type (string or list) (declared: "tenant", "groups", "email")',
    ],
    [
      'a startsWith that matches everything',
      { claim: 'email', op: 'startsWith', value: '' },
      'mappings[0].match.value',
      '"startsWith" with an empty value matches every value; use "exists"',
    ],
  ])('refuses %s, naming the fix', (_name, condition, path, message) => {
    // Act
    const problems = withMatch({ all: [{ claim: 'sub', op: 'exists' }, { not: condition }] });

    // Assess
    const nested = path.replace('mappings[0].match', 'mappings[0].match.all[1].not');
    expect(problems).toEqual([{ path: nested, message }]);
  });

  it('accepts every operator on the type it is made for, and sub without a declaration', () => {
    // Prepare
    const match = {
      all: [
        { claim: 'sub', op: 'startsWith', value: 'user-' },
        { claim: 'email', op: 'includesSubstring', value: '@' },
        { claim: 'email', op: 'glob', value: '*@example.com' },
        { claim: 'tenant', op: 'in', value: ['acme', 'beta'] },
        { claim: 'tenant', op: 'notEquals', value: 'gamma' },
        { claim: 'groups', op: 'contains', value: 'admins' },
        { claim: 'groups', op: 'containsAny', value: ['a', 'b'] },
        { claim: 'groups', op: 'containsAll', value: ['a', 'b'] },
        { claim: 'groups', op: 'exists', value: false },
      ],
    };

    // Act / Assess
    expect(withMatch(match)).toEqual([]);
  });

  it('requires a type on every declared claim', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = { ...document.providers[0], claims: { groups: { maxLength: 10 } } };

    // Act / Assess
    expect(problemsOf(document)).toContainEqual({
      path: 'providers[0].claims.groups.type',
      message: expect.stringContaining(
        'is required: declare the claim as { type: string } or { type: list }',
      ),
    });
  });

  it('refuses declaring the subject as a list', () => {
    // Prepare
    const document = validDocument();
    document.providers[0] = {
      ...document.providers[0],
      claims: { sub: { type: 'list' }, groups: { type: 'list' } },
    };

    // Act / Assess
    expect(problemsOf(document)).toEqual([
      {
        path: 'providers[0].claims.sub.type',
        message: 'must be "string": "sub" is the subject, always one string',
      },
    ]);
  });

  it('types the claims of a SAML provider from its declarations (attributeMap names the attribute)', () => {
    // Prepare
    const document = validDocument();
    document.mappings = [
      mapping({ provider: 'corp', match: { claim: 'groups', op: 'equals', value: 'aws-admins' } }),
    ];

    // Act / Assess
    expect(problemsOf(document)).toEqual([
      {
        path: 'mappings[0].match.op',
        message: expect.stringContaining('claim "groups" is declared as a list; use "contains"'),
      },
    ]);
  });
});

describe('policy and tag templates that cannot widen', () => {
  const policyWith = (resource: string) => ({
    sessionPolicy: {
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: resource },
    },
  });
  const at = 'mappings[0].sessionPolicy.Statement.Resource';

  it.each([
    ['arn:aws:s3:::data/{{claims.tenant}}/*'],
    ['arn:aws:dynamodb:eu-west-1:123456789012:table/t-{{claims.tenant}}'],
    ['arn:aws:s3:::data/{{claims.tenant}}'],
    ['arn:aws:s3:::data/{{provider.id}}-{{mapping.id}}*'],
    ['arn:aws:s3:::data/{{claims.tenant}}/{{claims.sub}}/*'],
  ])('accepts %s', (resource) => {
    expect(problemsOf(documentWithMapping(policyWith(resource)))).toEqual([]);
  });

  it.each<[string, string]>([
    ['arn:aws:s3:::data/{{claims.tenant}}*', 'is followed by "*"'],
    ['arn:aws:s3:::data/{{claims.tenant}}-*', 'is followed by "-"'],
    ['arn:aws:s3:::data/{{claims.tenant}}?x', 'is followed by "?"'],
    ['arn:aws:s3:::data/{{claims.tenant}}.json', 'is followed by "."'],
    [`arn:aws:s3:::data/{{claims.tenant}}${IAM_USERNAME_VARIABLE}`, 'is followed by "$"'],
    ['arn:aws:s3:::data/{{claims.tenant}}{{claims.sub}}/', 'is followed by another claim template'],
    ['arn:aws:s3:::data/*{{claims.tenant}}/', 'comes after "*"'],
    ['arn:aws:s3:::data/*-{{claims.tenant}}/', 'comes after "*"'],
  ])('refuses %s', (resource, words) => {
    // Act
    const problems = problemsOf(documentWithMapping(policyWith(resource)));

    // Assess
    expect(problems).toEqual([{ path: at, message: expect.stringContaining(words) }]);
  });

  it('holds in Condition values and tag values too', () => {
    // Prepare
    const fields = {
      sessionTags: { tenant: '{{claims.tenant}}', team: '{{claims.tenant}}-team' },
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::data',
          Condition: { StringLike: { 's3:prefix': ['{{claims.tenant}}*'] } },
        },
      },
    };

    // Act
    const problems = problemsOf(documentWithMapping(fields));

    // Assess
    expect(problems).toEqual([
      {
        path: 'mappings[0].sessionTags.team',
        message: expect.stringContaining('{{claims.tenant}} is followed by "-"'),
      },
      {
        path: 'mappings[0].sessionPolicy.Statement.Condition.StringLike["s3:prefix"][0]',
        message: expect.stringContaining('{{claims.tenant}} is followed by "*"'),
      },
    ]);
  });
});

describe('native-mode warning', () => {
  it('warns about a native provider, and about nothing else', () => {
    // Prepare
    const native = validDocument();
    native.providers[1] = samlProvider({ mode: 'native' });
    const chained = validDocument();

    // Act
    const warnings = configWarnings(requireValidConfig(native, prod));
    const none = configWarnings(requireValidConfig(chained, prod));

    // Assess
    expect(none).toEqual([]);
    expect(warnings).toEqual([
      {
        path: 'providers[1].mode',
        message: expect.stringContaining(
          'can call AssumeRoleWithSAML without the TVM, so the deny list, rate limits and session policies do not bind them',
        ),
      },
    ]);
  });
});
