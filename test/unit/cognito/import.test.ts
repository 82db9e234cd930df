import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestIssuer } from '#shared/auth/principal.ts';
import { AUDIENCE_PLACEHOLDER, importCognito } from '#shared/cognito/import.ts';
import { findIdentityPool, loginsProviders, poolMappings } from '#shared/cognito/pools.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ForbiddenError } from '#shared/errors.ts';
import { decide } from '#shared/mapping/decide.ts';
import { repoRoot } from '../../support/process.ts';

const FIXTURES = join(repoRoot, 'test/fixtures/cognito-import');

function source(path: string) {
  return { name: path, text: readFileSync(join(FIXTURES, path), 'utf8') };
}

function example(name: string, audiences?: Record<string, string[]>) {
  return importCognito(
    source(`${name}/pool.json`),
    source(`${name}/roles.json`),
    audiences === undefined ? {} : { audiences },
  );
}

/** The example imported and validated, as `config validate` would see it. */
function importedConfig(name: string, audiences?: Record<string, string[]>) {
  const result = example(name, audiences);
  if (!result.ok) throw new Error(`import failed: ${result.errors.join('; ')}`);
  const validated = validateConfig(result.document, { stage: 'prod' });
  if (!validated.ok) {
    throw new Error(validated.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
  return { result, config: validated.config };
}

interface CognitoRules {
  Roles?: Record<string, string>;
  RoleMappings?: Record<
    string,
    {
      Type: string;
      AmbiguousRoleResolution?: string;
      RulesConfiguration?: {
        Rules: { Claim: string; MatchType: string; Value: string; RoleARN: string }[];
      };
    }
  >;
}

/**
 * Cognito's documented role choice for an authenticated user (role-based access control): the
 * provider's RoleMapping rules in order, first match wins, the claim must be present; no match
 * falls back to the authenticated role or denies. Without a RoleMapping: the authenticated role.
 * Lists are tested element by element (what the import promises, and warns about).
 */
function cognitoRole(
  roles: CognitoRules,
  roleMappingKey: string,
  claims: Record<string, unknown>,
): string | 'denied' {
  const fallback = roles.Roles?.authenticated ?? 'denied';
  const mapping = roles.RoleMappings?.[roleMappingKey];
  if (mapping === undefined) return fallback;
  for (const rule of mapping.RulesConfiguration?.Rules ?? []) {
    const value = claims[rule.Claim];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const matches = values.some((text) => {
      switch (rule.MatchType) {
        case 'Equals':
          return text === rule.Value;
        case 'NotEqual':
          return Array.isArray(value) ? !values.includes(rule.Value) : text !== rule.Value;
        case 'StartsWith':
          return text.startsWith(rule.Value);
        default:
          return Array.isArray(value) ? text === rule.Value : text.includes(rule.Value);
      }
    });
    if (matches) return rule.RoleARN;
  }
  return mapping.AmbiguousRoleResolution === 'AuthenticatedRole' ? fallback : 'denied';
}

/** The role the TVM decides for an identity-pool login: the real decide() on the pool's mappings. */
function tvmRole(
  config: TvmConfig,
  poolId: string,
  login: { loginsKey: string } | { guest: true },
  claims: Record<string, unknown>,
): string | 'denied' {
  const pool = findIdentityPool(config, poolId);
  if (pool === undefined) throw new Error('pool missing');
  const providerId =
    'guest' in login
      ? pool.guests?.provider
      : loginsProviders(pool, config).get(login.loginsKey)?.id;
  if (providerId === undefined) return 'denied';
  const provider = config.providers.find((p) => p.id === providerId);
  if (provider === undefined) throw new Error('provider missing');
  const issuer = provider.type === 'oidc' ? provider.issuer : guestIssuer(provider.id);
  const usable = { ...config, mappings: poolMappings(pool, config.mappings) };
  try {
    return decide({ provider: providerId, issuer, subject: String(claims.sub), claims }, usable, {})
      .roleArn;
  } catch (error) {
    if (error instanceof ForbiddenError) return 'denied';
    throw error;
  }
}

function rolesOf(name: string): CognitoRules {
  return JSON.parse(source(`${name}/roles.json`).text) as CognitoRules;
}

describe('importCognito', () => {
  describe('a user pool with rules (AuthenticatedRole fallback)', () => {
    const { result, config } = importedConfig('user-pool-rules');
    const poolId = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
    const loginsKey = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';
    const roleMappingKey = `${loginsKey}:3n4b5urk1ft4fl3mg5e62d9ado`;

    it('imports the provider with the pool client as audience, the cognito preset and typed claims', () => {
      // Assess
      expect(config.providers).toHaveLength(1);
      expect(config.providers[0]).toMatchObject({
        type: 'oidc',
        issuer: `https://${loginsKey}`,
        audiences: ['3n4b5urk1ft4fl3mg5e62d9ado'],
        preset: 'cognito',
        ambiguity: 'first',
        claims: {
          'custom:tier': { type: 'string' },
          email: { type: 'string' },
          'custom:region': { type: 'string' },
          'custom:plan': { type: 'string' },
          'cognito:groups': { type: 'list' },
        },
      });
      expect(config.identityPools[0]?.id).toBe(poolId);
      expect(loginsProviders(config.identityPools[0] as never, config).has(loginsKey)).toBe(true);
    });

    it('keeps the rule order as descending priorities, with the authenticated role last at 0', () => {
      // Assess
      expect(config.mappings.map((m) => [m.priority, m.roleArn.split('/').pop()])).toEqual([
        [50, 'GoldCustomers'],
        [40, 'Staff'],
        [30, 'EuCustomers'],
        [20, 'PayingCustomers'],
        [10, 'BetaTesters'],
        [0, 'Cognito_ShopAuth_Role'],
      ]);
      expect(config.mappings.map((m) => m.match)).toEqual([
        { claim: 'custom:tier', op: 'equals', value: 'gold' },
        { claim: 'email', op: 'includesSubstring', value: '@staff.example.com' },
        { claim: 'custom:region', op: 'startsWith', value: 'eu-' },
        { claim: 'custom:plan', op: 'notEquals', value: 'free' },
        { claim: 'cognito:groups', op: 'contains', value: 'beta-testers' },
        { claim: 'sub', op: 'exists', value: true },
      ]);
    });

    it('warns about the list claim rule and the roles outside the TVM path, and nothing else', () => {
      // Assess
      expect(result.ok && result.warnings).toEqual([
        expect.stringContaining('cognito:groups Contains "beta-testers" became'),
        expect.stringMatching(
          /^role path: 6 role\(s\) sit outside the TVM's role path "tvm\/".*role\/shop\/GoldCustomers/,
        ),
      ]);
    });

    const samples: [string, Record<string, unknown>][] = [
      [
        'gold wins over everything after it',
        { 'custom:tier': 'gold', email: 'a@staff.example.com' },
      ],
      ['staff by e-mail substring', { 'custom:tier': 'silver', email: 'bob@staff.example.com' }],
      ['a near-miss e-mail', { email: 'bob@staff.example.org', 'custom:region': 'us-east' }],
      ['region prefix', { 'custom:region': 'eu-central', 'custom:plan': 'pro' }],
      ['region is case-sensitive', { 'custom:region': 'EU-central', 'custom:plan': 'pro' }],
      ['a paying plan', { 'custom:plan': 'pro' }],
      ['the free plan falls through', { 'custom:plan': 'free' }],
      ['a missing claim never matches NotEqual', {}],
      ['a beta tester', { 'cognito:groups': ['staff-x', 'beta-testers'], 'custom:plan': 'free' }],
      ['a group name that only contains the value', { 'cognito:groups': ['beta-testers-old'] }],
      ['a number claim compares as its text', { 'custom:plan': 0 }],
    ];
    it.each(samples)('decides the same role as Cognito: %s', (_name, extra) => {
      // Prepare
      const claims = { sub: 'user-1', ...extra };
      // Act
      const tvm = tvmRole(config, poolId, { loginsKey }, claims);
      // Assess
      expect(tvm).toBe(cognitoRole(rolesOf('user-pool-rules'), roleMappingKey, claims));
    });
  });

  describe('a pool with guests', () => {
    const { config } = importedConfig('guest-pool');
    const poolId = 'us-east-1:7d1e2f3a-4b5c-4d6e-9f70-8192a3b4c5d6';

    it('adds a guest provider named after the pool, the pool guests field and a guest mapping', () => {
      // Assess
      const pool = findIdentityPool(config, poolId);
      expect(pool?.guests?.provider).toBe('photo-gallery-guests');
      expect(config.providers.find((p) => p.id === 'photo-gallery-guests')?.type).toBe('guest');
      expect(config.mappings.find((m) => m.provider === 'photo-gallery-guests')?.match).toEqual({
        claim: 'sub',
        op: 'exists',
        value: true,
      });
    });

    it('gives a guest the unauthenticated role and a signed-in user the authenticated one', () => {
      // Prepare
      const identityId = 'us-east-1:5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
      // Act
      const guest = tvmRole(config, poolId, { guest: true }, { sub: identityId });
      const user = tvmRole(
        config,
        poolId,
        { loginsKey: 'cognito-idp.us-east-1.amazonaws.com/us-east-1_Gal1ery9X' },
        { sub: 'u-1' },
      );
      // Assess
      expect(guest).toBe(
        'arn:aws:iam::210987654321:role/service-role/Cognito_PhotoGalleryUnauth_Role',
      );
      expect(user).toBe(
        'arn:aws:iam::210987654321:role/service-role/Cognito_PhotoGalleryAuth_Role',
      );
    });
  });

  describe('a Token role mapping', () => {
    it('warns that groups cannot be imported and imports the authenticated role for everyone', () => {
      // Act
      const { result, config } = importedConfig('token-mapping');
      // Assess
      expect(result.ok && result.warnings).toEqual([
        expect.stringMatching(/Type Token .* cannot be imported.*gets the authenticated role/),
        expect.stringMatching(/^role path: 1 role\(s\)/),
      ]);
      expect(result.ok && result.notes).toEqual([
        expect.stringContaining('ServerSideTokenCheck is ignored'),
      ]);
      expect(config.mappings.map((m) => [m.priority, m.roleArn])).toEqual([
        [0, 'arn:aws:iam::345678901234:role/FieldServiceTechnician'],
      ]);
    });

    it('with Deny, imports no mapping at all rather than a wider default', () => {
      // Prepare
      const roles = JSON.parse(
        source('token-mapping/roles.json').text.replace('"AuthenticatedRole"', '"Deny"'),
      );
      // Act
      const result = importCognito(source('token-mapping/pool.json'), {
        name: 'roles.json',
        text: JSON.stringify(roles),
      });
      // Assess
      expect(result.ok && result.document.mappings).toEqual([]);
      expect(result.ok && result.warnings.join('\n')).toContain('get no credentials');
      expect(result.ok && validateConfig(result.document, { stage: 'prod' }).ok).toBe(true);
    });
  });

  describe('unsupported logins', () => {
    it('warns once per item that cannot be imported, and imports the OIDC provider with Deny', () => {
      // Act
      const { result, config } = importedConfig('unsupported-logins');
      // Assess
      const warnings = result.ok ? result.warnings : [];
      for (const item of [
        'SupportedLoginProviders "graph.facebook.com"',
        'SupportedLoginProviders "accounts.google.com"',
        'DeveloperProviderName "login.community.example"',
        'SamlProviderARNs "arn:aws:iam::456789012345:saml-provider/CorpOkta"',
        'AllowClassicFlow',
        'OIDC provider login.community.example/realms/members',
        'RoleMappings["graph.facebook.com"]',
      ]) {
        expect(warnings.filter((w) => w.startsWith(item))).toHaveLength(1);
      }
      // And the roles outside the TVM's path.
      expect(warnings).toHaveLength(8);
      expect(config.providers[0]).toMatchObject({
        issuer: 'https://login.community.example/realms/members',
        audiences: [AUDIENCE_PLACEHOLDER],
        ambiguity: 'deny',
      });
    });

    it('takes the OIDC client ids from --audience, and then decides as Cognito does (Deny: no fallback)', () => {
      // Prepare
      const loginsKey = 'login.community.example/realms/members';
      const { result, config } = importedConfig('unsupported-logins', {
        [loginsKey]: ['community-app'],
      });
      const poolId = 'eu-central-1:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
      // Assess
      expect(config.providers[0]?.type === 'oidc' && config.providers[0].audiences).toEqual([
        'community-app',
      ]);
      expect(result.ok && result.warnings.some((w) => w.includes('client ids'))).toBe(false);
      for (const membership of ['moderator', 'member', 'members-lapsed', 'guest', undefined]) {
        const claims = { sub: 'm-1', ...(membership === undefined ? {} : { membership }) };
        expect(tvmRole(config, poolId, { loginsKey }, claims)).toBe(
          cognitoRole(rolesOf('unsupported-logins'), loginsKey, claims),
        );
      }
      expect(tvmRole(config, poolId, { loginsKey }, { sub: 'm-1', membership: 'guest' })).toBe(
        'denied',
      );
    });
  });

  describe('two app clients of one user pool', () => {
    const { config } = importedConfig('two-app-clients');
    const poolId = 'eu-west-1:4c5d6e7f-8091-4a2b-bc3d-4e5f60718293';
    const loginsKey = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_B4nkUsr5z';
    const mobile = '6mobileclient0000000000000';
    const web = '7webclient0000000000000000';

    it.each([
      ['mobile, verified', mobile, 'verified'],
      ['mobile, unverified (Deny)', mobile, 'pending'],
      ['web, verified (no role mapping: the authenticated role)', web, 'verified'],
      ['web, unverified', web, undefined],
    ])('keeps each client its own role mapping: %s', (_name, aud, kyc) => {
      // Prepare
      const claims = { sub: 'c-1', aud, ...(kyc === undefined ? {} : { 'custom:kyc': kyc }) };
      // Act
      const tvm = tvmRole(config, poolId, { loginsKey }, claims);
      // Assess
      expect(tvm).toBe(cognitoRole(rolesOf('two-app-clients'), `${loginsKey}:${aud}`, claims));
    });
  });

  describe('bad input: a clear error and no document', () => {
    const pool = source('user-pool-rules/pool.json');
    const roles = source('user-pool-rules/roles.json');

    it.each([
      [
        'a file that is not JSON',
        source('invalid/truncated.json'),
        roles,
        /truncated\.json is not JSON/,
      ],
      [
        'the wrong JSON shape',
        source('invalid/wrong-shape.json'),
        roles,
        /wrong-shape\.json at IdentityPoolId: .*describe-identity-pool/,
      ],
      [
        'roles of another pool',
        pool,
        source('invalid/roles-of-another-pool.json'),
        /different identity pools: .*"eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab".*"eu-west-1:11111111-2222-4333-8444-555555555555"/,
      ],
      ['swapped files', roles, pool, /swap --pool and --roles/],
      [
        'a prefix rule on a list claim (skipping it would change later matches)',
        pool,
        source('invalid/groups-startswith-roles.json'),
        /cognito:groups StartsWith "admin" cannot be imported/,
      ],
      [
        'an unknown MatchType',
        pool,
        { name: 'r.json', text: roles.text.replace('"Equals"', '"Matches"') },
        /r\.json at RoleMappings.*MatchType/,
      ],
      [
        'an identity pool id in upper case',
        { name: 'p.json', text: pool.text.replace('0f0c1ab2', '0F0C1AB2') },
        { name: 'r.json', text: roles.text.replace('0f0c1ab2', '0F0C1AB2') },
        /is not an identity pool id/,
      ],
    ])('%s', (_name, poolSource, rolesSource, message) => {
      // Act
      const result = importCognito(poolSource, rolesSource);
      // Assess
      expect(result.ok).toBe(false);
      expect(result.ok ? '' : result.errors.join('\n')).toMatch(message);
    });

    it('reports a field it does not know instead of dropping it silently', () => {
      // Prepare
      const withExtra = JSON.stringify({ ...JSON.parse(pool.text), IdentityPoolRegion: 'x' });
      // Act
      const result = importCognito({ name: 'p.json', text: withExtra }, roles);
      // Assess
      expect(result.ok && result.warnings).toContainEqual(
        expect.stringContaining('field "IdentityPoolRegion" is unknown'),
      );
    });
  });
});
