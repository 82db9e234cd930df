import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ConfigAdmin } from '#shared/config/store.ts';
import { requireValidConfig } from '#shared/config/validate.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';

/**
 * `iam role-template` through runCli, offline: the config comes from a file (or a fake current
 * generation), and no AWS client may be opened.
 */

const document = {
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
      id: 'reader',
      provider: 'mobile',
      priority: 100,
      match: { claim: 'tenant', op: 'exists' },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
      sessionTags: { tenant: '{{claims.tenant}}' },
      externalId: 'ext-1',
    },
    {
      id: 'plain',
      provider: 'mobile',
      priority: 10,
      match: { claim: 'sub', op: 'exists' },
      roleArn: 'arn:aws:iam::123456789012:role/legacy/plain',
      durationSeconds: 900,
    },
  ],
};

const TVM_ROLE = 'arn:aws:iam::111122223333:role/tvm-prod-eu-west-1-lambdaRole';

function deps(): CliDeps {
  const refuse = (what: string) => () => {
    throw new Error(`iam role-template must not ${what}`);
  };
  return {
    env: {},
    readFile: (path) => {
      if (path !== 'tvm.config.yaml') throw new Error(`ENOENT: ${path}`);
      return stringify(document);
    },
    openStore: () =>
      ({
        current: async () => ({
          generation: 7,
          hash: 'a'.repeat(64),
          createdAt: '2030-01-01T00:00:00.000Z',
          createdBy: 'test',
          config: requireValidConfig(document, { stage: 'prod' }),
        }),
      }) as unknown as ConfigAdmin,
    openDenyList: refuse('open the deny list'),
    openVendHistory: refuse('read audit records'),
    openIam: refuse('call IAM'),
    openAuditLog: refuse('read audit records'),
  };
}

async function tvm(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['iam', 'role-template', ...args],
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps(),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const FILE = ['--config', 'tvm.config.yaml'];

describe('tvm iam role-template', () => {
  it('derives the function role from --account, --stage and --region, and prints policy and CloudFormation', async () => {
    // Act
    const result = await tvm([
      '--mapping',
      'reader',
      '--account',
      '111122223333',
      '--stage',
      'prod',
      '--region',
      'eu-west-1',
      ...FILE,
    ]);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.err).toBe('');
    expect(result.out).toContain(`TVM role  ${TVM_ROLE} (derived: the role osls names`);
    expect(result.out).toContain(
      'Role arn:aws:iam::123456789012:role/tvm/reader  (MaxSessionDuration 3600; name reader, path /tvm/)',
    );
    expect(result.out).toContain(
      'mapping reader (provider mobile): sts:AssumeRole, sts:SetSourceIdentity (every vend sets a SourceIdentity), sts:TagSession (its sessionTags), the sts:ExternalId condition; 3600 s',
    );
    const json = result.out.slice(result.out.indexOf('{'), result.out.indexOf('\nCloudFormation:'));
    expect(JSON.parse(json)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TvmAssumeRole',
          Effect: 'Allow',
          Principal: { AWS: TVM_ROLE },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': 'ext-1' } },
        },
        {
          Sid: 'TvmSessionAttributes',
          Effect: 'Allow',
          Principal: { AWS: TVM_ROLE },
          Action: ['sts:SetSourceIdentity', 'sts:TagSession'],
        },
      ],
    });
    const yaml = parse(result.out.slice(result.out.indexOf('\nCloudFormation:') + 16), {
      version: '1.1',
    });
    expect(yaml.Resources.TvmRoleReader.Properties.AssumeRolePolicyDocument).toEqual(
      JSON.parse(json),
    );
  });

  it('--all --format json: every role on stdout as JSON, notes and warnings on stderr', async () => {
    // Act
    const result = await tvm(['--all', '--tvm-role-arn', TVM_ROLE, '--format', 'json', ...FILE]);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    const templates = JSON.parse(result.out) as { roleArn: string; maxSessionDuration: number }[];
    expect(templates.map((t) => [t.roleArn, t.maxSessionDuration])).toEqual([
      ['arn:aws:iam::123456789012:role/legacy/plain', 3600],
      ['arn:aws:iam::123456789012:role/tvm/reader', 3600],
    ]);
    expect(result.err).toContain(`TVM role  ${TVM_ROLE} (from --tvm-role-arn)`);
    expect(result.err).toContain(
      "warning: arn:aws:iam::123456789012:role/legacy/plain: the role's path /legacy/ is outside /tvm/",
    );
  });

  it('--format cloudformation reads the current generation and prints one Resources block', async () => {
    // Act
    const result = await tvm([
      '--all',
      '--tvm-role-arn',
      TVM_ROLE,
      '--role-path',
      '',
      '--format',
      'cloudformation',
    ]);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(Object.keys(parse(result.out, { version: '1.1' }).Resources)).toEqual([
      'TvmRolePlain',
      'TvmRoleReader',
    ]);
    expect(result.err).toContain('Config    generation 7 of tvm-dev');
    // An empty rolePath lets the function role assume any role: nothing to flag.
    expect(result.err).not.toContain('warning:');
  });

  it.each([
    [['--account', '111122223333', '--region', 'eu-west-1'], 'needs --mapping <id> or --all'],
    [['--all', '--mapping', 'reader', '--tvm-role-arn', TVM_ROLE], 'needs --mapping <id> or --all'],
    [['--all'], 'needs --tvm-role-arn <arn>, or --account <id> and a region'],
    [
      ['--all', '--account', '111122223333'],
      'needs --tvm-role-arn <arn>, or --account <id> and a region',
    ],
    [['--all', '--tvm-role-arn', TVM_ROLE, '--account', '111122223333'], 'not both'],
  ])('refuses %j as a usage error (exit 2)', async (args, message) => {
    // Act
    const result = await tvm([...args, ...FILE]);

    // Assess
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain(message);
  });

  it.each([
    [
      ['--tvm-role-arn', 'arn:aws:iam::111122223333:user/tvm'],
      '--tvm-role-arn must be an IAM role ARN',
    ],
    [['--account', '1111'], '--account must be 12 digits'],
    [['--tvm-role-arn', TVM_ROLE, '--role-path', '/tvm'], '--role-path must look like'],
    [
      ['--tvm-role-arn', TVM_ROLE, '--saml-provider-arn', 'corp'],
      '--saml-provider-arn must be an IAM SAML provider ARN',
    ],
  ])('refuses %j (exit 1)', async (args, message) => {
    // Act
    const result = await tvm(['--all', ...args, ...FILE]);

    // Assess
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toContain(message);
  });

  it('names the known mappings when --mapping is not one (exit 1)', async () => {
    // Act
    const result = await tvm(['--mapping', 'nope', '--tvm-role-arn', TVM_ROLE, ...FILE]);

    // Assess
    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toContain(
      'mapping "nope" is not in tvm.config.yaml; its mappings are: reader, plain',
    );
  });
});
