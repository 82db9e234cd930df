import { createHash } from 'node:crypto';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin, ConfigGeneration } from '#shared/config/store.ts';
import { requireValidConfig } from '#shared/config/validate.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { IDP_CERTIFICATE } from '../../fixtures/config/documents.ts';

const sts = mockClient(STSClient);

const document = {
  version: 1,
  providers: [
    {
      id: 'mobile',
      type: 'oidc',
      issuer: 'https://issuer.example.com',
      audiences: ['app'],
      claims: {
        tenant: { type: 'string', maxLength: 36 },
        groups: { type: 'list' },
        email: { type: 'string' },
      },
      ambiguity: 'deny',
    },
    { id: 'web', type: 'oidc', issuer: 'https://web.example.com', audiences: ['web'] },
  ],
  mappings: [
    {
      id: 'tenant-data',
      provider: 'mobile',
      priority: 100,
      match: {
        all: [
          { claim: 'tenant', op: 'exists' },
          { claim: 'groups', op: 'contains', value: 'admins' },
          { not: { claim: 'email', op: 'glob', value: '*@contractor.example' } },
        ],
      },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-data',
      sessionTags: { tenant: '{{claims.tenant}}', app: 'mobile' },
      transitiveTagKeys: ['tenant'],
      sessionPolicy: {
        Version: '2012-10-17',
        Statement: {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::data/{{claims.tenant}}/*',
        },
      },
      roleSessionName: 'app-{{claims.sub}}',
      durationSeconds: 1800,
    },
    {
      id: 'readers',
      provider: 'mobile',
      priority: 10,
      match: { claim: 'groups', op: 'containsAny', value: ['readers', 'admins'] },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/readers',
    },
    {
      id: 'tie-a',
      provider: 'mobile',
      priority: 500,
      match: { claim: 'groups', op: 'contains', value: 'auditors' },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/tie-a',
    },
    {
      id: 'tie-b',
      provider: 'mobile',
      priority: 500,
      match: { claim: 'groups', op: 'containsAny', value: ['audit', 'auditors'] },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/tie-b',
    },
    {
      id: 'web-users',
      provider: 'web',
      priority: 1,
      match: { claim: 'sub', op: 'exists' },
      roleArn: 'arn:aws:iam::123456789012:role/tvm/web',
    },
  ],
};

const admin = {
  sub: 'alice',
  tenant: 'acme',
  groups: ['users', 'admins', 'ops'],
  email: 'alice@example.com',
};

const files: Record<string, string> = {
  'tvm.config.yaml': stringify(document),
  'broken.yaml': 'version: 1\nproviders: []\nmappings:\n  - id: Bad\n',
  'alice.json': JSON.stringify(admin),
  'number.json': '42',
  'native.yaml': stringify({
    version: 1,
    providers: [
      {
        id: 'corp',
        type: 'saml',
        entityId: 'https://idp.corp.example/saml',
        ssoUrl: 'https://idp.corp.example/sso',
        certificates: [IDP_CERTIFICATE],
        spEntityId: 'urn:amazon:webservices',
        mode: 'native',
      },
    ],
    mappings: [
      {
        id: 'corp-admin',
        provider: 'corp',
        priority: 1,
        match: { claim: 'sub', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
      },
    ],
  }),
};

/** A store that serves one generation and records that nothing else was called. */
function storeWith(config: TvmConfig | undefined): ConfigAdmin {
  const generation: ConfigGeneration | undefined =
    config === undefined
      ? undefined
      : {
          generation: 7,
          hash: 'ab'.repeat(32),
          createdAt: '2026-11-28T00:00:00Z',
          createdBy: 'ci',
          config,
        };
  const refuse = () => Promise.reject(new Error('explain must only read the current generation'));
  return {
    current: () => Promise.resolve(generation),
    pointer: refuse,
    load: refuse,
    apply: refuse,
    rollback: refuse,
    history: refuse,
  };
}

function deps(store?: ConfigAdmin): CliDeps {
  return {
    env: {},
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    openStore: () => {
      if (store === undefined) throw new Error('the store must not be opened with --config');
      return store;
    },
  };
}

async function explain(args: string[], store?: ConfigAdmin) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['explain', ...args],
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps(store),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const offline = (claims: unknown, ...more: string[]) =>
  explain([
    '--provider',
    'mobile',
    '--config',
    'tvm.config.yaml',
    '--claims',
    typeof claims === 'string' ? claims : JSON.stringify(claims),
    ...more,
  ]);

describe('tvm explain', () => {
  beforeEach(() => {
    sts.reset();
  });

  it('shows every mapping with its condition trace, the chosen one and what it renders', async () => {
    // Act
    const result = await offline(admin);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Config   tvm.config.yaml');
    expect(result.out).toContain('Mappings: 4 mappings, 2 matched');
    expect(result.out).toContain('✓ tenant-data  priority 100  matched  ← chosen');
    expect(result.out).toContain('✓ tenant exists: true (string)');
    expect(result.out).toContain('✓ groups contains "admins": true (element 2 of 3)');
    expect(result.out).toContain(
      '✗ email glob "*@contractor.example": false (claim is "alice@example.com")',
    );
    expect(result.out).toContain('✓ readers  priority 10  matched');
    expect(result.out).toContain('✗ groups contains "auditors": false (no element of 3 matches)');
    expect(result.out).not.toContain('web-users');
    expect(result.out).toContain('Chosen: tenant-data, highest priority 100');
    expect(result.out).toContain('role             arn:aws:iam::123456789012:role/tvm/tenant-data');
    expect(result.out).toMatch(/session name {5}app-alice-[0-9a-f]{16}\n/);
    // The value to search CloudTrail for: the sub tagged with 8 hex of sha256(issuer).
    const tag = createHash('sha256').update('https://issuer.example.com').digest('hex').slice(0, 8);
    expect(result.out).toContain(`source identity  alice@${tag}\n`);
    expect(result.out).toContain('duration         1,800 s (mapping 1,800 s, none requested)');
    expect(result.out).toContain('session tags     tenant = "acme" (transitive)');
    expect(result.out).toContain('app = "mobile"');
    expect(result.out).toMatch(
      /session policy {3}1\d\d \/ 2,048 characters \(minified\), sha256 [0-9a-f]{64}/,
    );
    expect(result.out).toContain('      "Resource": "arn:aws:s3:::data/acme/*"');
    expect(result.out).toContain('No STS call was made.');
    expect(sts.calls()).toHaveLength(0);
  });

  it('reads claims from a file, and honours --mapping and --duration', async () => {
    // Act
    const result = await offline('alice.json', '--mapping', 'readers', '--duration', '1200');

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Chosen: readers, requested by id (priority 10)');
    expect(result.out).toContain('duration         1,200 s (mapping 3,600 s, requested 1,200 s)');
    expect(result.out).toContain('session policy   (none)');
  });

  it('explains against the current stored generation without --config', async () => {
    // Prepare
    const config = requireValidConfig(document, { stage: 'dev' });

    // Act
    const result = await explain(
      ['--provider', 'mobile', '--claims', JSON.stringify(admin), '--table', 'tvm-test'],
      storeWith(config),
    );

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Config   generation 7 of tvm-test (sha256 abababababab)');
    expect(result.out).toContain('Chosen: tenant-data');
  });

  it('says that a native SAML provider sends neither the session name nor the source identity', async () => {
    // Act
    const result = await explain([
      '--provider',
      'corp',
      '--config',
      'native.yaml',
      '--claims',
      JSON.stringify({ sub: 'alice@corp.example' }),
    ]);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain(
      'native mode: the session name and source identity above are not sent; the IdP sets them',
    );
  });

  describe('denials exit 1 and say why', () => {
    it('no mapping matched', async () => {
      // Act
      const result = await offline({ sub: 'bob', groups: ['guests'] });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain('✗ tenant exists: false (claim missing)');
      expect(result.out).toContain(
        'Denied: 403 no_matching_mapping: no mapping of provider "mobile" matched these claims',
      );
    });

    it('a tie under ambiguity deny', async () => {
      // Act
      const result = await offline({ sub: 'carol', groups: ['auditors'] });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Denied: 403 ambiguous_mapping: 2 mappings tie at the highest priority (tie-a, tie-b) and provider "mobile" has ambiguity "deny"; name one with --mapping',
      );
    });

    it('a requested mapping that did not match', async () => {
      // Act
      const result = await offline(admin, '--mapping', 'web-users');

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Denied: 403 mapping_not_allowed: mapping "web-users" is not among the matched mappings of provider "mobile" (matched: tenant-data, readers)',
      );
    });

    it('a claim value that would widen the policy, naming the field and the bad characters', async () => {
      // Act
      const result = await offline({ ...admin, tenant: '../*' });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Denied: 403 claim_value_rejected: mapping "tenant-data", sessionTags.tenant: {{claims.tenant}} contains "/", "*";',
      );
      expect(sts.calls()).toHaveLength(0);
    });

    it('a claim over its maxLength: the real length and the limit', async () => {
      // Act
      const result = await offline({ ...admin, tenant: 't'.repeat(40) });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Denied: 403 claim_value_rejected: mapping "tenant-data", sessionTags.tenant: {{claims.tenant}} is 40 characters; its maxLength is 36',
      );
      expect(result.out).not.toContain('is ? characters');
    });

    it('a sub over the default limit in an explicit template: length and limit, too', async () => {
      // Act: roleSessionName is `app-{{claims.sub}}`; undeclared, sub has the default 128.
      const result = await offline({ ...admin, sub: 's'.repeat(200) });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Denied: 403 claim_value_rejected: mapping "tenant-data", roleSessionName: {{claims.sub}} is 200 characters; its maxLength is 128',
      );
    });

    it('a duration below the STS minimum is an invalid request', async () => {
      // Act
      const result = await offline(admin, '--duration', '60');

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'Invalid request: 400 durationSeconds must be an integer of at least 900',
      );
    });
  });

  describe('bad input exits 1', () => {
    it.each([
      ['claims that are not JSON', '{"sub": ', /--claims is not valid JSON/],
      ['claims that are a JSON array', '["sub"]', /--claims must be a JSON object/],
      ['a claims file holding a number', 'number.json', /--claims must be a JSON object/],
      ['a claims file that does not exist', 'missing.json', /cannot read missing.json/],
    ])('%s', async (_name, claims, message) => {
      // Act
      const result = await offline(claims);

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toMatch(message);
    });

    it('an unknown provider', async () => {
      // Act
      const result = await explain([
        '--provider',
        'nope',
        '--config',
        'tvm.config.yaml',
        '--claims',
        '{}',
      ]);

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toContain('unknown provider "nope"; providers: "mobile", "web"');
    });

    it('an invalid --config file lists its problems', async () => {
      // Act
      const result = await explain([
        '--provider',
        'mobile',
        '--config',
        'broken.yaml',
        '--claims',
        '{}',
      ]);

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toContain('broken.yaml');
    });

    it('no generation applied yet', async () => {
      // Act
      const result = await explain(
        ['--provider', 'mobile', '--claims', '{}'],
        storeWith(undefined),
      );

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toContain('no config has been applied to tvm-dev');
    });

    it('a malformed declared claim refuses, and the trace says which', async () => {
      // Act
      const result = await offline({ ...admin, groups: ['admins', 1] });

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.out).toContain(
        'groups contains "admins": malformed (malformed: list with a number element; refuses the decision)',
      );
      expect(result.out).toContain(
        'Denied: 403 claim_malformed: claim "groups" is declared as list but the token carries list with a number element; a malformed claim refuses the whole decision',
      );
    });
  });

  it.each([
    [['explain'], /"explain" needs --provider/],
    [['explain', '--provider', 'mobile'], /"explain" needs --claims/],
    [
      ['explain', 'extra', '--provider', 'mobile', '--claims', '{}'],
      /"explain" takes no arguments/,
    ],
    [
      ['explain', '--provider', 'mobile', '--claims', '{}', '--duration', '9x'],
      /--duration must be a positive integer/,
    ],
    [['explain', '--provider', 'mobile', '--claims', '{}', '--dry-run'], /does not take --dry-run/],
    [['config', 'validate', 'a.yaml', '--claims', '{}'], /does not take --claims/],
  ])('usage errors exit 2: %j', async (args, message) => {
    // Act
    const out: string[] = [];
    const code = await runCli(
      args,
      { out: () => {}, err: (line) => out.push(line), color: false },
      deps(),
    );

    // Assess
    expect(code).toBe(EXIT.usage);
    expect(out.join('\n')).toMatch(message);
  });

  it('a store that cannot be reached exits 3', async () => {
    // Prepare
    const down = storeWith(undefined);
    down.current = () =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }));

    // Act
    const result = await explain(['--provider', 'mobile', '--claims', '{}'], down);

    // Assess
    expect(result.code).toBe(EXIT.upstream);
  });
});
