import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import {
  AWS_SAML_AUDIENCE,
  DEFAULT_ROLE_PATH,
  parseRoleRef,
  type RoleTemplate,
  renderCloudFormation,
  roleTemplates,
  SAML_PROVIDER_PLACEHOLDER,
  SERVICE_NAME,
  type TrustPolicy,
  tvmFunctionRoleArn,
} from '#shared/admin/role-template.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { ROLE_ARN_PATTERN } from '#shared/config/sts.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { samlProvider } from '../../fixtures/config/documents.ts';

/**
 * `iam role-template`'s pure part: what each mapped role's trust policy must allow, and the
 * CloudFormation for it. The expected documents are written out by hand.
 */

const TVM_ROLE = 'arn:aws:iam::111122223333:role/tvm-prod-eu-west-1-lambdaRole';
const POOL_ID = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
const SAML_PROVIDER = 'arn:aws:iam::123456789012:saml-provider/corp-idp';

const OIDC = {
  id: 'mobile',
  type: 'oidc',
  issuer: 'https://issuer.example.com',
  audiences: ['app'],
  claims: { tenant: { type: 'string', maxLength: 32 } },
};

function mapping(id: string, fields: Record<string, unknown> = {}) {
  return {
    id,
    provider: 'mobile',
    priority: 100,
    match: { claim: 'sub', op: 'exists' },
    roleArn: `arn:aws:iam::123456789012:role/tvm/${id}`,
    ...fields,
  };
}

function load(document: Record<string, unknown>): TvmConfig {
  const result = validateConfig({ version: 1, providers: [OIDC], ...document }, { stage: 'prod' });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

function only(config: TvmConfig, mappingId: string, options = {}): RoleTemplate {
  const templates = roleTemplates(config, { mappingId }, { tvmRoleArn: TVM_ROLE, ...options });
  expect(templates).toHaveLength(1);
  return templates[0] as RoleTemplate;
}

const ACTIONS = new Set([
  'sts:AssumeRole',
  'sts:AssumeRoleWithSAML',
  'sts:SetSourceIdentity',
  'sts:TagSession',
]);
const CONDITION_KEYS = new Set(['sts:ExternalId', 'SAML:aud']);

/**
 * The IAM trust policy grammar, as far as these documents use it: what IAM's CreateRole would
 * refuse (moto's accepts anything, even a statement without a principal).
 */
function expectTrustPolicyShape(policy: TrustPolicy): void {
  expect(Object.keys(policy).sort()).toEqual(['Statement', 'Version']);
  expect(policy.Version).toBe('2012-10-17');
  expect(Array.isArray(policy.Statement) && policy.Statement.length > 0).toBe(true);
  const sids = policy.Statement.map((statement) => statement.Sid);
  expect(new Set(sids).size).toBe(sids.length);
  for (const statement of policy.Statement) {
    for (const key of Object.keys(statement)) {
      // A trust policy names no Resource: the role is the resource.
      expect(['Sid', 'Effect', 'Principal', 'Action', 'Condition']).toContain(key);
    }
    expect(statement.Sid).toMatch(/^[A-Za-z0-9]+$/);
    expect(statement.Effect).toBe('Allow');
    const principals = Object.entries(statement.Principal);
    expect(principals).toHaveLength(1);
    const [kind, arn] = principals[0] as [string, string];
    if (kind === 'AWS') expect(arn).toMatch(ROLE_ARN_PATTERN);
    else {
      expect(kind).toBe('Federated');
      expect(arn).toMatch(/^(arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]+|<.*>)$/);
    }
    const actions = typeof statement.Action === 'string' ? [statement.Action] : statement.Action;
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(ACTIONS.has(action)).toBe(true);
    for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
      expect(operator).toBe('StringEquals');
      for (const [key, value] of Object.entries(keys)) {
        expect(CONDITION_KEYS.has(key)).toBe(true);
        const values = typeof value === 'string' ? [value] : value;
        expect(values.length).toBeGreaterThan(0);
        for (const item of values) expect(typeof item).toBe('string');
      }
    }
  }
  // Round-trips as JSON exactly: nothing undefined or non-JSON inside.
  expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
}

const assumeRole = (condition?: Record<string, unknown>) => ({
  Sid: 'TvmAssumeRole',
  Effect: 'Allow',
  Principal: { AWS: TVM_ROLE },
  Action: 'sts:AssumeRole',
  ...(condition === undefined ? {} : { Condition: condition }),
});

const sessionAttributes = (...actions: string[]) => ({
  Sid: 'TvmSessionAttributes',
  Effect: 'Allow',
  Principal: { AWS: TVM_ROLE },
  Action: actions,
});

describe('role templates', () => {
  it('a mapping without tags: AssumeRole and SetSourceIdentity (every vend sets one), no TagSession', () => {
    // Act
    const template = only(load({ mappings: [mapping('plain')] }), 'plain');

    // Assess
    expect(template.trustPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [assumeRole(), sessionAttributes('sts:SetSourceIdentity')],
    });
    expect(template.maxSessionDuration).toBe(3600);
    expect(template.role).toMatchObject({ path: '/tvm/', roleName: 'plain' });
    expect(template.warnings).toEqual([]);
    expectTrustPolicyShape(template.trustPolicy);
  });

  it('a mapping with session tags also allows TagSession', () => {
    // Act
    const template = only(
      load({
        mappings: [mapping('tagged', { sessionTags: { tenant: '{{claims.tenant}}' } })],
      }),
      'tagged',
    );

    // Assess
    expect(template.trustPolicy.Statement).toEqual([
      assumeRole(),
      sessionAttributes('sts:SetSourceIdentity', 'sts:TagSession'),
    ]);
    expect(template.mappings[0]?.tagReasons).toEqual(['its sessionTags']);
    expectTrustPolicyShape(template.trustPolicy);
  });

  it('a mapping an identity pool reaches allows TagSession though it sets no tags (cognito-identity-id)', () => {
    // Prepare
    const config = load({
      mappings: [mapping('pooled'), mapping('apart')],
      identityPools: [{ id: POOL_ID, providers: [{ provider: 'mobile' }], mappings: ['pooled'] }],
    });

    // Act
    const pooled = only(config, 'pooled');
    const apart = only(config, 'apart');

    // Assess
    expect(pooled.trustPolicy.Statement[1]).toEqual(
      sessionAttributes('sts:SetSourceIdentity', 'sts:TagSession'),
    );
    expect(pooled.mappings[0]?.tagReasons).toEqual([
      `identity pool ${POOL_ID} (tag cognito-identity-id)`,
    ]);
    // The pool restricts itself to `pooled`: `apart` is never vended through it.
    expect(apart.trustPolicy.Statement[1]).toEqual(sessionAttributes('sts:SetSourceIdentity'));
  });

  it('a guest mapping allows TagSession: guests are vended only through an identity pool', () => {
    // Prepare
    const config = load({
      providers: [OIDC, { id: 'shop-guests', type: 'guest' }],
      mappings: [
        mapping('guest-read', {
          provider: 'shop-guests',
          roleArn: 'arn:aws:iam::123456789012:role/tvm/guest-read',
        }),
      ],
      identityPools: [{ id: POOL_ID, providers: [], guests: { provider: 'shop-guests' } }],
    });

    // Act
    const template = only(config, 'guest-read');

    // Assess
    expect(template.trustPolicy.Statement[1]).toEqual(
      sessionAttributes('sts:SetSourceIdentity', 'sts:TagSession'),
    );
    expectTrustPolicyShape(template.trustPolicy);
  });

  it('an externalId becomes a condition on AssumeRole only; the session actions add nothing alone', () => {
    // Act
    const template = only(
      load({ mappings: [mapping('partner', { externalId: 'partner-7f3a' })] }),
      'partner',
    );

    // Assess
    expect(template.trustPolicy.Statement).toEqual([
      assumeRole({ StringEquals: { 'sts:ExternalId': 'partner-7f3a' } }),
      sessionAttributes('sts:SetSourceIdentity'),
    ]);
    expectTrustPolicyShape(template.trustPolicy);
  });

  it('one template per role, covering every mapping of it: actions unite, external ids are all allowed', () => {
    // Prepare: two mappings share a role; the chosen one alone would need less.
    const shared = 'arn:aws:iam::123456789012:role/tvm/shared';
    const config = load({
      mappings: [
        mapping('a', { roleArn: shared, externalId: 'id-a', durationSeconds: 900 }),
        mapping('b', {
          roleArn: shared,
          externalId: 'id-b',
          sessionTags: { tenant: '{{claims.tenant}}' },
        }),
        mapping('c'),
      ],
    });

    // Act
    const chosen = only(config, 'a');
    const all = roleTemplates(config, 'all', { tvmRoleArn: TVM_ROLE });

    // Assess
    expect(chosen.mappings.map((need) => need.mappingId)).toEqual(['a', 'b']);
    expect(chosen.trustPolicy.Statement).toEqual([
      assumeRole({ StringEquals: { 'sts:ExternalId': ['id-a', 'id-b'] } }),
      sessionAttributes('sts:SetSourceIdentity', 'sts:TagSession'),
    ]);
    expect(all.map((template) => template.role.roleName)).toEqual(['c', 'shared']);
    expectTrustPolicyShape(chosen.trustPolicy);
  });

  it('does not require an ExternalId that some mappings of the role never send, and says so', () => {
    // Prepare
    const shared = 'arn:aws:iam::123456789012:role/tvm/shared';
    const config = load({
      mappings: [
        mapping('a', { roleArn: shared, externalId: 'id-a' }),
        mapping('b', { roleArn: shared }),
      ],
    });

    // Act
    const template = only(config, 'a');

    // Assess
    expect(template.trustPolicy.Statement[0]).toEqual(assumeRole());
    expect(template.warnings).toEqual([
      expect.stringContaining('mappings a set an externalId but b on the same role do not'),
    ]);
  });

  it('flags a chained role outside the rolePath the function role may assume', () => {
    // Prepare
    const config = load({
      mappings: [mapping('outside', { roleArn: 'arn:aws:iam::123456789012:role/apps/outside' })],
    });

    // Act
    const flagged = only(config, 'outside');
    const elsewhere = only(config, 'outside', { rolePath: 'apps/' });

    // Assess
    expect(flagged.warnings).toEqual([
      expect.stringContaining(
        "the role's path /apps/ is outside /tvm/: the TVM's function role may call sts:AssumeRole only on role/tvm/*",
      ),
    ]);
    expect(elsewhere.warnings).toEqual([]);
  });

  it('SAML native mode trusts the IAM SAML provider with AssumeRoleWithSAML, and fits a 12-hour session', () => {
    // Prepare
    const config = load({
      providers: [OIDC, samlProvider({ mode: 'native' })],
      mappings: [
        mapping('admins', {
          provider: 'corp',
          durationSeconds: 43_200,
        }),
        mapping('ops', { provider: 'corp', durationSeconds: 7_200 }),
      ],
    });

    // Act
    const admins = only(config, 'admins', { samlProviderArn: SAML_PROVIDER });
    const ops = only(config, 'ops');

    // Assess
    expect(admins.trustPolicy.Statement).toEqual([
      {
        Sid: 'SamlNativeAssumeRole',
        Effect: 'Allow',
        Principal: { Federated: SAML_PROVIDER },
        Action: ['sts:AssumeRoleWithSAML', 'sts:SetSourceIdentity', 'sts:TagSession'],
        Condition: { StringEquals: { 'SAML:aud': AWS_SAML_AUDIENCE } },
      },
    ]);
    expect(admins.maxSessionDuration).toBe(43_200);
    expect(admins.warnings).toEqual([]);
    expect(ops.maxSessionDuration).toBe(7_200);
    expect(ops.trustPolicy.Statement[0]?.Principal).toEqual({
      Federated: SAML_PROVIDER_PLACEHOLDER,
    });
    expect(ops.warnings).toEqual([expect.stringContaining('use SAML native mode')]);
    expectTrustPolicyShape(admins.trustPolicy);
    expectTrustPolicyShape(ops.trustPolicy);
  });

  it('reports two ARNs that differ only in path: IAM names them one role', () => {
    // Prepare
    const config = load({
      mappings: [
        mapping('a', { roleArn: 'arn:aws:iam::123456789012:role/tvm/reader' }),
        mapping('b', { roleArn: 'arn:aws:iam::123456789012:role/tvm/old/reader' }),
      ],
    });

    // Act
    const all = roleTemplates(config, 'all', { tvmRoleArn: TVM_ROLE });

    // Assess
    for (const template of all) {
      expect(template.warnings).toEqual([expect.stringContaining('are one role to IAM')]);
    }
  });

  it('reads the path and name out of a role ARN', () => {
    expect(parseRoleRef('arn:aws:iam::123456789012:role/r')).toMatchObject({
      path: '/',
      roleName: 'r',
    });
    expect(parseRoleRef('arn:aws-cn:iam::123456789012:role/a/b/r-1')).toMatchObject({
      partition: 'aws-cn',
      path: '/a/b/',
      roleName: 'r-1',
    });
    expect(parseRoleRef('arn:aws:iam::123456789012:user/r')).toBeUndefined();
  });
});

describe('the CloudFormation snippet', () => {
  it('declares each role with its name, path, MaxSessionDuration and trust policy', () => {
    // Prepare
    const config = load({
      mappings: [
        mapping('reader', { sessionTags: { tenant: '{{claims.tenant}}' } }),
        mapping('two', { roleArn: 'arn:aws:iam::444455556666:role/tvm/apps/two-x' }),
      ],
    });
    const templates = roleTemplates(config, 'all', { tvmRoleArn: TVM_ROLE });

    // Act
    const text = renderCloudFormation(templates);
    const parsed = parse(text, { version: '1.1' }) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };

    // Assess
    expect(Object.keys(parsed.Resources)).toEqual(['TvmRoleReader', 'TvmRoleTwoX']);
    expect(parsed.Resources.TvmRoleTwoX).toEqual({
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'two-x',
        Path: '/tvm/apps/',
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: templates[1]?.trustPolicy,
      },
    });
    // A YAML 1.1 reader (CloudFormation, cfn-lint) must not see a date.
    expect(text).toContain('Version: "2012-10-17"');
    expect(text).toContain(
      '# arn:aws:iam::444455556666:role/tvm/apps/two-x: deploy in account 444455556666',
    );
    expect(text).toContain('# mappings: two');
  });
});

describe("the TVM's function role", () => {
  const serverless = parseDocument(
    readFileSync(resolve(import.meta.dirname, '../../../serverless.yml'), 'utf8'),
  ).toJS({}) as {
    service: string;
    params: { default: { rolePath: string } };
    provider: { iam: { role: Record<string, unknown> } };
    functions: Record<string, Record<string, unknown>>;
  };

  it('is named as osls names it when serverless.yml names none, in every partition', () => {
    // Assess: the derivation holds only while serverless.yml leaves the role to osls.
    expect(serverless.service).toBe(SERVICE_NAME);
    expect(serverless.provider.iam.role).not.toHaveProperty('name');
    expect(serverless.provider.iam.role).not.toHaveProperty('path');
    for (const fn of Object.values(serverless.functions)) expect(fn).not.toHaveProperty('role');
    expect(
      tvmFunctionRoleArn({ account: '111122223333', stage: 'prod', region: 'eu-west-1' }),
    ).toBe(TVM_ROLE);
    expect(
      tvmFunctionRoleArn({ account: '111122223333', stage: 'prod', region: 'cn-north-1' }),
    ).toBe('arn:aws-cn:iam::111122223333:role/tvm-prod-cn-north-1-lambdaRole');
    expect(
      tvmFunctionRoleArn({ account: '111122223333', stage: 'dev', region: 'us-gov-west-1' }),
    ).toBe('arn:aws-us-gov:iam::111122223333:role/tvm-dev-us-gov-west-1-lambdaRole');
  });

  it("flags roles outside serverless.yml's default rolePath", () => {
    expect(serverless.params.default.rolePath).toBe(DEFAULT_ROLE_PATH);
  });
});
