import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  mergeRevocations,
  planRevocation,
  RevocationError,
  type RolePolicies,
  revocationCutoff,
  revokePrincipal,
  revokeStatement,
  type VendedSession,
} from '#shared/admin/revoke.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { DenyEntry, DenyList } from '#shared/guard/deny-list.ts';
import { parseUntil } from '../../../scripts/cli/commands/deny.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { CERTIFICATE_VALID_AT, IDP_CERTIFICATE } from '../../fixtures/config/documents.ts';

/** No test here may reach AWS: opening any store fails the test. */
const offline: CliDeps = {
  env: {},
  readFile: () => {
    throw new Error('no files here');
  },
  openStore: () => {
    throw new Error('the store must not be opened');
  },
  openDenyList: () => {
    throw new Error('the deny list must not be opened');
  },
  openVendHistory: () => {
    throw new Error('the audit records must not be read');
  },
  openIam: () => {
    throw new Error('IAM must not be called');
  },
  openLoginSessions: () => {
    throw new Error('the login sessions must not be opened');
  },
  now: () => new Date('2030-06-01T10:00:00.000Z'),
};

async function run(args: string[], deps: CliDeps = offline) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { out: (l) => out.push(l), err: (l) => err.push(l), color: false },
    deps,
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const ISSUER = 'https://issuer.example.com';
const MOBILE = {
  id: 'mobile',
  type: 'oidc',
  issuer: ISSUER,
  audiences: ['app'],
  claims: { email: { type: 'string' } },
};
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** The default SourceIdentity, written out by hand: `<sub>@<8 hex of sha256(issuer)>`. */
const defaultSi = (sub: string, issuer = ISSUER) => `${sub}@${sha256(issuer).slice(0, 8)}`;
/** A SAML provider in native mode whose IdP is `entityId`. */
const nativeSaml = (id: string, entityId = 'https://idp.corp.example/saml') => ({
  id,
  type: 'saml',
  entityId,
  ssoUrl: 'https://idp.corp.example/sso',
  certificates: [IDP_CERTIFICATE],
  spEntityId: `https://tvm.example.com/v1/saml/${id}/metadata`,
  mode: 'native',
});

function config(
  mappings: Record<string, unknown>[],
  providers: Record<string, unknown>[] = [MOBILE],
): TvmConfig {
  const result = validateConfig(
    {
      version: 1,
      providers,
      mappings: mappings.map((mapping, index) => ({
        provider: 'mobile',
        priority: 100 - index,
        match: { claim: 'sub', op: 'exists' },
        ...mapping,
      })),
    },
    { stage: 'prod', now: CERTIFICATE_VALID_AT },
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

describe('deny and revoke arguments', () => {
  it.each([
    [['deny'], /unknown command "deny"/],
    [['deny', 'block'], /unknown command "deny block"/],
    [['deny', 'add', '--subject', 'alice'], /"deny add" needs --provider <id>/],
    [['deny', 'add', '--provider', 'mobile'], /"deny add" needs --subject <sub>/],
    [['deny', 'remove', '--provider', 'mobile'], /"deny remove" needs --subject <sub>/],
    [['deny', 'list'], /"deny list" needs --provider <id>/],
    [['deny', 'list', '--provider', 'mobile', '--subject', 'a'], /does not take --subject/],
    [['deny', 'remove', '--provider', 'm', '--subject', 'a', '--until', '2h'], /--until/],
    [['deny', 'add', 'alice'], /"deny add" takes no arguments/],
    [['revoke', '--provider', 'mobile'], /"revoke" needs --subject <sub>/],
    [['revoke', '--provider', 'm', '--subject', 'a', '--until', '2h'], /does not take --until/],
    [['revoke', '--provider', 'm', '--subject', 'a', '--iam-profile', ''], /needs a profile/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const result = await run(args);

    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toMatch(message);
  });

  it.each([
    [['--until', 'yesterday']],
    [['--until', '2030-06-01T09:00:00Z']],
    [['--subject', 'a\u0000b']],
    [['--subject', 'x'.repeat(256)]],
    [['--reason', 'r'.repeat(1025)]],
  ])('deny add with %j is invalid input (exit 1) before any AWS call', async (extra) => {
    const result = await run(['deny', 'add', '--provider', 'mobile', '--subject', 'a', ...extra]);

    expect(result.code).toBe(EXIT.invalid);
  });

  it('revoke with no config applied is invalid input and writes nothing', async () => {
    const store = { current: async () => undefined } as unknown as ConfigAdmin;

    const result = await run(['revoke', '--provider', 'mobile', '--subject', 'alice'], {
      ...offline,
      openStore: () => store,
    });

    expect(result.code).toBe(EXIT.invalid);
    expect(result.err).toContain('no config has been applied');
  });
});

describe('parseUntil', () => {
  const now = new Date('2030-06-01T10:00:00.000Z');

  it.each([
    ['30m', '2030-06-01T10:30:00.000Z'],
    ['2h', '2030-06-01T12:00:00.000Z'],
    ['7d', '2030-06-08T10:00:00.000Z'],
    ['2w', '2030-06-15T10:00:00.000Z'],
    ['90s', '2030-06-01T10:01:30.000Z'],
    ['2030-06-02', '2030-06-02T00:00:00.000Z'],
    ['2030-06-01T12:00Z', '2030-06-01T12:00:00.000Z'],
    ['2030-06-01T14:00:00+02:00', '2030-06-01T12:00:00.000Z'],
    ['2032-02-29T00:00:00.5Z', '2032-02-29T00:00:00.500Z'],
  ])('reads %s', (text, expected) => {
    expect(parseUntil(text, now).toISOString()).toBe(expected);
  });

  it.each([
    '0h',
    '1.5h',
    '2 h',
    '2030-06-01T12:00:00', // no zone: local time would be a guess
    '2031-02-29T00:00:00Z', // not a leap year; Date.parse would roll it to March 1
    '2030-06-01T24:00:00Z',
    '2030-13-01',
    '2030-06-01T10:00:00.000Z', // now is not in the future
    '2030-05-31',
  ])('refuses %s', (text) => {
    expect(() => parseUntil(text, now)).toThrow(
      expect.objectContaining({
        code: 'ERR_BAD_REQUEST',
        detail: expect.stringMatching(/--until/),
      }),
    );
  });
});

describe('mergeRevocations', () => {
  const cutoff = '2030-06-01T10:01:00Z';
  const mine = revokeStatement('alice', cutoff);

  it('refuses to overwrite a document it cannot read', () => {
    expect(() => mergeRevocations('{"nope":1}', [mine], { roleName: 'r' })).toThrow(
      RevocationError,
    );
    expect(() => mergeRevocations('not json', [mine], { roleName: 'r' })).toThrow(
      /role r: the existing tvm-revoked-sessions policy is not a policy document/,
    );
  });

  it('keeps a single-statement document, its Id, and a foreign statement; replaces by Sid', () => {
    const foreign = { Sid: 'Manual', Effect: 'Deny', Action: 's3:*', Resource: '*' };
    const stale = revokeStatement('alice', '2030-01-01T00:00:00Z');
    const existing = JSON.stringify({
      Version: '2012-10-17',
      Id: 'keep-me',
      Statement: [stale, foreign, stale],
    });

    const merged = mergeRevocations(existing, [mine], { roleName: 'r' });

    expect(JSON.parse(merged.document)).toEqual({
      Version: '2012-10-17',
      Id: 'keep-me',
      Statement: [mine, foreign],
    });
    expect(merged.changed).toBe(true);
    expect(mergeRevocations(merged.document, [mine], { roleName: 'r' }).changed).toBe(false);
  });

  it('prunes only its own statements older than the bound', () => {
    const old = revokeStatement('bob', '2030-05-30T00:00:00Z');
    const recent = revokeStatement('carol', '2030-06-01T09:00:00Z');
    const manualOld = {
      Sid: 'Manual',
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': '2020-01-01T00:00:00Z' } },
    };
    const existing = JSON.stringify({ Version: '2012-10-17', Statement: [old, recent, manualOld] });

    const merged = mergeRevocations(existing, [mine], {
      roleName: 'r',
      pruneBefore: new Date('2030-05-31T22:00:00Z'),
    });

    expect(JSON.parse(merged.document).Statement).toEqual([recent, manualOld, mine]);
    expect(merged.pruned).toBe(1);
  });
});

describe('planRevocation', () => {
  it('uses the runtime rendering of the SourceIdentity and groups roles by account and name', () => {
    const plan = planRevocation(
      config([
        { id: 'plain', roleArn: 'arn:aws:iam::123456789012:role/tvm/reader' },
        {
          id: 'prefixed',
          roleArn: 'arn:aws:iam::123456789012:role/tvm/writer',
          sourceIdentity: 'app-{{claims.sub}}',
        },
        {
          id: 'by-email',
          roleArn: 'arn:aws:iam::123456789012:role/tvm/mail',
          sourceIdentity: '{{claims.email}}',
        },
      ]),
      ISSUER,
      'alice',
      [
        // Same role name under another path: IAM names are unique per account, so one target.
        {
          roleArn: 'arn:aws:iam::123456789012:role/old/reader',
          sourceIdentity: 'alice-old',
          namedByAssertion: false,
        },
        { roleArn: 'not-an-arn', sourceIdentity: 'alice', namedByAssertion: false },
      ],
    );

    expect(
      plan.targets.map((target) => [target.role.roleName, [...target.sourceIdentities.keys()]]),
    ).toEqual([
      ['reader', ['alice-old', defaultSi('alice')]],
      ['writer', ['app-alice']],
    ]);
    expect(plan.unknowable).toEqual([]);
    expect(plan.underivable).toEqual([
      { mappingId: 'by-email', roleArn: 'arn:aws:iam::123456789012:role/tvm/mail' },
    ]);
    expect(plan.unparsable).toEqual(['not-an-arn']);
  });
});

describe('revokePrincipal', () => {
  it('writes the deny entry before taking the cut-off and reading the audit records', async () => {
    // Prepare
    const events: string[] = [];
    let clock = new Date('2030-06-01T10:00:00.000Z');
    const denyList: DenyList = {
      add: async (entry: DenyEntry) => {
        events.push(`deny at ${entry.at}`);
        clock = new Date('2030-06-01T10:00:05.000Z'); // the write took a while
      },
      find: async () => undefined,
      remove: async () => false,
      list: async () => [],
    };
    const written: string[] = [];
    const policies: RolePolicies = {
      caller: async () => ({ partition: 'aws', account: '123456789012' }),
      get: async () => undefined,
      put: async (_role, _name, document) => {
        written.push(document);
      },
    };

    // Act
    const result = await revokePrincipal(
      { provider: 'mobile', subject: 'alice', by: 'ops', dryRun: false, prune: false },
      {
        config: config([{ id: 'plain', roleArn: 'arn:aws:iam::123456789012:role/tvm/reader' }]),
        denyList,
        history: {
          vendedSessions: async () => {
            events.push('history');
            return [];
          },
        },
        policies,
        now: () => clock,
      },
    );

    // Assess
    expect(events).toEqual(['deny at 2030-06-01T10:00:00.000Z', 'history']);
    expect(result.issuedBefore).toBe(revocationCutoff(new Date('2030-06-01T10:00:05.000Z')));
    expect(result.issuedBefore).toBe('2030-06-01T10:01:05Z');
    expect(written.map((document) => JSON.parse(document))).toEqual([
      {
        Version: '2012-10-17',
        Statement: [revokeStatement(defaultSi('alice'), '2030-06-01T10:01:05Z')],
      },
    ]);
  });

  it('marks every role failed when the IAM caller is unknown, after denying', async () => {
    const added: DenyEntry[] = [];
    const result = await revokePrincipal(
      { provider: 'mobile', subject: 'alice', by: 'ops', dryRun: false, prune: false },
      {
        config: config([{ id: 'plain', roleArn: 'arn:aws:iam::123456789012:role/tvm/reader' }]),
        denyList: {
          add: async (entry) => {
            added.push(entry);
          },
          find: async () => undefined,
          remove: async () => false,
          list: async () => [],
        },
        history: { vendedSessions: async () => [] },
        policies: {
          caller: async () => {
            throw Object.assign(new Error('no credentials'), { name: 'CredentialsProviderError' });
          },
          get: async () => undefined,
          put: async () => undefined,
        },
        now: () => new Date('2030-06-01T10:00:00.000Z'),
      },
    );

    expect(added).toHaveLength(1);
    expect(result.roles.map((role) => [role.status, role.reason])).toEqual([
      [
        'failed',
        'cannot tell which account the IAM credentials are for (CredentialsProviderError: no credentials)',
      ],
    ]);
  });
});

describe('revoke covers the principal, not one provider entry', () => {
  const role = (name: string) => `arn:aws:iam::123456789012:role/tvm/${name}`;
  const cutoff = '2030-06-01T10:01:00Z';
  /** Written out by hand: what a native session without a SourceIdentity is revoked by. */
  const byUserid = (name: string) => ({
    Sid: `TvmRevoke${sha256(`aws:userid\u0000${name}`).slice(0, 16)}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringLike: { 'aws:userid': `*:${name}` },
      DateLessThan: { 'aws:TokenIssueTime': cutoff },
    },
  });
  const bySourceIdentity = (value: string) => ({
    Sid: `TvmRevoke${sha256(value).slice(0, 16)}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:SourceIdentity': value },
      DateLessThan: { 'aws:TokenIssueTime': cutoff },
    },
  });

  /** revokePrincipal with in-memory fakes; returns what was written per role and denied. */
  async function revoke(
    provider: string,
    subject: string,
    setup: { config: TvmConfig; vended?: VendedSession[] },
  ) {
    const written = new Map<string, unknown>();
    const denied: DenyEntry[] = [];
    const historyCalls: unknown[][] = [];
    const result = await revokePrincipal(
      { provider, subject, by: 'ops', dryRun: false, prune: false },
      {
        config: setup.config,
        denyList: {
          add: async (entry) => {
            denied.push(entry);
          },
          find: async () => undefined,
          remove: async () => false,
          list: async () => [],
        },
        history: {
          vendedSessions: async (...args) => {
            historyCalls.push(args);
            return setup.vended ?? [];
          },
        },
        policies: {
          caller: async () => ({ partition: 'aws', account: '123456789012' }),
          get: async () => undefined,
          put: async (roleName, _name, document) => {
            written.set(roleName, JSON.parse(document).Statement);
          },
        },
        now: () => new Date('2030-06-01T10:00:00.000Z'),
      },
    );
    return { result, written, denied, historyCalls };
  }

  it('plans the mappings of every provider entry sharing the issuer, and no other issuer', async () => {
    // Prepare: mobile and mobile2 are two app clients of one issuer; other is another issuer.
    const shared = config(
      [
        { id: 'm1', roleArn: role('reader') },
        { id: 'm2', provider: 'mobile2', roleArn: role('writer') },
        { id: 'm3', provider: 'other', roleArn: role('elsewhere') },
      ],
      [
        MOBILE,
        { ...MOBILE, id: 'mobile2', audiences: ['app2'] },
        { ...MOBILE, id: 'other', issuer: 'https://other.example.com' },
      ],
    );

    // Act: the operator names mobile2; the principal is the issuer's alice.
    const { result, written, denied, historyCalls } = await revoke('mobile2', 'alice', {
      config: shared,
    });

    // Assess
    expect(denied).toEqual([
      expect.objectContaining({ issuer: ISSUER, provider: 'mobile2', subject: 'alice' }),
    ]);
    expect(result.providers).toEqual(['mobile', 'mobile2']);
    // The audit history is read for the principal and the legacy partitions of both entries.
    expect(historyCalls).toEqual([[ISSUER, 'alice', ['mobile', 'mobile2']]]);
    expect(Object.fromEntries(written)).toEqual({
      reader: [bySourceIdentity(defaultSi('alice'))],
      writer: [bySourceIdentity(defaultSi('alice'))],
    });
  });

  it('revokes native sessions by the session name or SourceIdentity their assertion set', async () => {
    // Prepare: the IdP named one session alice.smith (no SourceIdentity) and one with
    // SourceIdentity alice-si; both mappings' roles get both (the IdP names alice alike).
    const native = config(
      [
        { id: 'corp-admin', provider: 'corp', roleArn: role('admin') },
        { id: 'corp-reader', provider: 'corp', roleArn: role('corp-reader') },
      ],
      [nativeSaml('corp')],
    );
    const vended: VendedSession[] = [
      {
        provider: 'corp',
        roleArn: role('admin'),
        roleSessionName: 'alice.smith',
        namedByAssertion: true,
      },
      {
        provider: 'corp',
        roleArn: role('corp-reader'),
        roleSessionName: 'alice.smith',
        sourceIdentity: 'alice-si',
        namedByAssertion: true,
      },
    ];

    // Act
    const { result, written } = await revoke('corp', 'alice@corp.example', {
      config: native,
      vended,
    });

    // Assess: never the TVM's would-be SourceIdentity, which no native session carries.
    expect(result.plan.unknowable).toEqual([]);
    expect(Object.fromEntries(written)).toEqual({
      admin: [bySourceIdentity('alice-si'), byUserid('alice.smith')],
      'corp-reader': [bySourceIdentity('alice-si'), byUserid('alice.smith')],
    });
  });

  it('refuses to plan a native provider that no audit record explains (old records do not count)', async () => {
    // Prepare: a record from before native logins stored what the session carries: its
    // SourceIdentity is the TVM's would-be value, which the session never had.
    const native = config(
      [{ id: 'corp-admin', provider: 'corp', roleArn: role('admin') }],
      [nativeSaml('corp')],
    );
    const legacy: VendedSession = {
      provider: 'corp',
      roleArn: role('admin'),
      sourceIdentity: 'alice',
      namedByAssertion: false,
    };

    // Act
    const { result, denied } = await revoke('corp', 'alice', { config: native, vended: [legacy] });

    // Assess
    expect(result.plan.unknowable).toEqual([{ providerId: 'corp' }]);
    expect(denied).toHaveLength(1);
  });

  it('the CLI says the native sessions were not revoked and exits 3, with the deny entry written', async () => {
    // Prepare
    const native = config(
      [{ id: 'corp-admin', provider: 'corp', roleArn: role('admin') }],
      [nativeSaml('corp')],
    );
    const denied: DenyEntry[] = [];
    const deps: CliDeps = {
      ...offline,
      openStore: () =>
        ({
          current: async () => ({
            generation: 7,
            hash: 'h',
            createdAt: '',
            createdBy: '',
            config: native,
          }),
        }) as unknown as ConfigAdmin,
      openDenyList: () => ({
        add: async (entry) => {
          denied.push(entry);
        },
        find: async () => undefined,
        remove: async () => false,
        list: async () => [],
      }),
      openVendHistory: () => ({ vendedSessions: async () => [] }),
      openLoginSessions: () => ({
        endPrincipalSessions: async () => 0,
        countPrincipalSessions: async () => 0,
      }),
      openIam: () => ({
        caller: async () => ({ partition: 'aws', account: '123456789012' }),
        get: async () => undefined,
        put: async () => {
          throw new Error('nothing is known to write');
        },
      }),
    };

    // Act
    const result = await run(['revoke', '--provider', 'corp', '--subject', 'alice'], deps);

    // Assess
    expect(result.code).toBe(EXIT.upstream);
    expect(result.err).toContain('✗ not revoked: provider corp is in SAML native mode');
    expect(result.err).toContain('the deny entry is in place');
    expect(result.err).toContain('the sessions of 1 native-mode provider(s) not covered');
    expect(result.out).not.toContain('dry run: nothing was changed');
    expect(denied).toEqual([
      expect.objectContaining({ issuer: 'https://idp.corp.example/saml', subject: 'alice' }),
    ]);
  });
});
