import { describe, expect, it } from 'vitest';
import type { TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { DenyEntry, DenyList } from '#shared/guard/deny-list.ts';
import {
  mergeRevocations,
  planRevocation,
  RevocationError,
  type RolePolicies,
  revocationCutoff,
  revokePrincipal,
  revokeStatement,
} from '#shared/guard/revoke.ts';
import { type CliDeps, EXIT, parseUntil, runCli } from '../../../scripts/cli/main.ts';

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

function config(mappings: Record<string, unknown>[]): TvmConfig {
  const result = validateConfig(
    {
      version: 1,
      providers: [
        { id: 'mobile', type: 'oidc', issuer: 'https://issuer.example.com', audiences: ['app'] },
      ],
      mappings: mappings.map((mapping, index) => ({
        provider: 'mobile',
        priority: 100 - index,
        match: { claim: 'sub', op: 'exists' },
        ...mapping,
      })),
    },
    { stage: 'prod' },
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
      'mobile',
      'alice',
      [
        // Same role name under another path: IAM names are unique per account, so one target.
        { roleArn: 'arn:aws:iam::123456789012:role/old/reader', sourceIdentity: 'alice-old' },
        { roleArn: 'not-an-arn', sourceIdentity: 'alice' },
      ],
    );

    expect(
      plan.targets.map((target) => [target.role.roleName, [...target.sourceIdentities.keys()]]),
    ).toEqual([
      ['reader', ['alice', 'alice-old']],
      ['writer', ['app-alice']],
    ]);
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
      { Version: '2012-10-17', Statement: [revokeStatement('alice', '2030-06-01T10:01:05Z')] },
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
