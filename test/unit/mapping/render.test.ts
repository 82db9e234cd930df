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
          expect(decision.sourceIdentity).toBe(`sha256-${sha256(value).slice(0, 40)}`);
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
    ['a list', { sub: 'u', groups: ['users'], tenant: ['a', 'b'] }, 'not_string'],
    ['a number', { sub: 'u', groups: ['users'], tenant: 7 }, 'not_string'],
    ['a boolean', { sub: 'u', groups: ['users'], tenant: true }, 'not_string'],
    [
      'longer than its maxLength (64)',
      { sub: 'u', groups: ['users'], tenant: 'a'.repeat(65) },
      'too_long',
    ],
  ])('a claim that is %s is refused, not dropped', (_name, claims, problem) => {
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

  it('a missing sub fails the default session name closed', () => {
    // Prepare
    const plain = validConfig([mappingOf('plain', 1)]);

    // Act
    const error = forbidden(() => decide(identityOf({ groups: ['users'] }), plain, {}));

    // Assess
    expect(error.cause).toMatchObject({ variable: 'claims.sub', problem: 'missing' });
  });
});

describe('the size limits, re-checked at request time', () => {
  /** A config that validation would refuse: only the runtime check stands between it and STS. */
  const sized = (fields: Record<string, unknown>) =>
    unvalidatedConfig(
      [mappingOf('big', 1, fields)],
      [oidcProvider({ claims: {}, defaultClaimMaxLength: 2048 })],
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
      [oidcProvider({ claims: { tenant: { maxLength } } })],
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
      oidcProvider({ claims: { sub: { maxLength: 255 } } }),
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
    [oidcProvider({ claims: { sub: { maxLength: 255 } } })],
  );
  const sourceOf = (sub: string) =>
    decide(identityOf({ sub, groups: ['users'] }), config, {}).sourceIdentity;
  const hashed = (value: string) => `sha256-${sha256(value).slice(0, 40)}`;

  it.each([
    ['an email', 'alice@example.com', 'alice@example.com'],
    ['64 characters', 'a'.repeat(64), 'a'.repeat(64)],
    ['2 characters', 'ab', 'ab'],
    ['65 characters', 'a'.repeat(65), hashed('a'.repeat(65))],
    ['1 character', 'a', hashed('a')],
    ['a space', 'alice smith', hashed('alice smith')],
    ['a value posing as a hash', hashed('victim'), hashed(hashed('victim'))],
  ])('%s: %j becomes %j', (_name, sub, expected) => {
    expect(sourceOf(sub)).toBe(expected);
  });
});
