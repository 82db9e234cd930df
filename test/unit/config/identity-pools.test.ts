/**
 * `identityPools`: the shape (zod) and the semantic checks (validate/pools.ts), each problem with
 * its path and its exact message; and the store keeps pools across apply and load.
 */
import { describe, expect, it } from 'vitest';
import { defaultLoginsKey } from '#shared/cognito/pools.ts';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';

const POOL = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
const OTHER_POOL = 'us-east-1:1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516';

function document(identityPools: unknown): Record<string, unknown> {
  return {
    version: 1,
    providers: [
      {
        id: 'mobile',
        type: 'oidc',
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC',
        audiences: ['app'],
      },
      {
        id: 'web',
        type: 'oidc',
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC',
        audiences: ['web'],
      },
      {
        id: 'corp',
        type: 'saml',
        entityId: 'https://idp.example.com/saml',
        ssoUrl: 'https://idp.example.com/sso',
        certificates: ['not checked here'],
        spEntityId: 'https://tvm.example.com/saml',
      },
    ],
    mappings: [
      {
        id: 'reader',
        provider: 'mobile',
        priority: 100,
        match: { claim: 'sub', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
      },
      {
        id: 'web-user',
        provider: 'web',
        priority: 100,
        match: { claim: 'sub', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/web',
      },
    ],
    identityPools,
  };
}

/** Only the pool problems: the SAML provider above is a stub whose own problems do not matter. */
function poolProblems(identityPools: unknown) {
  const result = validateConfig(document(identityPools), { stage: 'prod' });
  if (result.ok) return [];
  return result.problems
    .filter((problem) => problem.path.startsWith('identityPools'))
    .map(({ path, message }) => ({ path, message }));
}

/** A document without the SAML stub, so that a valid pool validates as a whole. */
function oidcOnly(identityPools: unknown): Record<string, unknown> {
  const doc = document(identityPools);
  return { ...doc, providers: (doc.providers as { type: string }[]).slice(0, 2) };
}

describe('identityPools config', () => {
  it('accepts a valid pool, defaults to none, and keeps the loginsKey override', () => {
    // Prepare
    const pools = [
      {
        id: POOL,
        description: 'mobile app',
        providers: [{ provider: 'mobile' }, { provider: 'web', loginsKey: 'web.example.com' }],
        mappings: ['reader'],
      },
    ];

    // Act
    const result = validateConfig(oidcOnly(pools), { stage: 'prod' });
    const without = validateConfig(
      { ...oidcOnly([]), identityPools: undefined },
      { stage: 'prod' },
    );

    // Assess
    expect(result.ok ? [] : result.problems).toEqual([]);
    if (!result.ok || !without.ok) throw new Error('unreachable');
    expect(result.config.identityPools).toEqual(pools);
    expect(without.config.identityPools).toEqual([]);
  });

  it('derives the Logins key from the issuer as Cognito names providers', () => {
    expect(defaultLoginsKey('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC')).toBe(
      'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC',
    );
    expect(defaultLoginsKey('https://accounts.google.com')).toBe('accounts.google.com');
    expect(defaultLoginsKey('https://login.example.com/')).toBe('login.example.com');
    expect(defaultLoginsKey('http://127.0.0.1:9000')).toBe('127.0.0.1:9000');
  });

  it('hashes a config without pools as before pools existed (no spurious apply)', () => {
    const result = validateConfig(oidcOnly([]), { stage: 'prod' });
    if (!result.ok) throw new Error('invalid');
    const { identityPools: _, ...legacy } = result.config;
    expect(configHash(result.config)).toBe(configHash(legacy as typeof result.config));
  });

  it.each([
    ['upper case', 'EU-WEST-1:0F0C1AB2-3C4D-4E5F-8A9B-0123456789AB'],
    ['no region', '0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab'],
    ['not a uuid', 'eu-west-1:pool'],
    ['trailing text', `${POOL}x`],
  ])('refuses an id that is %s', (_, id) => {
    expect(poolProblems([{ id, providers: [{ provider: 'mobile' }] }])).toEqual([
      {
        path: 'identityPools[0].id',
        message:
          'must be an identity pool id "<region>:<uuid>" in lowercase, such as "eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab"',
      },
    ]);
  });

  it('refuses two pools with one id', () => {
    expect(
      poolProblems([
        { id: POOL, providers: [{ provider: 'mobile' }] },
        { id: POOL, providers: [{ provider: 'web' }] },
      ]),
    ).toEqual([
      {
        path: 'identityPools[1].id',
        message: `duplicate identity pool id "${POOL}" (also identityPools[0].id); ids must be unique`,
      },
    ]);
  });

  it('refuses a pool without providers', () => {
    expect(poolProblems([{ id: POOL, providers: [] }])).toEqual([
      {
        path: 'identityPools[0].providers',
        message:
          'is empty and the pool has no guests; list at least one OIDC provider, or set guests',
      },
    ]);
  });

  it('refuses an unknown provider, with a suggestion', () => {
    expect(poolProblems([{ id: POOL, providers: [{ provider: 'mobil' }] }])).toEqual([
      {
        path: 'identityPools[0].providers[0].provider',
        message:
          'names provider "mobil", which is not defined in providers (did you mean "mobile"?)',
      },
    ]);
  });

  it('refuses a SAML provider', () => {
    expect(poolProblems([{ id: POOL, providers: [{ provider: 'corp' }] }])).toEqual([
      {
        path: 'identityPools[0].providers[0].provider',
        message: 'names provider "corp" of type saml; identity pools accept OIDC providers only',
      },
    ]);
  });

  it('refuses a provider listed twice', () => {
    const problems = poolProblems([
      { id: POOL, providers: [{ provider: 'mobile' }, { provider: 'mobile', loginsKey: 'x' }] },
    ]);
    expect(problems).toEqual([
      { path: 'identityPools[0].providers[1].provider', message: 'lists provider "mobile" twice' },
    ]);
  });

  it('refuses two providers with one Logins key (derived, or set)', () => {
    const key = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC';
    expect(
      poolProblems([{ id: POOL, providers: [{ provider: 'mobile' }, { provider: 'web' }] }]),
    ).toEqual([
      {
        path: 'identityPools[0].providers[1].provider',
        message: `has Logins key "${key}", as providers[0] does; each Logins key must name one provider`,
      },
    ]);
    expect(
      poolProblems([
        {
          id: POOL,
          providers: [
            { provider: 'mobile', loginsKey: 'k' },
            { provider: 'web', loginsKey: 'k' },
          ],
        },
      ]),
    ).toEqual([
      {
        path: 'identityPools[0].providers[1].loginsKey',
        message: 'has Logins key "k", as providers[0] does; each Logins key must name one provider',
      },
    ]);
  });

  it('refuses an unknown mapping, with a suggestion', () => {
    expect(
      poolProblems([{ id: POOL, providers: [{ provider: 'mobile' }], mappings: ['readr'] }]),
    ).toEqual([
      {
        path: 'identityPools[0].mappings[0]',
        message: 'names mapping "readr", which is not defined in mappings (did you mean "reader"?)',
      },
    ]);
  });

  it('refuses a mapping of a provider the pool does not accept', () => {
    expect(
      poolProblems([{ id: POOL, providers: [{ provider: 'mobile' }], mappings: ['web-user'] }]),
    ).toEqual([
      {
        path: 'identityPools[0].mappings[0]',
        message:
          'names mapping "web-user" of provider "web", which this pool does not accept; the pool\'s providers are "mobile"',
      },
    ]);
  });

  it('refuses a mapping listed twice', () => {
    expect(
      poolProblems([
        { id: POOL, providers: [{ provider: 'mobile' }], mappings: ['reader', 'reader'] },
      ]),
    ).toEqual([{ path: 'identityPools[0].mappings[1]', message: 'lists mapping "reader" twice' }]);
  });

  it('refuses unknown fields and an empty mappings list', () => {
    const problems = poolProblems([
      {
        id: OTHER_POOL,
        providers: [{ provider: 'mobile', roleArn: 'x' }],
        guests: true,
        mappings: [],
      },
    ]);
    expect(problems.map((problem) => problem.path).sort()).toEqual([
      'identityPools[0].guests',
      'identityPools[0].mappings',
      'identityPools[0].providers[0].roleArn',
    ]);
  });
});

describe('identityPools guests config', () => {
  const GUESTS = { id: 'app-guests', type: 'guest' };
  const GUEST_MAPPING = {
    id: 'guest',
    provider: 'app-guests',
    priority: 0,
    match: { claim: 'sub', op: 'exists' },
    roleArn: 'arn:aws:iam::123456789012:role/tvm/guest',
  };

  /** The OIDC-only document plus guest providers and mappings. */
  function withGuests(
    identityPools: unknown,
    extra: { providers?: unknown[]; mappings?: unknown[] } = {},
  ) {
    const doc = oidcOnly(identityPools);
    return validateConfig(
      {
        ...doc,
        providers: [...(doc.providers as unknown[]), ...(extra.providers ?? [GUESTS])],
        mappings: [...(doc.mappings as unknown[]), ...(extra.mappings ?? [GUEST_MAPPING])],
      },
      { stage: 'prod' },
    );
  }

  function problemsOf(result: ReturnType<typeof validateConfig>) {
    return result.ok ? [] : result.problems.map(({ path, message }) => ({ path, message }));
  }

  it('accepts a guest-only pool, with the default limits and the default per-guest limit', () => {
    const result = withGuests([{ id: POOL, guests: { provider: 'app-guests' } }]);

    expect(problemsOf(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.config.identityPools[0]).toEqual({
      id: POOL,
      providers: [],
      guests: {
        provider: 'app-guests',
        getIdLimits: {
          perSourceIp: { limit: 20, windowSeconds: 60 },
          perPool: { limit: 1500, windowSeconds: 60 },
        },
      },
    });
    expect(result.config.providers.at(-1)).toMatchObject({
      type: 'guest',
      rateLimits: { perPrincipal: { limit: 20, windowSeconds: 300 } },
      ambiguity: 'first',
    });
  });

  it('refuses a pool with neither providers nor guests', () => {
    expect(poolProblems([{ id: POOL, providers: [] }])).toEqual([
      {
        path: 'identityPools[0].providers',
        message:
          'is empty and the pool has no guests; list at least one OIDC provider, or set guests',
      },
    ]);
  });

  it('refuses guests.provider that is unknown or not a guest provider', () => {
    const unknown = withGuests([
      { id: POOL, providers: [{ provider: 'mobile' }], guests: { provider: 'app-guest' } },
    ]);
    const oidc = withGuests([
      { id: POOL, providers: [{ provider: 'mobile' }], guests: { provider: 'web' } },
    ]);

    expect(problemsOf(unknown)).toContainEqual({
      path: 'identityPools[0].guests.provider',
      message:
        'names provider "app-guest", which is not defined in providers (did you mean "app-guests"?)',
    });
    expect(problemsOf(oidc)).toContainEqual({
      path: 'identityPools[0].guests.provider',
      message: 'names provider "web" of type oidc; guests need a provider of type guest',
    });
  });

  it('refuses a guest provider in Logins, one shared by two pools, and one no pool uses', () => {
    const inLogins = withGuests([
      { id: POOL, providers: [{ provider: 'app-guests' }], guests: { provider: 'app-guests' } },
    ]);
    const shared = withGuests([
      { id: POOL, guests: { provider: 'app-guests' } },
      { id: OTHER_POOL, guests: { provider: 'app-guests' } },
    ]);
    const unused = withGuests([{ id: POOL, providers: [{ provider: 'mobile' }] }]);

    expect(problemsOf(inLogins)).toEqual([
      {
        path: 'identityPools[0].providers[0].provider',
        message:
          'names guest provider "app-guests"; name it in guests.provider instead (Logins accept OIDC providers only)',
      },
    ]);
    expect(problemsOf(shared)).toEqual([
      {
        path: 'identityPools[1].guests.provider',
        message:
          'guest provider "app-guests" already holds the guests of identityPools[0]; give each pool its own guest provider',
      },
    ]);
    expect(problemsOf(unused)).toEqual([
      {
        path: 'providers[2].type',
        message:
          'guest provider "app-guests" is not named by any identity pool\'s guests.provider, so no guest could ever use it',
      },
    ]);
  });

  it('refuses claims on a guest provider: a guest has only sub', () => {
    const result = withGuests([{ id: POOL, guests: { provider: 'app-guests' } }], {
      providers: [{ ...GUESTS, claims: { groups: { type: 'list' } } }],
    });
    expect(problemsOf(result)).toContainEqual({
      path: 'providers[2].claims',
      message:
        'must be empty: a guest has no token, only `sub` (its IdentityId), which is implicit',
    });
  });

  it('lets a pool restriction name guest mappings', () => {
    const result = withGuests([
      {
        id: POOL,
        providers: [{ provider: 'mobile' }],
        guests: { provider: 'app-guests' },
        mappings: ['reader', 'guest'],
      },
    ]);
    expect(problemsOf(result)).toEqual([]);
  });

  it('keeps the identity tag for the TVM: a pool mapping may not set it, nor fill all 50 tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'v']));
    const result = withGuests([{ id: POOL, guests: { provider: 'app-guests' } }], {
      mappings: [
        { ...GUEST_MAPPING, sessionTags: { 'Cognito-Identity-Id': 'x' } },
        { ...GUEST_MAPPING, id: 'full', sessionTags: tags },
      ],
    });
    expect(problemsOf(result)).toEqual([
      {
        path: 'mappings[2].sessionTags["Cognito-Identity-Id"]',
        message: `identity pool "${POOL}" uses this mapping, and every identity-pool session carries the tag "cognito-identity-id" (the IdentityId); remove this key`,
      },
      {
        path: 'mappings[3].sessionTags',
        message: `identity pool "${POOL}" uses this mapping, and its sessions also carry "cognito-identity-id"; keep at most 49 tags`,
      },
    ]);
  });
});
