import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateRoleCommand,
  IAMClient,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { CheckResult } from '#shared/admin/doctor.ts';
import { roleTemplates, tvmFunctionRoleArn } from '#shared/admin/role-template.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { LOCAL_REGION, PROJECT_ROOT } from '../../scripts/local/aws-stack.ts';
import { ensureDemoRoles, LOCAL_TVM_ROLE_ARN } from '../../scripts/local/demo-roles.ts';
import { applyConfig } from '../support/local-config.ts';
import { freshTable } from '../support/local-table.ts';
import { startRecordingServer, startTestIssuer, TEST_AUDIENCE } from '../support/oidc-issuer.ts';
import { fixtureText } from '../support/saml-config.ts';

/**
 * `tvm doctor` against moto, the test OIDC issuer and dead ports: every check first sees a broken
 * stage (roles with bad trust policies, a too short MaxSessionDuration, a path outside tvm/, no
 * ExternalId condition, a missing role, a dead issuer, an empty JWKS, a certificate 10 days from
 * expiry, no signing key) and names each fault with its fix; then the same stage repaired with
 * the trust policies `iam role-template` prints, on which it passes. moto stores the policies and
 * evaluates none: the doctor's own evaluator judges them.
 */

const ACCOUNT = '123456789012';
const run = randomUUID().slice(0, 8);
const TVM_ROLE = tvmFunctionRoleArn({ account: ACCOUNT, stage: 'local', region: LOCAL_REGION });
const SAML_PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:saml-provider/corp-${run}`;
const roleArn = (name: string, path = 'tvm/') =>
  `arn:aws:iam::${ACCOUNT}:role/${path}${name}-${run}`;
const KEY_PARAMETER = `/tvm/doctor-${run}/saml-signing-key`;

const awsConfig = (endpoint: string) => ({
  endpoint,
  region: LOCAL_REGION,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

async function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A self-signed RSA certificate that expires in `days` days, from the system's openssl. */
function certificateExpiringIn(days: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'tvm-doctor-cert-'));
  execFileSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      String(days),
      '-subj',
      '/CN=near-expiry-idp',
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(join(dir, 'cert.pem'), 'utf8');
}

/** A trust policy document like `iam role-template` prints, minus what `drop` names. */
function trustPolicy(
  options: { drop?: string[]; externalId?: string; deny?: boolean; principal?: string } = {},
) {
  const drop = new Set(options.drop ?? []);
  const actions = ['sts:SetSourceIdentity', 'sts:TagSession'].filter((a) => !drop.has(a));
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TvmAssumeRole',
        Effect: 'Allow',
        Principal: { AWS: options.principal ?? TVM_ROLE },
        Action: 'sts:AssumeRole',
        ...(options.externalId === undefined
          ? {}
          : { Condition: { StringEquals: { 'sts:ExternalId': options.externalId } } }),
      },
      {
        Sid: 'TvmSessionAttributes',
        Effect: 'Allow',
        Principal: { AWS: TVM_ROLE },
        Action: actions,
      },
      ...(options.deny
        ? [{ Sid: 'NoChaining', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:*' }]
        : []),
    ],
  });
}

describe('tvm doctor against moto', () => {
  let table: Awaited<ReturnType<typeof freshTable>>;
  let iam: IAMClient;
  let ssm: SSMClient;
  let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
  let emptyJwks: Awaited<ReturnType<typeof startRecordingServer>>;
  let deadIssuer: string;
  let broken: Record<string, unknown>;
  let fixed: Record<string, unknown>;

  async function doctor(args: string[] = [], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['doctor', '--saml-key-parameter', KEY_PARAMETER, ...args],
      { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
      defaultDeps({ ...process.env, ...table.env, ...env }),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function doctorJson(args: string[] = [], env: Record<string, string> = {}) {
    const result = await doctor(['--format', 'json', ...args], env);
    const report = JSON.parse(result.out) as { ok: boolean; checks: CheckResult[] };
    const find = (check: string, subject: string) =>
      report.checks.filter((c) => c.check === check && c.subject.includes(subject));
    return { ...result, report, find };
  }

  function config(options: { fixedStage: boolean }): Record<string, unknown> {
    const { fixedStage } = options;
    return {
      version: 1,
      providers: [
        {
          id: 'mobile',
          type: 'oidc',
          issuer: issuer.issuer,
          audiences: [TEST_AUDIENCE],
          claims: { tenant: { type: 'string', maxLength: 32 } },
        },
        {
          id: 'partner',
          type: 'oidc',
          issuer: fixedStage ? issuer.issuer : deadIssuer,
          audiences: ['partner-app'],
        },
        {
          id: 'keyless',
          type: 'oidc',
          issuer: issuer.issuer,
          jwksUri: fixedStage ? issuer.jwksUri : emptyJwks.url,
          audiences: ['keyless-app'],
        },
        {
          id: 'corp',
          type: 'saml',
          entityId: 'https://idp.corp.example/saml',
          ssoUrl: 'https://idp.corp.example/sso',
          certificates: [fixedStage ? fixtureText('keys/idp.crt') : certificateExpiringIn(10)],
          spEntityId: 'https://tvm.test.example/v1/saml/corp/metadata',
          signAuthnRequests: true,
          attributeMap: { groups: 'groups' },
          claims: { groups: { type: 'list' } },
        },
        {
          id: 'corp-native',
          type: 'saml',
          mode: 'native',
          entityId: 'https://idp.native.example/saml',
          ssoUrl: 'https://idp.native.example/sso',
          certificates: [fixtureText('keys/idp.crt')],
          spEntityId: 'https://tvm.test.example/v1/saml/corp-native/metadata',
          attributeMap: { groups: 'groups' },
          claims: { groups: { type: 'list' } },
        },
      ],
      identityPools: [
        {
          id: 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab',
          providers: [{ provider: 'mobile' }],
          mappings: ['pooled'],
        },
      ],
      mappings: [
        {
          id: 'tagged',
          provider: 'mobile',
          priority: 100,
          match: { claim: 'tenant', op: 'exists' },
          roleArn: roleArn('tagged'),
          sessionTags: { tenant: '{{claims.tenant}}' },
          durationSeconds: 900,
        },
        {
          id: 'pooled',
          provider: 'mobile',
          priority: 90,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('pooled'),
        },
        {
          id: 'plain',
          provider: 'mobile',
          priority: 80,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('plain'),
        },
        {
          id: 'guarded',
          provider: 'mobile',
          priority: 70,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('guarded'),
        },
        {
          id: 'partner',
          provider: 'partner',
          priority: 60,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('partner'),
          externalId: `partner-${run}`,
        },
        {
          id: 'elsewhere',
          provider: 'mobile',
          priority: 50,
          match: { claim: 'sub', op: 'exists' },
          roleArn: fixedStage ? roleArn('elsewhere') : roleArn('outside', 'other/'),
        },
        {
          id: 'absent',
          provider: 'keyless',
          priority: 40,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('absent'),
        },
        {
          id: 'corp-reader',
          provider: 'corp',
          priority: 30,
          match: { claim: 'groups', op: 'contains', value: 'readers' },
          roleArn: roleArn('corp-reader'),
        },
        {
          id: 'native-admin',
          provider: 'corp-native',
          priority: 20,
          match: { claim: 'groups', op: 'contains', value: 'admins' },
          roleArn: roleArn('native-admin'),
          durationSeconds: 7200,
        },
      ],
    };
  }

  beforeAll(async () => {
    table = await freshTable('tvm-doctor');
    iam = new IAMClient(awsConfig(table.endpoint));
    ssm = new SSMClient(awsConfig(table.endpoint));
    issuer = await startTestIssuer();
    emptyJwks = await startRecordingServer({ keys: [] });
    deadIssuer = `http://127.0.0.1:${await deadPort()}`;
    broken = config({ fixedStage: false });
    fixed = config({ fixedStage: true });
    await applyConfig(table.documentClient, table.tableName, broken);

    // The broken stage: each role misses one thing; `absent-…` is never created.
    const create = (name: string, document: string, extra: { path?: string; max?: number } = {}) =>
      iam.send(
        new CreateRoleCommand({
          RoleName: `${name}-${run}`,
          Path: `/${extra.path ?? 'tvm/'}`,
          AssumeRolePolicyDocument: document,
          ...(extra.max === undefined ? {} : { MaxSessionDuration: extra.max }),
        }),
      );
    await create('tagged', trustPolicy({ drop: ['sts:TagSession'] }));
    await create('pooled', trustPolicy({ drop: ['sts:TagSession'] }));
    await create('plain', trustPolicy({ drop: ['sts:SetSourceIdentity'] }));
    await create('guarded', trustPolicy({ deny: true }));
    await create('partner', trustPolicy());
    await create('outside', trustPolicy(), { path: 'other/' });
    await create('corp-reader', trustPolicy());
    await create(
      'native-admin',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Federated: SAML_PROVIDER_ARN },
            Action: 'sts:AssumeRoleWithSAML',
            Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
          },
        ],
      }),
      { max: 3600 },
    );
  });

  afterAll(async () => {
    await issuer?.stop();
    await emptyJwks?.stop();
    await ssm?.send(new DeleteParameterCommand({ Name: KEY_PARAMETER })).catch(() => {});
  });

  it('names every fault of a broken stage with its fix, and exits 1', async () => {
    // Act
    const text = await doctor();
    const { code, report, find } = await doctorJson();

    // Assess: the text form, one line per check and a fix under each failure
    expect(text.code).toBe(EXIT.invalid);
    expect(text.out).toContain(`TVM role  ${TVM_ROLE} (derived:`);
    expect(text.out).toMatch(
      new RegExp(
        `^FAIL  role ${roleArn('tagged')} trust policy: .*sts:TagSession is not allowed \\(mapping tagged: its sessionTags\\)\\n {6}fix: npm run tvm -- iam role-template --mapping tagged`,
        'm',
      ),
    );
    expect(text.out).toMatch(/^\d+ failed, \d+ warnings?, \d+ ok$/m);

    // Assess: each check, by its JSON record
    expect(code).toBe(EXIT.invalid);
    expect(report.ok).toBe(false);
    const status = (check: string, subject: string) => find(check, subject).map((c) => c.status);
    expect(status('table', table.tableName)).toEqual(['ok']);
    expect(status('table.ttl', table.tableName)).toEqual(['ok']);
    expect(status('config', 'generation 1')).toEqual(['ok']);
    expect(find('role.trust', roleArn('pooled'))[0]?.detail).toContain(
      'sts:TagSession is not allowed (mapping pooled: identity pool eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab (tag cognito-identity-id))',
    );
    expect(find('role.trust', roleArn('plain'))[0]?.detail).toContain(
      'sts:SetSourceIdentity is not allowed (mapping plain: every vend sets a SourceIdentity)',
    );
    expect(find('role.trust', roleArn('guarded'))[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('sts:AssumeRole is denied by NoChaining'),
      fix: expect.stringContaining('narrow the Deny statement'),
    });
    expect(status('role.trust', roleArn('partner'))).toEqual(['ok']);
    expect(find('role.external-id', roleArn('partner'))[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('without the externalId of partner'),
    });
    expect(find('role.external-id', roleArn('partner'))[0]?.detail).not.toContain(`partner-${run}`);
    expect(find('role.path', roleArn('outside', 'other/'))[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('/other/ is outside arn:aws:iam::*:role/tvm/*'),
    });
    expect(find('role.exists', roleArn('absent'))[0]).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('iam role-template --mapping absent'),
    });
    expect(status('role.trust', roleArn('native-admin'))).toEqual(['ok']);
    expect(find('role.max-session', roleArn('native-admin'))[0]).toMatchObject({
      status: 'fail',
      detail: '3600 s is shorter than the 7200 s of mapping native-admin: its vends fail',
    });
    expect(find('oidc.discovery', deadIssuer)[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('ECONNREFUSED'),
    });
    expect(find('oidc.jwks', '(provider keyless)')[0]).toMatchObject({
      status: 'fail',
      detail: `${emptyJwks.url} has no keys: every token is refused`,
    });
    expect(status('oidc.jwks', '(provider mobile)')).toEqual(['ok']);
    expect(find('saml.certificate', 'saml corp certificate')[0]).toMatchObject({
      status: 'warn',
      subject: 'saml corp certificate CN=near-expiry-idp',
      detail: expect.stringMatching(/in (9|10) days$/),
    });
    expect(find('saml.signing-key', KEY_PARAMETER)[0]).toMatchObject({
      status: 'fail',
      detail: 'does not exist: signed logins fail closed',
    });
  });

  it('refuses a signing key whose certificate is not its key, never printing either', async () => {
    // Prepare: a real key with the wrong certificate
    const value = JSON.stringify({
      privateKey: fixtureText('keys/idp.key'),
      certificate: fixtureText('keys/attacker.crt'),
    });
    await ssm.send(
      new PutParameterCommand({
        Name: KEY_PARAMETER,
        Type: 'SecureString',
        Value: value,
        Overwrite: true,
      }),
    );

    // Act
    const { out, find } = await doctorJson();

    // Assess
    expect(find('saml.signing-key', KEY_PARAMETER)[0]).toMatchObject({
      status: 'fail',
      detail: 'is unusable: the SAML signing certificate does not match its key',
    });
    expect(out).not.toContain('PRIVATE KEY');
  });

  it('finds a table without TTL, and one that does not exist', async () => {
    // Prepare
    const bare = `tvm-doctor-bare-${run}`;
    const dynamodb = new DynamoDBClient(awsConfig(table.endpoint));
    await dynamodb.send(
      new CreateTableCommand({
        TableName: bare,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );

    // Act
    const withoutTtl = await doctorJson(['--table', bare]);
    const missing = await doctorJson(['--table', `tvm-doctor-none-${run}`]);

    // Assess
    expect(withoutTtl.find('table.ttl', bare)[0]).toMatchObject({
      status: 'fail',
      fix: `aws dynamodb update-time-to-live --table-name ${bare} --time-to-live-specification Enabled=true,AttributeName=expiresAt`,
    });
    expect(withoutTtl.find('config', bare)[0]?.status).toBe('fail');
    expect(missing.code).toBe(EXIT.invalid);
    expect(missing.report.checks.map((c) => [c.check, c.status])).toEqual([
      ['aws.identity', 'ok'],
      ['table', 'fail'],
    ]);
  });

  it('passes on the same stage repaired with the policies iam role-template prints (exit 0)', async () => {
    // Prepare: the fixed config, its roles as role-template writes them, a usable signing key
    const applied: TvmConfig = await applyConfig(table.documentClient, table.tableName, fixed);
    const templates = roleTemplates(applied, 'all', {
      tvmRoleArn: TVM_ROLE,
      samlProviderArn: SAML_PROVIDER_ARN,
    });
    for (const template of templates) {
      const document = JSON.stringify(template.trustPolicy);
      const name = template.role.roleName;
      try {
        await iam.send(
          new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: document }),
        );
        await iam.send(
          new UpdateRoleCommand({
            RoleName: name,
            MaxSessionDuration: template.maxSessionDuration,
          }),
        );
      } catch {
        await iam.send(
          new CreateRoleCommand({
            RoleName: name,
            Path: template.role.path,
            AssumeRolePolicyDocument: document,
            MaxSessionDuration: template.maxSessionDuration,
          }),
        );
      }
    }
    await ssm.send(
      new PutParameterCommand({
        Name: KEY_PARAMETER,
        Type: 'SecureString',
        Overwrite: true,
        Value: JSON.stringify({
          privateKey: fixtureText('keys/idp.key'),
          certificate: fixtureText('keys/idp.crt'),
        }),
      }),
    );

    // Act
    const text = await doctor();
    const { code, report } = await doctorJson();

    // Assess
    const notOk = report.checks.filter((check) => check.status !== 'ok');
    expect(notOk).toEqual([]);
    expect(code).toBe(EXIT.ok);
    expect(text.code).toBe(EXIT.ok);
    expect(text.out).not.toContain('fix:');
    expect(text.out).toMatch(/^0 failed, 0 warnings, \d+ ok$/m);
    // Every role got each of its checks: exists, trust, MaxSessionDuration, and path when chained.
    expect(report.checks.filter((check) => check.check === 'role.exists')).toHaveLength(9);
    expect(report.checks.filter((check) => check.check === 'role.external-id')).toHaveLength(1);
    expect(report.checks.filter((check) => check.check === 'role.path')).toHaveLength(8);
  });

  it('judges the trust against --tvm-role-arn when given', async () => {
    // Act
    const { code, find } = await doctorJson([
      '--tvm-role-arn',
      `arn:aws:iam::${ACCOUNT}:role/someone-else`,
    ]);

    // Assess
    expect(code).toBe(EXIT.invalid);
    expect(find('role.trust', roleArn('plain'))[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(
        `for arn:aws:iam::${ACCOUNT}:role/someone-else: sts:AssumeRole is not allowed`,
      ),
    });
    // Native roles do not trust the TVM at all: unaffected.
    expect(find('role.trust', roleArn('native-admin'))[0]?.status).toBe('ok');
  });
});

describe('tvm doctor on the demo stack of npm start', () => {
  it('passes once npm start has created the demo roles, and fails on each before', async () => {
    // Prepare: the demo config as npm start applies it, its issuer on a free port
    const table = await freshTable('tvm-doctor-demo');
    const issuer = await startTestIssuer();
    try {
      const demo = parse(
        readFileSync(join(PROJECT_ROOT, 'scripts/local/demo-config.yaml'), 'utf8'),
      );
      demo.providers[0].issuer = issuer.issuer;
      const config = await applyConfig(table.documentClient, table.tableName, demo);
      const doctor = async () => {
        const out: string[] = [];
        const code = await runCli(
          ['doctor', '--format', 'json'],
          { out: (line) => out.push(line), err: () => {}, color: false },
          defaultDeps({ ...process.env, ...table.env }),
        );
        return { code, report: JSON.parse(out.join('\n')) as { checks: CheckResult[] } };
      };

      // Act
      const before = await doctor();
      const created = await ensureDemoRoles(table.endpoint, config);
      const after = await doctor();

      // Assess
      expect(LOCAL_TVM_ROLE_ARN).toBe(TVM_ROLE);
      expect(created).toEqual([
        'arn:aws:iam::123456789012:role/tvm/demo-admin',
        'arn:aws:iam::123456789012:role/tvm/demo-reader',
      ]);
      expect(before.code).toBe(EXIT.invalid);
      expect(
        before.report.checks.filter((c) => c.status !== 'ok').map((c) => `${c.check} ${c.status}`),
      ).toEqual(['role.exists fail', 'role.exists fail']);
      expect(after.report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
      expect(after.code).toBe(EXIT.ok);
    } finally {
      await issuer.stop();
    }
  });
});
