import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { LOCAL_REGION, venvBin } from '../../scripts/local/aws-stack.ts';
import { applyConfig } from '../support/local-config.ts';
import { freshTable } from '../support/local-table.ts';

/**
 * `iam role-template` against the current generation in moto, and its output where it goes:
 * IAM's CreateRole (moto), an AssumeRole with tags, SourceIdentity and ExternalId by the trusted
 * role, and cfn-lint, which checks trust policies against IAM's schema. moto accepts any trust
 * policy and evaluates none (a principal the policy does not trust may assume the role too), so
 * the shape is checked by cfn-lint here and by hand in the unit tests.
 */

const ACCOUNT = '123456789012';

describe('iam role-template against moto and cfn-lint', () => {
  let table: Awaited<ReturnType<typeof freshTable>>;
  let iam: IAMClient;
  const run = randomUUID().slice(0, 8);
  const tvmRoleName = `tvm-local-fn-${run}`;
  const tvmRoleArn = `arn:aws:iam::${ACCOUNT}:role/${tvmRoleName}`;
  const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/tvm/${name}-${run}`;

  async function tvm(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['iam', 'role-template', ...args],
      { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
      defaultDeps({ ...process.env, ...table.env }),
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    table = await freshTable('tvm-roles');
    iam = new IAMClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await applyConfig(table.documentClient, table.tableName, {
      version: 1,
      providers: [
        {
          id: 'mobile',
          type: 'oidc',
          issuer: 'https://issuer.example.com',
          audiences: ['app'],
          claims: { tenant: { type: 'string', maxLength: 32 } },
        },
      ],
      mappings: [
        {
          id: 'tenant-reader',
          provider: 'mobile',
          priority: 100,
          match: { claim: 'tenant', op: 'exists' },
          roleArn: roleArn('tenant-reader'),
          sessionTags: { tenant: '{{claims.tenant}}' },
          externalId: 'partner-7f3a',
        },
        {
          id: 'everyone',
          provider: 'mobile',
          priority: 1,
          match: { claim: 'sub', op: 'exists' },
          roleArn: roleArn('everyone'),
          durationSeconds: 900,
        },
      ],
    });
    // The TVM's function role, assumable by moto's default credentials.
    await iam.send(
      new CreateRoleCommand({
        RoleName: tvmRoleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );
  });

  it('IAM creates each role from the json output, and the trusted role assumes it with tags, SourceIdentity and ExternalId', async () => {
    // Prepare
    const result = await tvm(['--all', '--tvm-role-arn', tvmRoleArn, '--format', 'json']);
    expect(result.code).toBe(EXIT.ok);
    const templates = JSON.parse(result.out) as {
      roleName: string;
      path: string;
      maxSessionDuration: number;
      trustPolicy: unknown;
    }[];

    // Act
    for (const template of templates) {
      await iam.send(
        new CreateRoleCommand({
          RoleName: template.roleName,
          Path: template.path,
          MaxSessionDuration: template.maxSessionDuration,
          AssumeRolePolicyDocument: JSON.stringify(template.trustPolicy),
        }),
      );
    }
    const stored = await iam.send(new GetRoleCommand({ RoleName: `tenant-reader-${run}` }));
    const root = new STSClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const asTvm = await root.send(
      new AssumeRoleCommand({ RoleArn: tvmRoleArn, RoleSessionName: 'tvm-function' }),
    );
    const tvmSts = new STSClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: asTvm.Credentials?.AccessKeyId ?? '',
        secretAccessKey: asTvm.Credentials?.SecretAccessKey ?? '',
        sessionToken: asTvm.Credentials?.SessionToken ?? '',
      },
    });
    const vended = await tvmSts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn('tenant-reader'),
        RoleSessionName: 'alice-0123456789abcdef',
        SourceIdentity: 'alice@1a2b3c4d',
        Tags: [{ Key: 'tenant', Value: 'acme' }],
        ExternalId: 'partner-7f3a',
        DurationSeconds: 3600,
      }),
    );
    const caller = await new STSClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: vended.Credentials?.AccessKeyId ?? '',
        secretAccessKey: vended.Credentials?.SecretAccessKey ?? '',
        sessionToken: vended.Credentials?.SessionToken ?? '',
      },
    }).send(new GetCallerIdentityCommand({}));

    // Assess
    expect(templates.map((t) => [t.roleName, t.path, t.maxSessionDuration])).toEqual([
      [`everyone-${run}`, '/tvm/', 3600],
      [`tenant-reader-${run}`, '/tvm/', 3600],
    ]);
    expect(stored.Role?.Path).toBe('/tvm/');
    expect(stored.Role?.MaxSessionDuration).toBe(3600);
    expect(JSON.parse(decodeURIComponent(stored.Role?.AssumeRolePolicyDocument ?? '{}'))).toEqual(
      templates[1]?.trustPolicy,
    );
    expect(caller.Arn).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/tenant-reader-${run}/alice-0123456789abcdef`,
    );
    expect(result.err).not.toContain('warning:');
  });

  it('cfn-lint passes the CloudFormation output, and fails it once a trust statement is broken', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'tvm-role-template-'));
    const lint = (text: string) => {
      const file = join(dir, `${randomUUID()}.yaml`);
      writeFileSync(file, `AWSTemplateFormatVersion: "2010-09-09"\n${text}\n`);
      return spawnSync(venvBin('cfn-lint'), [file], { encoding: 'utf8' });
    };
    const result = await tvm(['--all', '--tvm-role-arn', tvmRoleArn, '--format', 'cloudformation']);

    // Act
    const clean = lint(result.out);
    // The control: a trust policy IAM would refuse (a wrong Effect, a Resource) must fail.
    const broken = lint(
      result.out
        .replace('Effect: Allow', 'Effect: Allowed')
        .replace('Action: sts:AssumeRole', 'Action: sts:AssumeRole\n            Resource: "*"'),
    );

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(clean.stdout + clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    expect(broken.status).not.toBe(0);
    expect(broken.stdout).toContain('E3530');
  });
});
