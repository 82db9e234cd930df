/**
 * `tvm explain --identity-pool`: the login resolved through the pool, the reachable mappings, the
 * refusals in words, and agreement with the real Cognito-compatible route on the same config.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { explainPoolLogin, type PoolLogin } from '#shared/admin/explain-pool.ts';
import type { TvmConfigInput } from '#shared/config/schema.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import {
  type CognitoHarness,
  GUEST_POOL_ID,
  GUEST_ROLE,
  POOL_ID,
  READER_POOL_ID,
  startCognitoHarness,
  stsMock,
} from '../../support/cognito-harness.ts';

const POOL = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
const OPEN_POOL = 'eu-west-1:1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516';
const KEY = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';
const role = (name: string) => `arn:aws:iam::123456789012:role/shop/${name}`;
const IDENTITY = 'eu-west-1:5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';

const document: TvmConfigInput = {
  version: 1,
  providers: [
    {
      id: 'shop',
      type: 'oidc',
      issuer: `https://${KEY}`,
      audiences: ['app'],
      preset: 'cognito',
      claims: { 'custom:tier': { type: 'string' } },
    },
    { id: 'shop-guests', type: 'guest' },
  ],
  mappings: [
    {
      id: 'gold',
      provider: 'shop',
      priority: 20,
      match: { claim: 'custom:tier', op: 'equals', value: 'gold' },
      roleArn: role('Gold'),
    },
    {
      id: 'staff-only',
      provider: 'shop',
      priority: 15,
      match: { claim: 'custom:tier', op: 'equals', value: 'staff' },
      roleArn: role('Staff'),
    },
    {
      id: 'member',
      provider: 'shop',
      priority: 10,
      match: { claim: 'sub', op: 'exists' },
      roleArn: role('Member'),
      sourceIdentity: 'shop-{{claims.sub}}',
    },
    {
      id: 'guest',
      provider: 'shop-guests',
      priority: 0,
      match: { claim: 'sub', op: 'exists' },
      roleArn: role('Guest'),
    },
  ],
  identityPools: [
    {
      id: POOL,
      providers: [{ provider: 'shop' }],
      guests: { provider: 'shop-guests' },
      mappings: ['gold', 'member', 'guest'],
    },
    { id: OPEN_POOL, providers: [{ provider: 'shop' }] },
  ],
};

const files: Record<string, string> = {
  'tvm.yaml': stringify(document),
  'gold.json': JSON.stringify({ sub: 'alice', 'custom:tier': 'gold' }),
};

function deps(): CliDeps {
  return {
    env: {},
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    openStore: () => {
      throw new Error('the store must not be opened with --config');
    },
  };
}

async function explain(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['explain', '--config', 'tvm.yaml', ...args],
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps(),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tvm explain --identity-pool', () => {
  it('resolves the Logins key to its provider and lists what the pool makes reachable', async () => {
    // Act
    const result = await explain(
      '--identity-pool',
      POOL,
      '--logins-key',
      KEY,
      '--claims',
      'gold.json',
      '--identity-id',
      IDENTITY,
    );
    // Assess
    expect(result.code, result.err).toBe(EXIT.ok);
    expect(result.out).toContain(`Login         Logins key "${KEY}" → provider "shop"`);
    expect(result.out).toContain(
      'Reachable: 2 of 3 mapping(s) of provider "shop" (the pool allows 3 mapping(s))',
    );
    expect(result.out).toContain("✗ staff-only  priority 15  not in the pool's `mappings`");
    expect(result.out).toContain('Chosen: gold, highest priority 20');
    // The route stamps every pool session with the IdentityId.
    expect(result.out).toContain(`session tags     cognito-identity-id = "${IDENTITY}"`);
    expect(result.out).toContain(`source identity  ${IDENTITY.replace(':', '.')}`);
    expect(result.out).toContain(
      `Answer        GetCredentialsForIdentity returns credentials for ${role('Gold')}`,
    );
  });

  it('narrows to the CustomRoleArn, and a mapping keeps its own sourceIdentity template', async () => {
    // Act
    const result = await explain(
      '--identity-pool',
      POOL,
      '--logins-key',
      KEY,
      '--claims',
      'gold.json',
      '--custom-role-arn',
      role('Member'),
    );
    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain(
      `✗ gold  priority 20  role ${role('Gold')} is not the CustomRoleArn`,
    );
    expect(result.out).toContain('Chosen: member, highest priority 10');
    expect(result.out).toContain('source identity  shop-alice');
    expect(result.out).toContain(
      '(no --identity-id: eu-west-1:00000000-0000-4000-8000-000000000000',
    );
  });

  it('explains a guest: the guest provider, its sub is the IdentityId', async () => {
    // Act
    const result = await explain('--identity-pool', POOL, '--guest', '--identity-id', IDENTITY);
    // Assess
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Login         guest (no Logins) → guest provider "shop-guests"');
    expect(result.out).toContain('Chosen: guest, highest priority 0');
    expect(result.out).toContain(`role             ${role('Guest')}`);
  });

  it("refuses a guest's CustomRoleArn of an authenticated mapping, in words", async () => {
    // Act
    const result = await explain(
      '--identity-pool',
      POOL,
      '--guest',
      '--custom-role-arn',
      role('Gold'),
    );
    // Assess
    expect(result.code).toBe(EXIT.invalid);
    expect(result.out).toContain(
      `no mapping of this provider that the pool allows has role ${role('Gold')}; CustomRoleArn never names a role by itself`,
    );
    expect(result.out).toContain(
      'Answer        NotAuthorizedException (audit reason no_matching_mapping)',
    );
  });

  it.each([
    [
      'an unknown pool',
      ['--identity-pool', 'eu-west-1:99999999-0000-4000-8000-000000000000', '--guest'],
      'Refused: ResourceNotFoundException (audit reason unknown_identity_pool): identity pool "eu-west-1:99999999-0000-4000-8000-000000000000" is not in this config',
    ],
    [
      'a Logins key the pool does not accept',
      ['--identity-pool', POOL, '--logins-key', 'accounts.google.com', '--claims', '{"sub":"g"}'],
      `Refused: NotAuthorizedException (audit reason logins_key_not_accepted): identity pool "${POOL}" does not accept the Logins key "accounts.google.com" (it accepts "${KEY}")`,
    ],
    [
      'a guest of a pool without guests',
      ['--identity-pool', OPEN_POOL, '--guest'],
      `Refused: NotAuthorizedException (audit reason unauthenticated_not_allowed): identity pool "${OPEN_POOL}" does not allow guests`,
    ],
  ])('explains the refusal of %s and exits 1', async (_name, args, message) => {
    // Act
    const result = await explain(...args);
    // Assess
    expect(result.code).toBe(EXIT.invalid);
    expect(result.out).toContain(message);
  });

  it.each([
    [
      ['--identity-pool', POOL],
      '--identity-pool needs either --logins-key <key> (with --claims) or --guest',
    ],
    [['--identity-pool', POOL, '--guest', '--logins-key', KEY], 'either --logins-key'],
    [['--identity-pool', POOL, '--guest', '--claims', '{}'], 'a guest has no token and no claims'],
    [['--identity-pool', POOL, '--logins-key', KEY], '--logins-key needs --claims'],
    [['--identity-pool', POOL, '--guest', '--provider', 'shop'], '--provider does not apply'],
    [['--identity-pool', POOL, '--guest', '--mapping', 'gold'], '--custom-role-arn instead'],
    [['--identity-pool', POOL, '--guest', '--identity-id', 'nope'], '--identity-id must be'],
    [['--guest'], '--guest needs --identity-pool'],
    [
      ['--provider', 'shop', '--claims', '{}', '--custom-role-arn', role('Gold')],
      '--custom-role-arn needs --identity-pool',
    ],
    [['--claims', '{}'], '"explain" needs --provider <id>, or --identity-pool'],
    [['--provider', 'shop'], '"explain" needs --claims'],
  ])('usage errors exit 2: %j', async (args, message) => {
    // Act
    const result = await explain(...args);
    // Assess
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain(message);
  });
});

describe('explain agrees with the Cognito-compatible route', () => {
  let harness: CognitoHarness;

  beforeAll(async () => {
    harness = await startCognitoHarness();
  });
  afterAll(async () => {
    await harness.stop();
  });
  beforeEach(() => {
    stsMock.resetHistory();
  });

  /** What the route does for a login: the AssumeRole it sends, or the refusal's name. */
  async function routeAnswer(poolId: string, login: PoolLogin, customRoleArn?: string) {
    const extra = customRoleArn === undefined ? {} : { CustomRoleArn: customRoleArn };
    let identityId: string;
    let logins: Record<string, string> = {};
    if (login.kind === 'guest') {
      identityId = String((await harness.guestId({ poolId })).body.IdentityId);
    } else {
      logins = { [login.loginsKey]: await harness.mint(login.claims as Record<string, unknown>) };
      identityId = String((await harness.getId(logins, poolId)).body.IdentityId);
    }
    const result = await harness.credentials(identityId, logins, extra);
    const [call] = stsMock.commandCalls(AssumeRoleCommand);
    return {
      identityId,
      answer:
        result.status === 200
          ? {
              roleArn: call?.args[0].input.RoleArn,
              sourceIdentity: call?.args[0].input.SourceIdentity,
              tags: call?.args[0].input.Tags,
            }
          : String(result.body.__type),
    };
  }

  function explainAnswer(
    poolId: string,
    login: PoolLogin,
    identityId: string,
    customRoleArn?: string,
  ) {
    const result = explainPoolLogin(harness.config, {
      poolId,
      login,
      identityId,
      ...(customRoleArn === undefined ? {} : { customRoleArn }),
    });
    if (result.kind === 'refused') return result.refusal.exception;
    const { outcome } = result.explanation;
    if (outcome.kind !== 'chosen') return 'NotAuthorizedException';
    return {
      roleArn: outcome.decision.roleArn,
      sourceIdentity: outcome.decision.sourceIdentity,
      tags: outcome.decision.tags,
    };
  }

  const ADMIN = 'arn:aws:iam::123456789012:role/tvm/admin';
  const READER = 'arn:aws:iam::123456789012:role/tvm/reader';
  const cases: [string, string, 'admin' | 'reader' | 'plain' | 'guest', string | undefined][] = [
    ['an admin in the open pool', POOL_ID, 'admin', undefined],
    ["an admin in a pool restricted to 'reader'", READER_POOL_ID, 'admin', undefined],
    ['an admin asking for the reader role', POOL_ID, 'admin', READER],
    ['an admin asking for admin where the pool excludes it', READER_POOL_ID, 'admin', ADMIN],
    [
      'a reader, whose tenant becomes a tag beside the identity tag',
      READER_POOL_ID,
      'plain',
      undefined,
    ],
    ['a guest', GUEST_POOL_ID, 'guest', undefined],
    ['a guest asking for an authenticated role', GUEST_POOL_ID, 'guest', ADMIN],
    ['a guest asking for its own role', GUEST_POOL_ID, 'guest', GUEST_ROLE],
  ];

  it.each(cases)('%s', async (_name, poolId, who, customRoleArn) => {
    // Prepare
    const claims =
      who === 'admin'
        ? { sub: 'alice', tenant: 'acme', groups: ['admins'] }
        : { sub: 'bob', tenant: 'acme' };
    const login: PoolLogin =
      who === 'guest'
        ? { kind: 'guest' }
        : {
            kind: 'logins',
            loginsKey: harness.mobileKey,
            claims: JSON.parse(JSON.stringify(claims)),
          };
    // Act
    const route = await routeAnswer(poolId, login, customRoleArn);
    const explained = explainAnswer(poolId, login, route.identityId, customRoleArn);
    // Assess
    expect(explained).toEqual(route.answer);
  });
});
