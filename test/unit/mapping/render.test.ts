import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decide } from '#shared/mapping/decide.ts';
import type { ClaimRejection } from '#shared/mapping/render.ts';
import {
  forbidden,
  IAM_USERNAME_VARIABLE,
  identityOf,
  mappingOf,
  oidcProvider,
  unvalidatedConfig,
  validConfig,
} from './support.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** One mapping per place a claim can reach; all match the same identities. */
const sinks = validConfig([
  mappingOf('tag', 1, { sessionTags: { tenant: 'team-{{claims.tenant}}' } }),
  mappingOf('policy-resource', 1, {
    sessionPolicy: {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::data/{{claims.tenant}}/*',
      },
    },
  }),
  mappingOf('policy-condition', 1, {
    sessionPolicy: {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::data',
        Condition: { StringLike: { 's3:prefix': ['{{claims.tenant}}/*'] } },
      },
    },
  }),
  mappingOf('names', 1, {
    roleSessionName: '{{claims.tenant}}',
    sourceIdentity: '{{claims.tenant}}',
  }),
]);

const attempt = (tenant: string, mappingId: string) =>
  decide(identityOf({ sub: 'user-1', groups: ['users'], tenant }), sinks, { mappingId });

/** Each hostile claim value, and whether a tag may carry it (STS allows any script's letters). */
const ATTACKS: [name: string, value: string, tagAllows: boolean][] = [
  ['an IAM wildcard *', 'acme*', false],
  ['an IAM wildcard ?', 'acm?', false],
  ['a lone *', '*', false],
  ['an IAM policy variable', IAM_USERNAME_VARIABLE, false],
  ['an IAM escape for a literal *', ['$', '{*}'].join(''), false],
  ['a path traversal ../', '../other-tenant', false],
  ['a prefix crossing b/x', 'other-tenant/x', false],
  ['a double quote', 'acme"', false],
  ['a JSON break-out', '"}],"Effect":"Allow', false],
  [
    'a full statement injection',
    'x"},{"Effect":"Allow","Action":"*","Resource":"*"},{"a":"',
    false,
  ],
  ['a backslash', 'acme\\', false],
  ['a newline', 'acme\nx', false],
  ['a carriage return', 'acme\rx', false],
  ['a tab', 'acme\tx', false],
  ['a NUL', 'acme\u0000', false],
  ['a Unicode line separator', 'acme\u2028x', false],
  ['a no-break space', 'acme\u00a0x', false],
  ['a fullwidth asterisk look-alike', 'acme\uff0a', false],
  ['a fullwidth solidus look-alike', 'acme\uff0fother', false],
  ['a right-to-left override', 'acme\u202ex', false],
  ['an empty value (turns "{{tenant}}*" into "*")', '', false],
  ['a Cyrillic look-alike letter', '\u0430cme', true],
];

describe('claims that try to widen a policy or break a field', () => {
  describe.each(['policy-resource', 'policy-condition'])(
    'in a session policy (%s)',
    (mappingId) => {
      it.each(ATTACKS)('%s is refused with 403 claim_value_rejected', (_name, value) => {
        // Act
        const error = forbidden(() => attempt(value, mappingId));

        // Assess
        expect(error.reason).toBe('claim_value_rejected');
        const cause = error.cause as ClaimRejection;
        expect(cause).toMatchObject({
          mapping: mappingId,
          variable: 'claims.tenant',
          problem: 'disallowed_characters',
        });
        expect(cause.field).toMatch(/^sessionPolicy\.Statement\./);
        // The cause names the field and the variable, never the value.
        expect(Object.keys(cause).sort()).toEqual(['field', 'mapping', 'problem', 'variable']);
      });
    },
  );

  describe('in a session tag', () => {
    it.each(ATTACKS.filter(([, , tagAllows]) => !tagAllows))(
      '%s is refused with 403 claim_value_rejected',
      (_name, value) => {
        // Act
        const error = forbidden(() => attempt(value, 'tag'));

        // Assess
        expect(error.reason).toBe('claim_value_rejected');
        expect(error.cause).toEqual({
          mapping: 'tag',
          field: 'sessionTags.tenant',
          variable: 'claims.tenant',
          problem: 'disallowed_characters',
        });
      },
    );

    it('letters of any script are tag characters for STS, and pass unchanged', () => {
      // Act
      const decision = attempt('\u0430cme Jos\u00e9', 'tag');

      // Assess
      expect(decision.tags).toEqual([{ Key: 'tenant', Value: 'team-\u0430cme Jos\u00e9' }]);
    });
  });

  describe('in the session name and SourceIdentity', () => {
    it.each(ATTACKS)(
      '%s is sanitised (name) or hashed (identity), never passed raw',
      (_n, value) => {
        // Act
        const decision = attempt(value, 'names');

        // Assess
        expect(decision.roleSessionName).toMatch(SESSION_NAME);
        expect(decision.sourceIdentity).toMatch(SESSION_NAME);
        if (!/^[\w+=,.@-]{2,64}$/.test(value)) {
          // A template's value is hashed as a one-element JSON array (never the default's input).
          const hashed = sha256(JSON.stringify([value])).slice(0, 40);
          expect(decision.sourceIdentity).toBe(`sha256-${hashed}`);
        }
      },
    );
  });

  it('accepts ordinary values everywhere', () => {
    // Act
    const resource = attempt('acme-42', 'policy-resource');
    const condition = attempt('acme.eu:1+2=3,x@y_z', 'policy-condition');
    const tag = attempt('acme 42:x=y+z@w_v.u', 'tag');

    // Assess
    expect(JSON.parse(resource.policy ?? '').Statement.Resource).toBe(
      'arn:aws:s3:::data/acme-42/*',
    );
    expect(JSON.parse(condition.policy ?? '').Statement.Condition).toEqual({
      StringLike: { 's3:prefix': ['acme.eu:1+2=3,x@y_z/*'] },
    });
    expect(tag.tags).toEqual([{ Key: 'tenant', Value: 'team-acme 42:x=y+z@w_v.u' }]);
  });

  it('static policy text with IAM syntax passes through; only claims are restricted', () => {
    // Prepare
    const config = validConfig([
      mappingOf('home', 1, {
        sessionPolicy: {
          Version: '2012-10-17',
          Statement: {
            Effect: 'Allow',
            Action: 's3:*',
            Resource: `arn:aws:s3:::home/${IAM_USERNAME_VARIABLE}/{{claims.tenant}}/*`,
          },
        },
      }),
    ]);

    // Act
    const decision = decide(
      identityOf({ sub: 'u', groups: ['users'], tenant: 'acme' }),
      config,
      {},
    );

    // Assess
    expect(JSON.parse(decision.policy ?? '').Statement.Resource).toBe(
      `arn:aws:s3:::home/${IAM_USERNAME_VARIABLE}/acme/*`,
    );
  });
});

describe('claims the templates cannot render', () => {
  const config = validConfig([
    mappingOf('m', 1, {
      sessionTags: { tenant: '{{claims.tenant}}' },
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::{{claims.tenant}}',
        },
      },
    }),
  ]);

  it.each([
    ['missing', { sub: 'u', groups: ['users'] }, 'missing'],
    ['a number', { sub: 'u', groups: ['users'], tenant: 7 }, 'not_string'],
    ['a boolean', { sub: 'u', groups: ['users'], tenant: true }, 'not_string'],
    [
      'longer than its maxLength (64)',
      { sub: 'u', groups: ['users'], tenant: 'a'.repeat(65) },
      'too_long',
    ],
  ])('a claim that is %s is refused, not dropped', (_name, claims, problem) => {
    // (A list for the string claim tenant is malformed: refused before rendering, see below.)
    // Act
    const error = forbidden(() => decide(identityOf(claims), config, {}));

    // Assess
    expect(error.reason).toBe('claim_value_rejected');
    expect(error.cause).toMatchObject({
      field: 'sessionTags.tenant',
      variable: 'claims.tenant',
      problem,
    });
  });

  it('an empty subject fails the default session name closed', () => {
    // Prepare: no verifier yields one; the default names refuse it all the same.
    const plain = validConfig([mappingOf('plain', 1)]);

    // Act
    const error = forbidden(() => decide(identityOf({ groups: ['users'] }), plain, {}));

    // Assess
    expect(error.reason).toBe('claim_value_rejected');
    expect(error.cause).toMatchObject({ field: 'roleSessionName', problem: 'missing' });
  });
});

describe('a malformed template claim', () => {
  it('a list for the string claim tenant refuses the decision as claim_malformed', () => {
    // Prepare
    const config = validConfig([
      mappingOf('tagged', 1, { sessionTags: { tenant: '{{claims.tenant}}' } }),
    ]);

    // Act
    const error = forbidden(() =>
      decide(identityOf({ sub: 'u', groups: ['users'], tenant: ['a', 'b'] }), config, {}),
    );

    // Assess
    expect(error.reason).toBe('claim_malformed');
    expect(error.cause).toMatchObject({ claim: 'tenant', expected: 'string', found: 'list' });
  });
});

describe('the size limits, re-checked at request time', () => {
  /** A config that validation would refuse: only the runtime check stands between it and STS. */
  const sized = (fields: Record<string, unknown>) =>
    unvalidatedConfig(
      [mappingOf('big', 1, fields)],
      [oidcProvider({ claims: { groups: { type: 'list' } }, defaultClaimMaxLength: 2048 })],
    );
  const policy = {
    Version: '2012-10-17',
    Statement: {
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::b/{{claims.tenant}}',
    },
  };
  const overhead = JSON.stringify(policy).length - '{{claims.tenant}}'.length;
  const withTenant = (length: number) =>
    identityOf({ sub: 'u', groups: ['users'], tenant: 'a'.repeat(length) });

  it('a policy of exactly 2,048 characters passes', () => {
    // Act
    const decision = decide(withTenant(2048 - overhead), sized({ sessionPolicy: policy }), {});

    // Assess
    expect(decision.policy).toHaveLength(2048);
  });

  it('a policy of 2,049 characters is refused with policy_too_large', () => {
    // Act
    const error = forbidden(() =>
      decide(withTenant(2049 - overhead), sized({ sessionPolicy: policy }), {}),
    );

    // Assess
    expect(error.reason).toBe('policy_too_large');
    expect(error.cause).toEqual({ mapping: 'big', length: 2049, limit: 2048 });
  });

  it('a validated config at the exact bound renders its longest claim to 2,048', () => {
    // Prepare: maxLength chosen so that validation's worst case is exactly the limit.
    const maxLength = 2048 - overhead;
    const config = validConfig(
      [mappingOf('big', 1, { sessionPolicy: policy })],
      [
        oidcProvider({
          claims: { tenant: { type: 'string', maxLength }, groups: { type: 'list' } },
        }),
      ],
    );

    // Act
    const decision = decide(withTenant(maxLength), config, {});

    // Assess
    expect(decision.policy).toHaveLength(2048);
  });

  it('a tag value of 256 characters passes and 257 is refused', () => {
    // Prepare
    const config = sized({ sessionTags: { tenant: '{{claims.tenant}}' } });

    // Act
    const fits = decide(withTenant(256), config, {});
    const error = forbidden(() => decide(withTenant(257), config, {}));

    // Assess
    expect(fits.tags[0]?.Value).toHaveLength(256);
    expect(error.cause).toEqual({
      mapping: 'big',
      field: 'sessionTags.tenant',
      variable: undefined,
      problem: 'rendered_too_long',
      length: 257,
      limit: 256,
    });
  });
});

describe('RoleSessionName', () => {
  const config = validConfig(
    [
      mappingOf('by-sub', 1, { roleSessionName: 'app-{{claims.sub}}' }),
      mappingOf('static', 1, { roleSessionName: 'readonly' }),
    ],
    [
      oidcProvider({
        claims: { sub: { type: 'string', maxLength: 255 }, groups: { type: 'list' } },
      }),
      oidcProvider({ id: 'other', issuer: 'https://other.example.com' }),
    ],
  );
  const nameOf = (sub: string, mappingId = 'by-sub', provider = 'mobile') =>
    decide(identityOf({ sub, groups: ['users'] }, provider), config, { mappingId }).roleSessionName;

  it('two subs that sanitise to the same text get different session names', () => {
    // Act
    const slash = nameOf('alice/x');
    const space = nameOf('alice x');

    // Assess
    expect(slash).toMatch(/^app-alice-x-[0-9a-f]{16}$/);
    expect(space).toMatch(/^app-alice-x-[0-9a-f]{16}$/);
    expect(slash).not.toBe(space);
  });

  it('is deterministic for one identity', () => {
    expect(nameOf('alice')).toBe(nameOf('alice'));
  });

  it('differs between users even when the template is static', () => {
    expect(nameOf('alice', 'static')).not.toBe(nameOf('bob', 'static'));
  });

  it('differs between providers for the same sub', () => {
    // Prepare
    const other = validConfig(
      [mappingOf('by-sub', 1, { provider: 'other', roleSessionName: 'app-{{claims.sub}}' })],
      [oidcProvider({ id: 'other', issuer: 'https://other.example.com' })],
    );

    // Act
    const there = decide(identityOf({ sub: 'alice', groups: ['users'] }, 'other'), other, {});

    // Assess
    expect(there.roleSessionName).not.toBe(nameOf('alice'));
  });

  it('long values are cut to 64 characters, and still never collide', () => {
    // Prepare
    const common = 'x'.repeat(100);

    // Act
    const first = nameOf(`${common}-1`);
    const second = nameOf(`${common}-2`);

    // Assess
    expect(first).toHaveLength(64);
    expect(first).toMatch(SESSION_NAME);
    expect(first.slice(0, 47)).toBe(second.slice(0, 47));
    expect(first).not.toBe(second);
  });

  it('replaces each non-ASCII character (one code point) with "-"', () => {
    expect(nameOf('j\u00fcrgen\u{1f600}')).toMatch(/^app-j-rgen--[0-9a-f]{16}$/);
  });
});

describe('SourceIdentity', () => {
  const config = validConfig(
    [mappingOf('m', 1, { sourceIdentity: '{{claims.sub}}' })],
    [
      oidcProvider({
        claims: { sub: { type: 'string', maxLength: 255 }, groups: { type: 'list' } },
      }),
    ],
  );
  const sourceOf = (sub: string) =>
    decide(identityOf({ sub, groups: ['users'] }), config, {}).sourceIdentity;
  const hashed = (value: string) => `sha256-${sha256(JSON.stringify([value])).slice(0, 40)}`;

  it.each([
    ['an email', 'alice@example.com', 'alice@example.com'],
    ['64 characters', 'a'.repeat(64), 'a'.repeat(64)],
    ['2 characters', 'ab', 'ab'],
    ['65 characters', 'a'.repeat(65), hashed('a'.repeat(65))],
    ['1 character', 'a', hashed('a')],
    ['a space', 'alice smith', hashed('alice smith')],
    ['a value posing as a hash', hashed('victim'), hashed(hashed('victim'))],
    ['a value posing as a default', 'victim@0123abcd', hashed('victim@0123abcd')],
    ['an email (no 8-hex tail)', 'victim@example.org', 'victim@example.org'],
  ])('%s: %j becomes %j', (_name, sub, expected) => {
    expect(sourceOf(sub)).toBe(expected);
  });
});

describe('the default SourceIdentity and session name: one per principal (issuer + subject)', () => {
  const MOBILE_ISSUER = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC';
  /** Written out by hand: `<sub>@<first 8 hex of sha256(issuer)>`. */
  const tagged = (sub: string, issuer: string) => `${sub}@${sha256(issuer).slice(0, 8)}`;
  const hashedDefault = (sub: string, issuer: string) =>
    `sha256-${sha256(JSON.stringify([issuer, sub])).slice(0, 40)}`;
  // mobile and mobile2: two app clients of one issuer; other: another issuer.
  const config = validConfig(
    [
      mappingOf('plain', 1),
      mappingOf('plain2', 1, { provider: 'mobile2' }),
      mappingOf('plain-other', 1, { provider: 'other' }),
      mappingOf('by-template', 1, { provider: 'templated', sourceIdentity: '{{claims.sub}}' }),
    ],
    [
      oidcProvider(),
      oidcProvider({ id: 'mobile2', audiences: ['client-id-2'] }),
      oidcProvider({ id: 'other', issuer: 'https://other.example.com' }),
      oidcProvider({ id: 'templated', issuer: 'https://templated.example.com' }),
    ],
  );
  const issuers: Record<string, string> = {
    mobile: MOBILE_ISSUER,
    mobile2: MOBILE_ISSUER,
    other: 'https://other.example.com',
    templated: 'https://templated.example.com',
  };
  const decideFor = (sub: string, provider: string) =>
    decide(identityOf({ sub, groups: ['users'] }, provider, issuers[provider]), config, {});

  it('is the subject tagged with its issuer: readable, and searchable in CloudTrail', () => {
    expect(decideFor('alice', 'mobile').sourceIdentity).toBe(tagged('alice', MOBILE_ISSUER));
  });

  it('the same sub from two issuers renders two SourceIdentities and session names', () => {
    // Act
    const here = decideFor('alice', 'mobile');
    const there = decideFor('alice', 'other');

    // Assess
    expect(there.sourceIdentity).toBe(tagged('alice', 'https://other.example.com'));
    expect(there.sourceIdentity).not.toBe(here.sourceIdentity);
    expect(there.roleSessionName).not.toBe(here.roleSessionName);
  });

  it('the same issuer through two provider entries renders the same values', () => {
    // Act
    const first = decideFor('alice', 'mobile');
    const second = decideFor('alice', 'mobile2');

    // Assess
    expect(second.sourceIdentity).toBe(first.sourceIdentity);
    expect(second.roleSessionName).toBe(first.roleSessionName);
  });

  it.each([
    ['a 200-character sub', 'a'.repeat(200)],
    ['a 255-character sub', 'b'.repeat(255)],
    ['a sub with characters STS refuses', 'auth0|5f1c 42'],
  ])('%s is hashed (SourceIdentity) and cut (session name), never refused', (_name, sub) => {
    // Act: no template, so no claim length limit applies (the provider's default is 128).
    const decision = decideFor(sub, 'mobile');

    // Assess
    expect(decision.sourceIdentity).toBe(hashedDefault(sub, MOBILE_ISSUER));
    expect(decision.roleSessionName).toMatch(SESSION_NAME);
    expect(decision.roleSessionName).toHaveLength(Math.min(64, sub.length + 17));
  });

  it('an explicit {{claims.sub}} template is held to the claim limit, and says length and limit', () => {
    // Act
    const error = forbidden(() => decideFor('c'.repeat(200), 'templated'));

    // Assess
    expect(error.reason).toBe('claim_value_rejected');
    expect(error.cause).toEqual({
      mapping: 'by-template',
      field: 'sourceIdentity',
      variable: 'claims.sub',
      problem: 'too_long',
      length: 200,
      limit: 128,
    });
  });

  it('a template value shaped like a default is hashed, so no claim poses as a principal', () => {
    // Prepare: a claim equal to alice's default value from the mobile issuer.
    const posing = tagged('alice', MOBILE_ISSUER);

    // Act
    const decision = decideFor(posing, 'templated');

    // Assess
    expect(decision.sourceIdentity).not.toBe(posing);
    expect(decision.sourceIdentity).toBe(`sha256-${sha256(JSON.stringify([posing])).slice(0, 40)}`);
  });
});
