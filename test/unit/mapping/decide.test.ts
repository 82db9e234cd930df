import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors.ts';
import { decide, matchMappings } from '#shared/mapping/decide.ts';
import {
  forbidden,
  identityOf,
  mappingOf,
  oidcProvider,
  samlProvider,
  validConfig,
} from './support.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const user = identityOf({ sub: 'user-1', groups: ['users', 'admins'] });
/** The issuer of the `mobile` fixture provider: principals are issuer + subject. */
const ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC';

describe('decide: the AssumeRole parameters', () => {
  it('renders a mapping that uses every feature into exactly the AssumeRole input', () => {
    // Prepare
    const config = validConfig(
      [
        mappingOf('everything', 10, {
          match: {
            all: [
              { claim: 'custom:tenant', op: 'exists' },
              { claim: 'groups', op: 'contains', value: 'users' },
            ],
          },
          roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-data',
          sessionTags: {
            tenant: '{{claims.custom:tenant}}',
            idp: '{{provider.id}}',
            via: 'tvm/{{mapping.id}}',
          },
          transitiveTagKeys: ['tenant'],
          sessionPolicy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['s3:GetObject'],
                Resource: 'arn:aws:s3:::data/{{claims.custom:tenant}}/*',
                Condition: { StringEquals: { 's3:ExistingObjectTag/owner': '{{claims.sub}}' } },
              },
            ],
          },
          policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
          sourceIdentity: '{{claims.email}}',
          roleSessionName: 'app-{{claims.sub}}',
          durationSeconds: 1800,
          externalId: 'tvm-external-1',
        }),
      ],
      [
        oidcProvider({
          claims: {
            'custom:tenant': { type: 'string', maxLength: 36 },
            groups: { type: 'list' },
            email: { type: 'string' },
          },
        }),
      ],
    );
    const identity = identityOf({
      sub: 'user-1',
      email: 'alice@example.com',
      groups: ['users'],
      'custom:tenant': 'acme',
    });

    // Act
    const decision = decide(identity, config, { durationSeconds: 3600 });

    // Assess
    const policy =
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],' +
      '"Resource":"arn:aws:s3:::data/acme/*",' +
      '"Condition":{"StringEquals":{"s3:ExistingObjectTag/owner":"user-1"}}}]}';
    const sessionHash = sha256(JSON.stringify([ISSUER, 'user-1', 'app-user-1'])).slice(0, 16);
    expect(decision).toEqual({
      mapping: config.mappings[0],
      roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-data',
      roleSessionName: `app-user-1-${sessionHash}`,
      sourceIdentity: 'alice@example.com',
      tags: [
        { Key: 'tenant', Value: 'acme' },
        { Key: 'idp', Value: 'mobile' },
        { Key: 'via', Value: 'tvm/everything' },
      ],
      transitiveTagKeys: ['tenant'],
      policy,
      policySha256: sha256(policy),
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      durationSeconds: 1800,
      externalId: 'tvm-external-1',
      matched: ['everything'],
    });
  });

  it('defaults: SourceIdentity and the session name come from sub; no policy, no tags', () => {
    // Prepare
    const config = validConfig([mappingOf('plain', 1)]);

    // Act
    const decision = decide(user, config, {});

    // Assess
    expect(decision).toMatchObject({
      // `<sub>@<8 hex of sha256(issuer)>`: tells issuers apart, stays readable.
      sourceIdentity: `user-1@${sha256(ISSUER).slice(0, 8)}`,
      roleSessionName: `user-1-${sha256(JSON.stringify([ISSUER, 'user-1', 'user-1'])).slice(0, 16)}`,
      tags: [],
      transitiveTagKeys: [],
      policy: undefined,
      policySha256: undefined,
      policyArns: [],
      durationSeconds: 3600,
      externalId: undefined,
    });
  });

  it.each([
    [undefined, 1800],
    [900, 900],
    [1799, 1799],
    [1800, 1800],
    [3600, 1800],
    [43_200, 1800],
  ])('duration: request %s with a 1,800 s mapping gives %s', (requested, expected) => {
    // Prepare
    const config = validConfig([mappingOf('m', 1, { durationSeconds: 1800 })]);
    const request = requested === undefined ? {} : { durationSeconds: requested };

    // Act
    const decision = decide(user, config, request);

    // Assess
    expect(decision.durationSeconds).toBe(expected);
  });

  it.each([0, -1, 899, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses a requested duration of %s with 400, before anything else',
    (durationSeconds) => {
      // Prepare
      const config = validConfig([mappingOf('m', 1)]);

      // Act / Assess
      expect(() => decide(user, config, { durationSeconds })).toThrow(ValidationError);
    },
  );
});

describe('decide: which mapping', () => {
  it('takes the highest priority, and lists every match highest first', () => {
    // Prepare
    const config = validConfig([
      mappingOf('low', 10),
      mappingOf('high', 300),
      mappingOf('middle', 200, { match: { claim: 'groups', op: 'contains', value: 'admins' } }),
      mappingOf('unmatched', 999, { match: { claim: 'groups', op: 'contains', value: 'root' } }),
    ]);

    // Act
    const decision = decide(user, config, {});

    // Assess
    expect(decision.mapping.id).toBe('high');
    expect(decision.matched).toEqual(['high', 'middle', 'low']);
  });

  it('refuses with no_matching_mapping when nothing matches', () => {
    // Prepare
    const config = validConfig([mappingOf('m', 1)]);
    const stranger = identityOf({ sub: 'user-2', groups: ['guests'] });

    // Act
    const error = forbidden(() => decide(stranger, config, {}));

    // Assess
    expect(error.reason).toBe('no_matching_mapping');
  });

  it('only considers mappings of the identity’s own provider', () => {
    // Prepare: a SAML mapping with a higher priority matches the same claims.
    const config = validConfig(
      [mappingOf('app', 1), mappingOf('corp-admin', 999, { provider: 'corp' })],
      [oidcProvider(), samlProvider()],
    );

    // Act
    const decision = decide(user, config, {});

    // Assess
    expect(decision.mapping.id).toBe('app');
    expect(decision.matched).toEqual(['app']);
  });

  it('refuses an identity whose provider is not in the config', () => {
    // Prepare
    const config = validConfig([mappingOf('m', 1)]);
    const ghost = { ...user, provider: 'removed' };

    // Act / Assess
    expect(forbidden(() => decide(ghost, config, {})).reason).toBe('no_matching_mapping');
  });

  describe('a requested mapping id', () => {
    const config = validConfig(
      [
        mappingOf('high', 300),
        mappingOf('low', 10),
        mappingOf('unmatched', 50, { match: { claim: 'groups', op: 'contains', value: 'root' } }),
        mappingOf('corp-admin', 999, { provider: 'corp' }),
      ],
      [oidcProvider(), samlProvider()],
    );

    it('may pick a lower-priority mapping that matched', () => {
      expect(decide(user, config, { mappingId: 'low' }).mapping.id).toBe('low');
    });

    it.each([
      ['an unmatched mapping', 'unmatched'],
      ['another provider’s mapping (whose match would hold)', 'corp-admin'],
      ['an unknown id', 'no-such-mapping'],
      ['a role ARN in the id field', 'arn:aws:iam::123456789012:role/tvm/high'],
      ['an inherited property name', 'constructor'],
    ])('refuses %s with mapping_not_allowed', (_name, mappingId) => {
      // Act
      const error = forbidden(() => decide(user, config, { mappingId }));

      // Assess
      expect(error.reason).toBe('mapping_not_allowed');
    });

    it('refuses any id when nothing matched', () => {
      // Prepare
      const stranger = identityOf({ sub: 'user-2', groups: ['guests'] });

      // Act / Assess
      expect(forbidden(() => decide(stranger, config, { mappingId: 'low' })).reason).toBe(
        'mapping_not_allowed',
      );
    });

    it('ignores fields a request type does not have (a role ARN cannot be asked for)', () => {
      // Prepare
      const request = { roleArn: 'arn:aws:iam::999999999999:role/admin' } as object;

      // Act
      const decision = decide(user, config, request);

      // Assess
      expect(decision.roleArn).toBe('arn:aws:iam::123456789012:role/tvm/high');
    });
  });

  describe('ties on the highest priority', () => {
    // Ids in reverse alphabetical order: the tie-break is file order, not id order.
    const tied = [mappingOf('zeta', 100), mappingOf('alpha', 100), mappingOf('lower', 5)];

    it('ambiguity first: the first of them in file order', () => {
      // Prepare
      const config = validConfig(tied, [oidcProvider({ ambiguity: 'first' })]);

      // Act
      const decision = decide(user, config, {});

      // Assess
      expect(decision.mapping.id).toBe('zeta');
      expect(decision.matched).toEqual(['zeta', 'alpha', 'lower']);
    });

    it('ambiguity first: file order decides even when the tie is listed last', () => {
      // Prepare
      const config = validConfig([mappingOf('lower', 5), ...tied.slice(0, 2).reverse()]);

      // Act / Assess
      expect(decide(user, config, {}).mapping.id).toBe('alpha');
    });

    it('ambiguity deny: refuses with ambiguous_mapping', () => {
      // Prepare
      const config = validConfig(tied, [oidcProvider({ ambiguity: 'deny' })]);

      // Act
      const error = forbidden(() => decide(user, config, {}));

      // Assess
      expect(error.reason).toBe('ambiguous_mapping');
      expect(error.cause).toMatchObject({ candidates: ['zeta', 'alpha'] });
    });

    it('ambiguity choose (SAML): refused by decide, listed by matchMappings for the chooser', () => {
      // Prepare
      const config = validConfig(
        tied.map((mapping) => ({ ...mapping, provider: 'corp' })),
        [samlProvider({ ambiguity: 'choose' })],
      );
      const employee = identityOf({ sub: 'u', groups: ['users'] }, 'corp');

      // Act
      const error = forbidden(() => decide(employee, config, {}));
      const listed = matchMappings(employee, config).map((mapping) => mapping.id);

      // Assess
      expect(error.reason).toBe('ambiguous_mapping');
      expect(listed).toEqual(['zeta', 'alpha', 'lower']);
    });

    it('a requested id settles a tie under deny', () => {
      // Prepare
      const config = validConfig(tied, [oidcProvider({ ambiguity: 'deny' })]);

      // Act / Assess
      expect(decide(user, config, { mappingId: 'alpha' }).mapping.id).toBe('alpha');
    });

    it('a tie below the highest priority is no ambiguity', () => {
      // Prepare
      const config = validConfig(
        [mappingOf('top', 200), mappingOf('a', 100), mappingOf('b', 100)],
        [oidcProvider({ ambiguity: 'deny' })],
      );

      // Act / Assess
      expect(decide(user, config, {}).mapping.id).toBe('top');
    });
  });
});
