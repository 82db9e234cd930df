import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  type CheckResult,
  checkSamlCertificates,
  type DoctorAws,
  type DoctorDeps,
  type DoctorOptions,
  defaultSamlKeyParameter,
  judgeCertificate,
  judgeExternalId,
  judgeJwks,
  judgeMaxSession,
  judgePath,
  judgeTable,
  judgeTimeToLive,
  judgeTrust,
  type RoleContext,
  type RoleFacts,
  runDoctor,
} from '#shared/admin/doctor.ts';
import { mappingNeeds, parseRoleRef, type RoleRef } from '#shared/admin/role-template.ts';
import type { SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import { type ConfigGeneration, configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ConfigInvalidError } from '#shared/errors.ts';
import { TTL_ATTRIBUTE } from '#shared/store/table.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { fixtureText } from '../../support/saml-config.ts';

/**
 * `tvm doctor`'s judgements, each on the facts an AWS call would return, and the whole run on
 * fakes: what passes, what fails with which fix, and that whatever it cannot judge never passes.
 */

const ACCOUNT = '111122223333';
const TVM = `arn:aws:iam::${ACCOUNT}:role/tvm-prod-eu-west-1-lambdaRole`;
const POOL = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
const IDP_CERT = fixtureText('keys/idp.crt'); // valid 2025-01-01 to 2045-01-01
const NOW = new Date('2030-06-01T00:00:00Z');

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
    roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/${id}`,
    ...fields,
  };
}

function load(document: Record<string, unknown>): TvmConfig {
  const result = validateConfig(
    { version: 1, providers: [OIDC], ...document },
    { stage: 'prod', now: NOW },
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** The role of the config's first mapping, and what every mapping naming it needs. */
function roleOf(config: TvmConfig, roleArn = config.mappings[0]?.roleArn ?? '') {
  const role = parseRoleRef(roleArn) as RoleRef;
  const needs = config.mappings
    .filter((m) => m.roleArn === roleArn)
    .map((m) => mappingNeeds(config, m));
  return { role, needs };
}

const CONTEXT: RoleContext = {
  tvm: { arn: TVM, account: ACCOUNT, partition: 'aws' },
  rolePath: 'tvm/',
  templateHint: ` --tvm-role-arn ${TVM} --stage prod`,
};

function facts(statements: Record<string, unknown>[], fields: Partial<RoleFacts> = {}): RoleFacts {
  return {
    arn: '',
    maxSessionDuration: 3600,
    trustPolicy: encodeURIComponent(
      JSON.stringify({ Version: '2012-10-17', Statement: statements }),
    ),
    ...fields,
  };
}

/** The statements `iam role-template` writes, with chosen actions left out. */
function trust(options: { actions?: string[]; externalId?: string } = {}) {
  return [
    {
      Sid: 'TvmAssumeRole',
      Effect: 'Allow',
      Principal: { AWS: TVM },
      Action: 'sts:AssumeRole',
      ...(options.externalId === undefined
        ? {}
        : { Condition: { StringEquals: { 'sts:ExternalId': options.externalId } } }),
    },
    {
      Sid: 'TvmSessionAttributes',
      Effect: 'Allow',
      Principal: { AWS: TVM },
      Action: options.actions ?? ['sts:SetSourceIdentity', 'sts:TagSession'],
    },
  ];
}

describe('doctor: the table', () => {
  const good = { status: 'ACTIVE', hashKey: 'pk', rangeKey: 'sk', indexes: ['byAccessKeyId'] };

  it('passes an active TVM table with its index', () => {
    expect(judgeTable('tvm-prod', good, 'prod')).toMatchObject({ status: 'ok' });
  });

  it('fails a missing table, with the fix for the stage', () => {
    expect(judgeTable('tvm-prod', undefined, 'prod')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('serverless deploy --stage prod'),
    });
    expect(judgeTable('tvm-local', undefined, 'local').fix).toContain('npm start');
  });

  it('fails a table with other keys, and warns about a missing index or an update under way', () => {
    expect(judgeTable('t', { ...good, rangeKey: undefined }, 'prod').status).toBe('fail');
    expect(judgeTable('t', { ...good, indexes: [] }, 'prod')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('tvm audit key'),
    });
    expect(judgeTable('t', { ...good, status: 'UPDATING' }, 'prod').status).toBe('warn');
  });

  it('passes TTL only when it is on the TVM attribute', () => {
    expect(judgeTimeToLive('t', { status: 'ENABLED', attribute: TTL_ATTRIBUTE }).status).toBe('ok');
    expect(judgeTimeToLive('t', { status: 'DISABLED', attribute: undefined })).toMatchObject({
      status: 'fail',
      fix: `aws dynamodb update-time-to-live --table-name t --time-to-live-specification Enabled=true,AttributeName=${TTL_ATTRIBUTE}`,
    });
    expect(judgeTimeToLive('t', { status: 'ENABLED', attribute: 'ttl' })).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('on ttl, not expiresAt'),
    });
    expect(judgeTimeToLive('t', { status: 'ENABLING', attribute: TTL_ATTRIBUTE }).status).toBe(
      'warn',
    );
  });
});

describe('doctor: a chained role', () => {
  const tagged = load({
    mappings: [mapping('reader', { sessionTags: { tenant: '{{claims.tenant}}' } })],
  });
  const plain = load({ mappings: [mapping('plain')] });

  it('passes the policy iam role-template writes', () => {
    const { role, needs } = roleOf(tagged);
    expect(judgeTrust(role, needs, facts(trust()), CONTEXT)).toMatchObject({
      status: 'ok',
      detail: `allows ${TVM} sts:AssumeRole, sts:SetSourceIdentity, sts:TagSession`,
    });
  });

  it('fails without sts:TagSession when the mapping sets tags, and not otherwise', () => {
    // Prepare
    const policy = facts(trust({ actions: ['sts:SetSourceIdentity'] }));

    // Act
    const withTags = judgeTrust(roleOf(tagged).role, roleOf(tagged).needs, policy, CONTEXT);
    const withoutTags = judgeTrust(roleOf(plain).role, roleOf(plain).needs, policy, CONTEXT);

    // Assess
    expect(withTags).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(
        'sts:TagSession is not allowed (mapping reader: its sessionTags)',
      ),
      fix: expect.stringContaining('iam role-template --mapping reader --tvm-role-arn'),
    });
    expect(withoutTags.status).toBe('ok');
  });

  it('needs sts:TagSession for a mapping an identity pool reaches, guests included', () => {
    // Prepare
    const config = load({
      providers: [OIDC, { id: 'shop-guests', type: 'guest' }],
      identityPools: [
        { id: POOL, providers: [{ provider: 'mobile' }], guests: { provider: 'shop-guests' } },
      ],
      mappings: [mapping('guest', { provider: 'shop-guests' })],
    });
    const { role, needs } = roleOf(config);

    // Act
    const result = judgeTrust(
      role,
      needs,
      facts(trust({ actions: ['sts:SetSourceIdentity'] })),
      CONTEXT,
    );

    // Assess
    expect(result.detail).toContain(`identity pool ${POOL} (tag cognito-identity-id)`);
    expect(result.status).toBe('fail');
  });

  it('fails without sts:SetSourceIdentity: every vend sets one', () => {
    const { role, needs } = roleOf(plain);
    expect(
      judgeTrust(role, needs, facts(trust({ actions: ['sts:TagSession'] })), CONTEXT).detail,
    ).toContain(
      'sts:SetSourceIdentity is not allowed (mapping plain: every vend sets a SourceIdentity)',
    );
  });

  it('fails a policy that trusts another role, and names a deleted role left as its unique id', () => {
    // Prepare
    const { role, needs } = roleOf(plain);
    const deleted = [
      { Effect: 'Allow', Principal: { AWS: 'AROAEXAMPLEID1234567' }, Action: 'sts:*' },
    ];

    // Act
    const result = judgeTrust(role, needs, facts(deleted), CONTEXT);

    // Assess
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('sts:AssumeRole is not allowed');
    expect(result.detail).toContain(
      'unique id IAM writes when the principal it trusted was deleted',
    );
  });

  it('fails when a Deny cancels the Allow, and says to narrow it', () => {
    const { role, needs } = roleOf(plain);
    const denied = [
      ...trust(),
      { Sid: 'Lock', Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' },
    ];
    expect(judgeTrust(role, needs, facts(denied), CONTEXT)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('sts:AssumeRole is denied by Lock'),
      fix: expect.stringMatching(/^narrow the Deny statement/),
    });
  });

  it('warns, never passes, on a policy it cannot judge or read', () => {
    // Prepare
    const { role, needs } = roleOf(plain);
    const conditional = trust().map((s) => ({
      ...s,
      Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    }));

    // Act + Assess
    expect(judgeTrust(role, needs, facts(conditional), CONTEXT)).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('a condition on aws:SourceIp'),
    });
    expect(
      judgeTrust(role, needs, { ...facts([]), trustPolicy: '%7Bbroken' }, CONTEXT).status,
    ).toBe('warn');
    expect(judgeTrust(role, needs, facts(trust()), { ...CONTEXT, tvm: undefined })).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining('--tvm-role-arn'),
    });
  });

  it('checks MaxSessionDuration against the longest mapping of the role', () => {
    // Prepare
    const config = load({
      providers: [
        OIDC,
        {
          id: 'corp',
          type: 'saml',
          mode: 'native',
          entityId: 'https://idp',
          ssoUrl: 'https://idp/sso',
          certificates: [IDP_CERT],
          spEntityId: 'https://tvm/sp',
        },
      ],
      mappings: [
        mapping('short', {
          durationSeconds: 900,
          roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/shared`,
        }),
        mapping('long', {
          provider: 'corp',
          durationSeconds: 7200,
          roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/shared`,
        }),
      ],
    });
    const { role, needs } = roleOf(config);

    // Act + Assess
    expect(judgeMaxSession(role, needs, facts([], { maxSessionDuration: 3600 }))).toMatchObject({
      status: 'fail',
      detail: '3600 s is shorter than the 7200 s of mapping long: its vends fail',
      fix: "aws iam update-role --role-name shared --max-session-duration 7200 (or shorten the mapping's durationSeconds)",
    });
    expect(judgeMaxSession(role, needs, facts([], { maxSessionDuration: 7200 })).status).toBe('ok');
  });

  it('fails a chained role outside the role path, and ignores the path of native roles', () => {
    // Prepare
    const config = load({
      mappings: [mapping('outside', { roleArn: `arn:aws:iam::${ACCOUNT}:role/apps/outside` })],
    });
    const { role, needs } = roleOf(config);

    // Act + Assess
    expect(judgePath(role, needs, 'tvm/')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('/apps/ is outside arn:aws:iam::*:role/tvm/*'),
    });
    expect(judgePath(role, needs, 'apps/')?.status).toBe('ok');
    expect(judgePath(role, needs, '')?.status).toBe('ok');
    expect(
      judgePath(
        role,
        [{ ...(needs[0] as (typeof needs)[0]), vend: 'assume-role-with-saml' }],
        'tvm/',
      ),
    ).toBeUndefined();
  });
});

describe('doctor: the external id', () => {
  const partner = load({ mappings: [mapping('partner', { externalId: 'partner-7f3a' })] });

  it('passes a trust that requires it, and has nothing to say when no mapping sets one', () => {
    const { role, needs } = roleOf(partner);
    expect(
      judgeExternalId(role, needs, facts(trust({ externalId: 'partner-7f3a' })), CONTEXT),
    ).toMatchObject({
      status: 'ok',
    });
    const plain = roleOf(load({ mappings: [mapping('plain')] }));
    expect(judgeExternalId(plain.role, plain.needs, facts(trust()), CONTEXT)).toBeUndefined();
  });

  it('fails a trust that allows AssumeRole without it, never printing it', () => {
    // Act
    const { role, needs } = roleOf(partner);
    const result = judgeExternalId(role, needs, facts(trust()), CONTEXT) as CheckResult;

    // Assess
    expect(result).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('without the externalId of partner'),
    });
    expect(JSON.stringify(result)).not.toContain('partner-7f3a');
  });

  it.each([
    ['StringEqualsIfExists', 'passes when the key is absent'],
    ['StringNotEquals', 'passes when the key is absent'],
    ['StringLike', 'a wildcard takes any value'],
  ])('fails a condition with %s (%s)', (operator) => {
    // Prepare
    const { role, needs } = roleOf(partner);
    const value =
      operator === 'StringLike' ? '*' : operator === 'StringNotEquals' ? 'other' : 'partner-7f3a';
    const statements = trust();
    Object.assign(statements[0] as object, {
      Condition: { [operator]: { 'sts:ExternalId': value } },
    });

    // Act + Assess
    expect(judgeExternalId(role, needs, facts(statements), CONTEXT)?.status).toBe('fail');
  });

  it('warns when another mapping of the role has none, so it cannot be required', () => {
    // Prepare
    const shared = `arn:aws:iam::${ACCOUNT}:role/tvm/shared`;
    const config = load({
      mappings: [
        mapping('with', { externalId: 'partner-7f3a', roleArn: shared }),
        mapping('without', { priority: 1, roleArn: shared }),
      ],
    });
    const { role, needs } = roleOf(config);

    // Act + Assess
    expect(judgeExternalId(role, needs, facts(trust()), CONTEXT)).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('with set an externalId but without on the same role do not'),
    });
  });

  it('defers to the trust line when even the right id is refused, and warns on what it cannot judge', () => {
    const { role, needs } = roleOf(partner);
    expect(
      judgeExternalId(role, needs, facts(trust({ externalId: 'another' })), CONTEXT),
    ).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('see the trust policy line'),
    });
    const unsure = trust();
    Object.assign(unsure[0] as object, {
      Condition: { 'ForAnyValue:StringEquals': { 'sts:ExternalId': 'partner-7f3a' } },
    });
    expect(judgeExternalId(role, needs, facts(unsure), CONTEXT)?.status).toBe('warn');
  });
});

describe('doctor: a SAML native role', () => {
  const config = load({
    providers: [
      OIDC,
      {
        id: 'corp',
        type: 'saml',
        mode: 'native',
        entityId: 'https://idp',
        ssoUrl: 'https://idp/sso',
        certificates: [IDP_CERT],
        spEntityId: 'https://tvm/sp',
      },
    ],
    mappings: [mapping('admin', { provider: 'corp', durationSeconds: 7200 })],
  });
  const saml = (
    action: unknown,
    principal: unknown = { Federated: `arn:aws:iam::${ACCOUNT}:saml-provider/corp` },
  ) => [
    {
      Effect: 'Allow',
      Principal: principal,
      Action: action,
      Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
    },
  ];

  it('passes AssumeRoleWithSAML by an IAM SAML provider, even without a TVM role', () => {
    const { role, needs } = roleOf(config);
    expect(
      judgeTrust(role, needs, facts(saml('sts:AssumeRoleWithSAML')), {
        ...CONTEXT,
        tvm: undefined,
      }),
    ).toMatchObject({
      status: 'ok',
      detail: 'allows an IAM SAML provider sts:AssumeRoleWithSAML',
    });
  });

  it('fails a native role that trusts the TVM instead of the SAML provider', () => {
    const { role, needs } = roleOf(config);
    expect(judgeTrust(role, needs, facts(trust()), CONTEXT)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(
        'sts:AssumeRoleWithSAML is not allowed (mapping admin (SAML native)',
      ),
    });
    expect(
      judgeTrust(
        role,
        needs,
        facts(saml('sts:AssumeRoleWithSAML', { Federated: 'cognito-identity.amazonaws.com' })),
        CONTEXT,
      ).status,
    ).toBe('fail');
  });
});

describe('doctor: OIDC keys', () => {
  const rsa = { kty: 'RSA', kid: 'a', n: 'x', e: 'AQAB' };

  it('fails an empty JWKS and one without a key for the configured algorithms', () => {
    expect(judgeJwks('oidc x', 'https://x/jwks', { keys: [] }, ['RS256'])).toMatchObject({
      status: 'fail',
      detail: 'https://x/jwks has no keys: every token is refused',
    });
    expect(
      judgeJwks(
        'oidc x',
        'https://x/jwks',
        { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] },
        ['RS256'],
      ).status,
    ).toBe('fail');
    expect(
      judgeJwks('oidc x', 'https://x/jwks', { keys: [{ ...rsa, use: 'enc' }] }, ['RS256']).status,
    ).toBe('fail');
    expect(
      judgeJwks('oidc x', 'https://x/jwks', { keys: [{ ...rsa, alg: 'RS512' }] }, ['RS256']).status,
    ).toBe('fail');
  });

  it('passes when one key fits', () => {
    expect(
      judgeJwks('oidc x', 'https://x/jwks', { keys: [rsa, { kty: 'oct', k: 'x' }] }, [
        'RS256',
        'ES256',
      ]),
    ).toMatchObject({
      status: 'ok',
      detail: '1 of 2 keys at https://x/jwks fit RS256, ES256',
    });
  });
});

describe('doctor: SAML certificates', () => {
  const fix = { expired: 'pin another', soon: 'add the next' };

  it('passes, warns 30 days ahead, fails when expired or not yet valid', () => {
    const at = (iso: string) =>
      judgeCertificate('saml corp certificate', IDP_CERT, new Date(iso), fix);
    expect(at('2030-01-01T00:00:00Z')).toMatchObject({
      status: 'ok',
      subject: 'saml corp certificate CN=idp.corp.example',
    });
    expect(at('2044-12-02T00:00:00Z').status).toBe('ok');
    expect(at('2044-12-02T00:00:01Z')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('in 29 days'),
      fix: 'add the next',
    });
    expect(at('2045-01-01T00:00:00Z')).toMatchObject({
      status: 'fail',
      detail: 'expired on 2045-01-01T00:00:00.000Z',
    });
    expect(at('2024-12-31T00:00:00Z').status).toBe('fail');
    expect(judgeCertificate('s', 'not a certificate', NOW, fix).status).toBe('fail');
  });

  it('reads the certificates of metadataXml, and fails metadata without one', () => {
    // Prepare
    const body = IDP_CERT.replace(/-----[A-Z ]+-----|\s/g, '');
    const metadata = (cert: string) =>
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp"><md:IDPSSODescriptor><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>`;
    const provider = (metadataXml: string) =>
      ({
        id: 'corp',
        type: 'saml',
        entityId: 'https://idp',
        metadataXml,
      }) as unknown as SamlProvider;

    // Act + Assess
    expect(checkSamlCertificates(provider(metadata(body)), NOW).map((c) => c.status)).toEqual([
      'ok',
    ]);
    expect(
      checkSamlCertificates(provider(metadata(body)), new Date('2046-01-01')).map((c) => c.status),
    ).toEqual(['fail']);
    expect(
      checkSamlCertificates({ ...provider(metadata(body)), entityId: 'https://other' }, NOW),
    ).toMatchObject([
      {
        status: 'fail',
        detail: expect.stringContaining('no signing certificate for https://other'),
      },
    ]);
    expect(checkSamlCertificates(provider('<md:EntityDescriptor'), NOW)[0]?.status).toBe('fail');
  });
});

/** A whole stage on fakes: each test breaks one thing. */
function stage(
  overrides: {
    aws?: Partial<DoctorAws>;
    config?: TvmConfig;
    pointer?: boolean;
    load?: () => Promise<ConfigGeneration>;
    fetch?: typeof fetch;
  } = {},
) {
  const config = overrides.config ?? load({ mappings: [mapping('plain')] });
  const calls: string[] = [];
  const aws: DoctorAws = {
    callerIdentity: async () => ({ account: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ops` }),
    describeTable: async () => ({
      status: 'ACTIVE',
      hashKey: 'pk',
      rangeKey: 'sk',
      indexes: ['byAccessKeyId'],
    }),
    describeTimeToLive: async () => ({ status: 'ENABLED', attribute: TTL_ATTRIBUTE }),
    getRole: async (name) => {
      calls.push(`getRole ${name}`);
      return facts(trust(), { arn: `arn:aws:iam::${ACCOUNT}:role/tvm/${name}` });
    },
    getParameter: async (name) => {
      calls.push(`getParameter ${name}`);
      return undefined;
    },
    ...overrides.aws,
  };
  const generation: ConfigGeneration = {
    generation: 7,
    hash: configHash(config),
    createdAt: '2030-05-01T00:00:00Z',
    createdBy: 'ops',
    config,
  };
  const jwks = { keys: [{ kty: 'RSA', kid: 'a', n: 'x', e: 'AQAB' }] };
  const fakeFetch = (async (url: URL | string) => {
    const text = String(url);
    calls.push(`GET ${text}`);
    const body = text.endsWith('/.well-known/openid-configuration')
      ? { issuer: OIDC.issuer, jwks_uri: `${OIDC.issuer}/jwks` }
      : jwks;
    return new Response(JSON.stringify(body), { status: 200 });
  }) as typeof fetch;
  const deps: DoctorDeps = {
    aws,
    fetch: overrides.fetch ?? fakeFetch,
    now: () => NOW,
    store: {
      pointer: async () =>
        overrides.pointer === false
          ? undefined
          : {
              generation: 7,
              hash: generation.hash,
              revision: 1,
              previousGeneration: null,
              updatedAt: '',
              updatedBy: '',
              action: 'apply',
            },
      load: overrides.load ?? (async () => generation),
    },
  };
  const options: DoctorOptions = {
    stage: 'prod',
    table: 'tvm-prod',
    region: 'eu-west-1',
    rolePath: 'tvm/',
    samlKeyParameter: '/tvm/prod/saml-signing-key',
  };
  return { deps, options, calls };
}

const statuses = (checks: CheckResult[]) => checks.map((c) => `${c.check} ${c.status}`);

describe('doctor: the whole run', () => {
  it('passes a healthy stage and derives the TVM role from the caller account', async () => {
    // Prepare
    const { deps, options, calls } = stage();

    // Act
    const report = await runDoctor(deps, options);

    // Assess
    expect(statuses(report.checks)).toEqual([
      'aws.identity ok',
      'table ok',
      'table.ttl ok',
      'config ok',
      'role.exists ok',
      'role.trust ok',
      'role.max-session ok',
      'role.path ok',
      'oidc.discovery ok',
      'oidc.jwks ok',
    ]);
    expect(report.tvmRole).toMatchObject({
      arn: TVM,
      derivation: expect.stringContaining("(the caller's)"),
    });
    expect(report.config).toEqual({ generation: 7, hash: expect.any(String) });
    expect(calls).toEqual(
      [
        'GET https://issuer.example.com/.well-known/openid-configuration',
        'getRole plain',
        'GET https://issuer.example.com/jwks',
      ].sort((a, b) => calls.indexOf(a) - calls.indexOf(b)),
    );
  });

  it('uses --tvm-role-arn, else --account, for the role the trust must name', async () => {
    const { deps, options } = stage();
    const other = `arn:aws:iam::${ACCOUNT}:role/custom-fn-role`;
    const explicit = await runDoctor(deps, { ...options, tvmRoleArn: other });
    expect(explicit.tvmRole).toEqual({ arn: other, derivation: 'from --tvm-role-arn' });
    expect(explicit.checks.find((c) => c.check === 'role.trust')?.status).toBe('fail');
    const byAccount = await runDoctor(deps, { ...options, account: '444455556666' });
    expect(byAccount.tvmRole?.arn).toBe(
      'arn:aws:iam::444455556666:role/tvm-prod-eu-west-1-lambdaRole',
    );
    const noRegion = await runDoctor(deps, { ...options, region: undefined });
    expect(noRegion.tvmRole).toBeUndefined();
    expect(noRegion.checks.find((c) => c.check === 'role.trust')?.status).toBe('warn');
  });

  it('stops at a missing table, and fails an unreachable AWS on every call', async () => {
    const missing = stage({ aws: { describeTable: async () => undefined } });
    expect(statuses((await runDoctor(missing.deps, missing.options)).checks)).toEqual([
      'aws.identity ok',
      'table fail',
    ]);
    const down = () =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }));
    const offline = stage({ aws: { callerIdentity: down, describeTable: down } });
    const report = await runDoctor(offline.deps, offline.options);
    expect(statuses(report.checks)).toEqual(['aws.identity fail', 'table fail']);
    expect(report.checks[1]?.detail).toContain('TimeoutError: connect ECONNREFUSED');
  });

  it("fails a stage without config, a damaged generation, and one invalid under today's rules", async () => {
    // Prepare
    const none = stage({ pointer: false });
    const damaged = stage({
      load: () =>
        Promise.reject(
          new ConfigInvalidError([{ path: 'generation 7', message: 'has no META item' }]),
        ),
    });
    const http = load({
      providers: [{ ...OIDC, issuer: 'https://issuer.example.com' }],
      mappings: [mapping('plain')],
    });
    const outdated = stage({
      config: {
        ...http,
        providers: [
          {
            ...(http.providers[0] as object),
            issuer: 'http://issuer.example.com',
          } as TvmConfig['providers'][0],
        ],
      },
    });

    // Act
    const [a, b, c] = await Promise.all([
      runDoctor(none.deps, none.options),
      runDoctor(damaged.deps, damaged.options),
      runDoctor(outdated.deps, outdated.options),
    ]);

    // Assess
    expect(a.checks.at(-1)).toMatchObject({
      check: 'config',
      status: 'fail',
      fix: 'npm run tvm -- config apply <file> --stage prod',
    });
    expect(b.checks.at(-1)).toMatchObject({
      check: 'config',
      status: 'fail',
      detail: 'does not load: generation 7 has no META item',
    });
    const config = c.checks.find((check) => check.check === 'config');
    expect(config).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('does not validate for stage prod: providers[0].issuer'),
    });
    // The rest is still checked against what is served.
    expect(c.checks.some((check) => check.check === 'role.trust')).toBe(true);
  });

  it('warns about roles in another account or unreadable, and still checks their path', async () => {
    // Prepare
    const config = load({
      mappings: [
        mapping('remote', { roleArn: 'arn:aws:iam::999988887777:role/apps/remote' }),
        mapping('locked', { priority: 1 }),
      ],
    });
    const denied = Object.assign(new Error('not authorized to perform iam:GetRole'), {
      name: 'AccessDenied',
    });
    const { deps, options, calls } = stage({
      config,
      aws: { getRole: () => Promise.reject(denied) },
    });

    // Act
    const report = await runDoctor(deps, options);

    // Assess
    const roles = report.checks.filter((c) => c.check.startsWith('role.'));
    expect(roles.map((c) => `${c.check} ${c.status} ${c.subject.split(':role/')[1]}`)).toEqual([
      'role.exists warn apps/remote',
      'role.path fail apps/remote path',
      'role.exists warn tvm/locked',
      'role.path ok tvm/locked path',
    ]);
    expect(roles[0]?.detail).toContain(
      'it is in account 999988887777 and these credentials are of 111122223333',
    );
    expect(calls.filter((call) => call.startsWith('getRole'))).toEqual([]);
  });

  it('fails a role IAM does not have, with the command that writes it', async () => {
    const { deps, options } = stage({ aws: { getRole: async () => undefined } });
    const roles = (await runDoctor(deps, options)).checks.filter((c) =>
      c.check.startsWith('role.'),
    );
    expect(roles.map((c) => `${c.check} ${c.status}`)).toEqual([
      'role.exists fail',
      'role.path ok',
    ]);
    expect(roles[0]?.fix).toBe(
      `create it: npm run tvm -- iam role-template --mapping plain --tvm-role-arn ${TVM} --stage prod --format cloudformation`,
    );
  });

  it('fails a role IAM knows under another path', async () => {
    const { deps, options } = stage({
      aws: {
        getRole: async (name) =>
          facts(trust(), { arn: `arn:aws:iam::${ACCOUNT}:role/old/${name}` }),
      },
    });
    const report = await runDoctor(deps, options);
    expect(report.checks.find((c) => c.check === 'role.exists')).toMatchObject({
      status: 'fail',
      fix: `set roleArn: arn:aws:iam::${ACCOUNT}:role/old/plain in mapping plain`,
    });
  });

  it('checks the signing key only when a provider signs, and never prints it', async () => {
    // Prepare
    const signing = load({
      providers: [
        OIDC,
        {
          id: 'corp',
          type: 'saml',
          entityId: 'https://idp',
          ssoUrl: 'https://idp/sso',
          certificates: [IDP_CERT],
          spEntityId: 'https://tvm/sp',
          signAuthnRequests: true,
        },
      ],
      mappings: [mapping('plain')],
    });
    const unsigned = load({
      providers: [
        OIDC,
        {
          id: 'corp',
          type: 'saml',
          entityId: 'https://idp',
          ssoUrl: 'https://idp/sso',
          certificates: [IDP_CERT],
          spEntityId: 'https://tvm/sp',
        },
      ],
      mappings: [mapping('plain')],
    });
    const secret = JSON.stringify({
      privateKey: fixtureText('keys/idp.key'),
      certificate: fixtureText('keys/attacker.crt'),
    });
    const good = JSON.stringify({ privateKey: fixtureText('keys/idp.key'), certificate: IDP_CERT });
    const runWith = async (config: TvmConfig, getParameter: DoctorAws['getParameter']) => {
      const { deps, options, calls } = stage({ config, aws: { getParameter } });
      const report = await runDoctor(deps, options);
      return { key: report.checks.filter((c) => c.check === 'saml.signing-key'), calls, report };
    };

    // Act
    const off = await runWith(unsigned, async () => good);
    const absent = await runWith(signing, async () => undefined);
    const mismatched = await runWith(signing, async () => secret);
    const forbidden = await runWith(signing, () =>
      Promise.reject(Object.assign(new Error('no'), { name: 'AccessDeniedException' })),
    );
    const usable = await runWith(signing, async () => good);

    // Assess
    expect(off.key).toEqual([]);
    expect(absent.key).toMatchObject([
      {
        status: 'fail',
        detail: 'does not exist: signed logins fail closed',
        fix: expect.stringContaining(
          'aws ssm put-parameter --name /tvm/prod/saml-signing-key --type SecureString',
        ),
      },
    ]);
    expect(mismatched.key).toMatchObject([
      {
        status: 'fail',
        detail: 'is unusable: the SAML signing certificate does not match its key',
      },
    ]);
    expect(JSON.stringify(mismatched.report)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(usable.report)).not.toContain('PRIVATE KEY');
    expect(forbidden.key).toMatchObject([
      { status: 'warn', detail: expect.stringContaining('AccessDeniedException') },
    ]);
    expect(usable.key).toMatchObject([
      {
        status: 'ok',
        detail: expect.stringMatching(
          /^readable, the key matches its certificate \(valid until 2045/,
        ),
      },
    ]);
  });

  it('fails an issuer whose discovery names another issuer, or that does not answer', async () => {
    // Prepare
    const lying = (async (url: URL | string) =>
      new Response(
        JSON.stringify(
          String(url).includes('well-known')
            ? { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' }
            : { keys: [] },
        ),
        { status: 200 },
      )) as typeof fetch;
    const down = (async () => new Response('down', { status: 503 })) as typeof fetch;

    // Act
    const [a, b] = await Promise.all(
      [lying, down].map((fetch) => {
        const { deps, options } = stage({ fetch });
        return runDoctor(deps, options);
      }),
    );

    // Assess
    expect(a?.checks.filter((c) => c.check.startsWith('oidc'))).toMatchObject([
      {
        check: 'oidc.discovery',
        status: 'fail',
        detail: expect.stringContaining(
          'discovery issuer "https://evil.example" is not the configured issuer',
        ),
      },
    ]);
    expect(b?.checks.filter((c) => c.check.startsWith('oidc'))).toMatchObject([
      {
        check: 'oidc.discovery',
        status: 'fail',
        detail: expect.stringContaining('answered HTTP 503'),
      },
    ]);
  });

  it('refuses http:// issuers outside the local stage, as the functions do', async () => {
    // Prepare
    const config = load({ mappings: [mapping('plain')] });
    const http = {
      ...config,
      providers: [
        {
          ...(config.providers[0] as object),
          issuer: 'http://127.0.0.1:9400',
          jwksUri: 'http://127.0.0.1:9400/jwks',
        } as TvmConfig['providers'][0],
      ],
    };
    const { deps, options, calls } = stage({ config: http });

    // Act
    const report = await runDoctor(deps, options);

    // Assess
    expect(report.checks.find((c) => c.check === 'oidc.jwks')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('must be https'),
    });
    expect(calls.filter((call) => call.startsWith('GET'))).toEqual([]);
  });
});

describe('doctor: the CLI', () => {
  function cli(overrides: Parameters<typeof stage>[0] = {}) {
    const { deps } = stage(overrides);
    const base: CliDeps = {
      env: { AWS_REGION: 'eu-west-1' },
      readFile: () => {
        throw new Error('doctor reads no file');
      },
      openStore: () => deps.store as never,
      openDoctor: () => ({ aws: deps.aws, fetch: deps.fetch }),
      now: deps.now,
    };
    return async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(
        ['doctor', '--stage', 'prod', ...args],
        { out: (l) => out.push(l), err: (l) => err.push(l), color: false },
        base,
      );
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
  }

  it('prints one line per check and exits 0 when nothing fails', async () => {
    const result = await cli()([]);
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain(`TVM role  ${TVM} (derived:`);
    expect(result.out).toMatch(
      /^ok {4}role arn:aws:iam::111122223333:role\/tvm\/plain trust policy: allows /m,
    );
    expect(result.out.split('\n').at(-1)).toBe('0 failed, 0 warnings, 10 ok');
  });

  it('exits 1 with the fix under each failure, in text and JSON', async () => {
    const run = cli({
      aws: { describeTimeToLive: async () => ({ status: 'DISABLED', attribute: undefined }) },
    });
    const text = await run([]);
    const json = await run(['--format', 'json']);
    expect(text.code).toBe(EXIT.invalid);
    expect(text.out).toMatch(
      /^FAIL {2}table tvm-prod TTL: is DISABLED: .*\n {6}fix: aws dynamodb update-time-to-live --table-name tvm-prod /m,
    );
    expect(json.code).toBe(EXIT.invalid);
    expect(JSON.parse(json.out)).toMatchObject({
      ok: false,
      counts: { fail: 1 },
      tvmRole: { arn: TVM },
    });
  });

  it('refuses --tvm-role-arn with --account, and a malformed role ARN (exit 2 and 1)', async () => {
    const run = cli();
    expect((await run(['--tvm-role-arn', TVM, '--account', ACCOUNT])).code).toBe(EXIT.usage);
    expect((await run(['--tvm-role-arn', 'arn:aws:iam::1:user/x'])).code).toBe(EXIT.invalid);
  });
});

describe('doctor: what serverless.yml declares', () => {
  const serverless = parseDocument(
    readFileSync(resolve(import.meta.dirname, '../../../serverless.yml'), 'utf8'),
  ).toJS({}) as {
    params: { default: { samlSigningKeyParameter: string } };
    resources: {
      Resources: {
        TvmTable: { Properties: { TimeToLiveSpecification: { AttributeName: string } } };
      };
    };
  };

  it('names the signing key parameter and the TTL attribute the doctor checks', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: serverless.yml's own variable syntax
    expect(serverless.params.default.samlSigningKeyParameter.replace('${sls:stage}', 'prod')).toBe(
      defaultSamlKeyParameter('prod'),
    );
    expect(
      serverless.resources.Resources.TvmTable.Properties.TimeToLiveSpecification.AttributeName,
    ).toBe(TTL_ATTRIBUTE);
  });
});
