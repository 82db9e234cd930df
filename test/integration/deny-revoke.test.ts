import { createHash, randomUUID } from 'node:crypto';
import {
  CreateRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AuditRecord, DynamoAuditSink, subjectHash } from '#shared/audit/audit.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { IDP_CERTIFICATE } from '../fixtures/config/documents.ts';
import { mapping, oidcProvider } from '../support/config-fixtures.ts';
import { freshTable } from '../support/local-table.ts';

/**
 * `deny add|remove|list` and `revoke` through runCli, against moto's DynamoDB and IAM. The
 * expected policy statements are written out here by hand, not built with the code under test.
 */

const ACCOUNT = '123456789012'; // moto's default account, which GetCallerIdentity reports
const POLICY = 'tvm-revoked-sessions';

type Table = Awaited<ReturnType<typeof freshTable>>;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** The issuer of config-fixtures' oidcProvider('mobile'): principals are issuer + subject. */
const ISSUER = 'https://issuer.example.com';

function expectedStatement(sourceIdentity: string, issuedBefore: string) {
  return {
    Sid: `TvmRevoke${sha256(sourceIdentity).slice(0, 16)}`,
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:SourceIdentity': sourceIdentity },
      DateLessThan: { 'aws:TokenIssueTime': issuedBefore },
    },
  };
}

/** Runs the CLI in-process, as `npm run tvm` would with this env, at a fixed time. */
async function tvm(args: string[], table: Table, now: Date) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    { ...defaultDeps({ ...process.env, ...table.env }), now: () => now },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('deny list and revoke against moto', () => {
  let iam: IAMClient;
  let table: Table;
  /** Per test: moto's IAM is shared by every test file, so role names must not collide. */
  let run: string;

  beforeEach(async () => {
    table = await freshTable('tvm-deny');
    iam = new IAMClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    run = randomUUID().slice(0, 8);
  });

  const roleName = (name: string) => `${name}-${run}`;
  const roleArn = (name: string, account = ACCOUNT) =>
    `arn:aws:iam::${account}:role/tvm/${roleName(name)}`;

  async function createRole(name: string) {
    await iam.send(
      new CreateRoleCommand({
        RoleName: roleName(name),
        Path: '/tvm/',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
              Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'],
            },
          ],
        }),
      }),
    );
  }

  async function putPolicy(name: string, policyName: string, document: unknown) {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName(name),
        PolicyName: policyName,
        PolicyDocument: JSON.stringify(document),
      }),
    );
  }

  /** The stored document, parsed; undefined when the role has no such policy. */
  async function policyOf(name: string, policyName = POLICY): Promise<unknown> {
    const { PolicyNames = [] } = await iam.send(
      new ListRolePoliciesCommand({ RoleName: roleName(name) }),
    );
    if (!PolicyNames.includes(policyName)) return undefined;
    const { PolicyDocument = '' } = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName(name), PolicyName: policyName }),
    );
    return JSON.parse(decodeURIComponent(PolicyDocument));
  }

  async function applyConfig(document: unknown) {
    const result = validateConfig(document, { stage: 'local' });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    await new DynamoConfigStore(table.documentClient, table.tableName).apply(result.config, {
      appliedBy: 'test',
    });
  }

  async function audit(record: Omit<AuditRecord, 'requestId' | 'route' | 'reason'>) {
    const sink = new DynamoAuditSink(table.documentClient, table.tableName, {
      retentionDays: 1,
      logger: { info: () => undefined },
    });
    await sink.write({
      requestId: randomUUID(),
      route: 'POST /v1/credentials',
      reason: 'ok',
      ...record,
    });
  }

  const denyList = () => new DynamoDenyList(table.documentClient, table.tableName);

  describe('deny add|list|remove', () => {
    beforeEach(async () => {
      await applyConfig({ version: 1, providers: [oidcProvider('mobile')], mappings: [] });
    });

    it('adds, lists (marking expired entries) and removes entries', async () => {
      // Prepare
      const now = new Date('2030-06-01T10:00:00.000Z');
      const later = new Date('2030-06-01T13:00:00.000Z');

      // Act
      const added = await tvm(
        [
          'deny',
          'add',
          '--provider',
          'mobile',
          '--subject',
          'alice',
          '--until',
          '2h',
          '--reason',
          'phished',
          '--by',
          'ops@example',
        ],
        table,
        now,
      );
      const forever = await tvm(
        ['deny', 'add', '--provider', 'mobile', '--subject', 'auth0|bob', '--by', 'ops@example'],
        table,
        now,
      );
      const listedNow = await tvm(['deny', 'list', '--provider', 'mobile'], table, now);
      const listedLater = await tvm(['deny', 'list', '--provider', 'mobile'], table, later);

      // Assess
      expect(added.code).toBe(EXIT.ok);
      expect(added.out).toContain('denied mobile/"alice" until 2030-06-01T12:00:00.000Z');
      expect(forever.code).toBe(EXIT.ok);
      expect(await denyList().find(ISSUER, 'alice', [], now)).toEqual({
        issuer: ISSUER,
        provider: 'mobile',
        subject: 'alice',
        until: '2030-06-01T12:00:00.000Z',
        reason: 'phished',
        by: 'ops@example',
        at: '2030-06-01T10:00:00.000Z',
      });
      expect(listedNow.code).toBe(EXIT.ok);
      expect(listedNow.out.split('\n')).toEqual([
        'Principal: issuer "https://issuer.example.com" + subject (provider mobile).',
        'subject      added via  state   until                     by           at                        reason',
        '"alice"      mobile     active  2030-06-01T12:00:00.000Z  ops@example  2030-06-01T10:00:00.000Z  phished',
        '"auth0|bob"  mobile     active  never                     ops@example  2030-06-01T10:00:00.000Z',
        '2 entries',
      ]);
      expect(listedLater.out).toMatch(/^"alice" +mobile +expired +2030-06-01T12:00:00\.000Z/m);
      expect(listedLater.out).toMatch(/^"auth0\|bob" +mobile +active +never/m);
      expect(listedLater.out).toContain('2 entries, 1 expired');

      // Act: remove both
      const removed = await tvm(
        ['deny', 'remove', '--provider', 'mobile', '--subject', 'alice'],
        table,
        now,
      );
      const removedAgain = await tvm(
        ['deny', 'remove', '--provider', 'mobile', '--subject', 'alice'],
        table,
        now,
      );
      await tvm(['deny', 'remove', '--provider', 'mobile', '--subject', 'auth0|bob'], table, now);
      const listedEmpty = await tvm(['deny', 'list', '--provider', 'mobile'], table, now);

      // Assess
      expect(removed.code).toBe(EXIT.ok);
      expect(removed.out).toContain('removed the deny entry of mobile/"alice"');
      expect(removedAgain.code).toBe(EXIT.invalid);
      expect(removedAgain.err).toContain('is not on the deny list');
      expect(await denyList().find(ISSUER, 'alice', ['mobile'], now)).toBeUndefined();
      expect(listedEmpty.out).toBe('No deny entries for provider mobile.');
    });

    it.each([
      [['--until', '2030-06-01T09:59:59Z'], /is not in the future/],
      [['--until', '2030-02-30T00:00:00Z'], /--until must be an ISO 8601 time/],
      [['--until', '2030-06-01T12:00:00'], /--until must be an ISO 8601 time/],
      [['--until', 'tomorrow'], /--until must be an ISO 8601 time/],
      [['--subject', ''], /--subject must not be empty/],
      [['--subject', 'x'.repeat(256)], /at most 255/],
    ])('refuses %j with exit 1 and writes nothing', async (extra, message) => {
      // Prepare
      const now = new Date('2030-06-01T10:00:00.000Z');
      const args = ['deny', 'add', '--provider', 'mobile', '--subject', 'alice'];

      // Act
      const result = await tvm([...args, ...extra], table, now);

      // Assess
      expect(result.code).toBe(EXIT.invalid);
      expect(result.err).toMatch(message);
      expect(await denyList().list(ISSUER, ['mobile'])).toEqual([]);
    });

    it('refuses a provider that is not in the current config (exit 1)', async () => {
      const now = new Date('2030-06-01T10:00:00.000Z');

      const added = await tvm(
        ['deny', 'add', '--provider', 'mobil', '--subject', 'alice'],
        table,
        now,
      );
      const listed = await tvm(['deny', 'list', '--provider', 'mobil'], table, now);
      const revoked = await tvm(
        ['revoke', '--provider', 'mobil', '--subject', 'alice'],
        table,
        now,
      );

      for (const result of [added, listed, revoked]) {
        expect(result.code).toBe(EXIT.invalid);
        expect(result.err).toContain(
          'provider "mobil" is not in the current config (generation 1 of',
        );
        expect(result.err).toContain('its providers are: mobile');
      }
      expect(await denyList().list(undefined, ['mobil'])).toEqual([]);
    });
  });

  describe('revoke', () => {
    const subject = 'auth0|alice';
    /** The runtime's SourceIdentity for this sub: `|` is outside STS's pattern, so hashed. */
    const hashedSub = `sha256-${sha256(JSON.stringify([ISSUER, subject])).slice(0, 40)}`;
    const email = 'alice@example.com';
    const other = 'bob'; // another principal already revoked on role A
    const now = new Date('2030-06-01T10:00:00.250Z');
    /** now, rounded up to the second, plus the 60 s margin. */
    const cutoff = '2030-06-01T10:01:01Z';
    const appAccess = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::data/*' }],
    };
    const otherStatement = expectedStatement(other, '2030-06-01T09:00:00Z');

    /**
     * Role A: default SourceIdentity (from the config); already holds a revocation of bob and an
     * unrelated inline policy. Role B: sourceIdentity from the email claim, so only its audit
     * record names the value. Role C: in no mapping any more, only in an audit record. Role D:
     * another provider's mapping, and another principal's vend; must stay untouched.
     */
    async function prepare(extraMappings: Record<string, unknown>[] = []) {
      for (const name of ['role-a', 'role-b', 'role-c', 'role-d']) await createRole(name);
      await applyConfig({
        version: 1,
        providers: [
          {
            ...oidcProvider('mobile'),
            claims: { groups: { type: 'list' }, email: { type: 'string' } },
          },
          oidcProvider('corp', 'https://corp.example.com'),
        ],
        mappings: [
          mapping('m-default', 100, { roleArn: roleArn('role-a') }),
          mapping('m-email', 90, {
            roleArn: roleArn('role-b'),
            sourceIdentity: '{{claims.email}}',
          }),
          mapping('m-corp', 80, { provider: 'corp', roleArn: roleArn('role-d') }),
          ...extraMappings,
        ],
      });
      await putPolicy('role-a', POLICY, { Version: '2012-10-17', Statement: [otherStatement] });
      await putPolicy('role-a', 'app-access', appAccess);
      const vend = { provider: 'mobile', subjectHash: subjectHash(ISSUER, subject) };
      // Records written before audit keys moved to the issuer hash the provider id: still read.
      const legacy = { provider: 'mobile', subjectHash: subjectHash('mobile', subject) };
      await audit({
        ...vend,
        at: '2030-06-01T09:10:00.000Z',
        outcome: 'allowed',
        roleArn: roleArn('role-a'),
        sourceIdentity: hashedSub,
      });
      await audit({
        ...vend,
        at: '2030-06-01T09:20:00.000Z',
        outcome: 'allowed',
        roleArn: roleArn('role-b'),
        sourceIdentity: email,
      });
      await audit({
        ...legacy,
        at: '2030-06-01T09:30:00.000Z',
        outcome: 'allowed',
        roleArn: roleArn('role-c'),
        sourceIdentity: 'alice.old',
      });
      // Refused requests and other principals' vends are not this principal's sessions.
      await audit({
        ...vend,
        at: '2030-06-01T09:40:00.000Z',
        outcome: 'denied',
        roleArn: roleArn('role-d'),
        sourceIdentity: 'denied-one',
      });
      await audit({
        provider: 'mobile',
        subjectHash: subjectHash(ISSUER, 'carol'),
        at: '2030-06-01T09:50:00.000Z',
        outcome: 'allowed',
        roleArn: roleArn('role-d'),
        sourceIdentity: 'carol',
      });
    }

    const revoke = (extra: string[] = [], at = now) =>
      tvm(
        [
          'revoke',
          '--provider',
          'mobile',
          '--subject',
          subject,
          '--by',
          'ops@example',
          '--reason',
          'stolen laptop',
          ...extra,
        ],
        table,
        at,
      );

    it('denies the principal and writes exactly the right statements, merged with what is there', async () => {
      // Prepare
      await prepare();

      // Act
      const result = await revoke();

      // Assess
      expect(result.err).toBe('');
      expect(result.code).toBe(EXIT.ok);
      expect(await policyOf('role-a')).toEqual({
        Version: '2012-10-17',
        Statement: [otherStatement, expectedStatement(hashedSub, cutoff)],
      });
      expect(await policyOf('role-b')).toEqual({
        Version: '2012-10-17',
        Statement: [expectedStatement(email, cutoff)],
      });
      expect(await policyOf('role-c')).toEqual({
        Version: '2012-10-17',
        Statement: [expectedStatement('alice.old', cutoff)],
      });
      expect(await policyOf('role-d')).toBeUndefined();
      expect(await policyOf('role-a', 'app-access')).toEqual(appAccess);
      expect(await denyList().find(ISSUER, subject, [], now)).toEqual({
        issuer: ISSUER,
        provider: 'mobile',
        subject,
        reason: 'stolen laptop',
        by: 'ops@example',
        at: now.toISOString(),
      });
      expect(result.out).toContain(`✓ updated   ${roleArn('role-a')} (2 statement(s),`);
      expect(result.out).toContain(`✓ updated   ${roleArn('role-b')} (1 statement(s),`);
      expect(result.out).toContain(`✓ updated   ${roleArn('role-c')} (1 statement(s),`);
      expect(result.out).toContain(
        'mapping m-email (' +
          roleArn('role-b') +
          '): its sourceIdentity needs claims other than sub',
      );
      expect(result.out).not.toContain(roleArn('role-d'));
    });

    it('is idempotent: a second run replaces its own statements with a newer cut-off', async () => {
      // Prepare
      await prepare();
      const second = new Date('2030-06-01T11:30:00.000Z');
      const secondCutoff = '2030-06-01T11:31:00Z';
      await revoke();

      // Act
      const again = await revoke([], second);
      const unchanged = await revoke([], second);

      // Assess
      expect(again.code).toBe(EXIT.ok);
      expect(await policyOf('role-a')).toEqual({
        Version: '2012-10-17',
        Statement: [otherStatement, expectedStatement(hashedSub, secondCutoff)],
      });
      expect(await policyOf('role-b')).toEqual({
        Version: '2012-10-17',
        Statement: [expectedStatement(email, secondCutoff)],
      });
      expect(await policyOf('role-a', 'app-access')).toEqual(appAccess);
      expect(unchanged.code).toBe(EXIT.ok);
      expect(unchanged.out).toContain(`= unchanged ${roleArn('role-a')}`);
    });

    it('--dry-run reads everything and changes nothing', async () => {
      // Prepare
      await prepare();

      // Act
      const result = await revoke(['--dry-run']);

      // Assess
      expect(result.code).toBe(EXIT.ok);
      expect(result.out).toContain(`+ would update ${roleArn('role-a')}`);
      expect(result.out).toContain('dry run: nothing was changed');
      expect(await denyList().list(ISSUER, ['mobile'])).toEqual([]);
      expect(await policyOf('role-a')).toEqual({
        Version: '2012-10-17',
        Statement: [otherStatement],
      });
      expect(await policyOf('role-b')).toBeUndefined();
      expect(await policyOf('role-c')).toBeUndefined();
    });

    it('skips a role in another account, still covers the others, and exits 3', async () => {
      // Prepare
      const foreign = 'arn:aws:iam::210987654321:role/tvm/elsewhere';
      await prepare([mapping('m-foreign', 70, { roleArn: foreign })]);

      // Act
      const result = await revoke();

      // Assess
      expect(result.code).toBe(EXIT.upstream);
      expect(result.out).toContain(`! skipped   ${foreign}`);
      expect(result.out).toContain(
        `role is in account 210987654321 (aws) but the IAM credentials are for ${ACCOUNT} (aws)`,
      );
      expect(result.err).toContain('1 role(s) not covered');
      expect(await policyOf('role-a')).toEqual({
        Version: '2012-10-17',
        Statement: [otherStatement, expectedStatement(hashedSub, cutoff)],
      });
      expect(await denyList().find(ISSUER, subject, [], now)).toBeDefined();
    });

    it('refuses to outgrow the inline policy limit, naming the role; --prune makes room', async () => {
      // Prepare: revocations from a day ago fill role A's policy to just under 10,240 characters,
      // too little room for one more statement.
      await prepare();
      const old: ReturnType<typeof expectedStatement>[] = [];
      const size = () =>
        JSON.stringify({ Version: '2012-10-17', Statement: [otherStatement, ...old] }).length;
      for (let index = 0; ; index += 1) {
        const next = expectedStatement(`old-user-${index}`, '2030-05-31T10:00:00Z');
        if (size() + JSON.stringify(next).length + 1 > 10_240) break;
        old.push(next);
      }
      await putPolicy('role-a', POLICY, {
        Version: '2012-10-17',
        Statement: [otherStatement, ...old],
      });

      // Act
      const refused = await revoke();
      const afterRefusal = await policyOf('role-a');
      const pruned = await revoke(['--prune']);

      // Assess
      expect(refused.code).toBe(EXIT.upstream);
      expect(refused.out).toContain(`✗ failed    ${roleArn('role-a')}`);
      expect(refused.out).toMatch(
        new RegExp(
          `role ${roleName('role-a')}: ${POLICY} would be [0-9,]+ characters, over IAM's 10,240`,
        ),
      );
      expect(refused.out).toContain('Run revoke again with --prune');
      expect(afterRefusal).toEqual({ Version: '2012-10-17', Statement: [otherStatement, ...old] });
      expect(pruned.code).toBe(EXIT.ok);
      expect(await policyOf('role-a')).toEqual({
        Version: '2012-10-17',
        Statement: [otherStatement, expectedStatement(hashedSub, cutoff)],
      });
    });
  });

  describe('one principal (issuer + subject) across provider entries, and upgrades', () => {
    const now = new Date('2030-06-01T10:00:00.250Z');
    const cutoff = '2030-06-01T10:01:01Z';
    /** Two app clients of one issuer: the client picks the entry, so controls must cover both. */
    const twoEntries = [oidcProvider('mobile'), { ...oidcProvider('mobile2'), audiences: ['web'] }];

    it('a legacy DENY#<provider> entry still denies, lists and lifts through any entry of its issuer', async () => {
      // Prepare: an entry as deny lists wrote them before they keyed on the issuer.
      await applyConfig({ version: 1, providers: twoEntries, mappings: [] });
      await table.documentClient.send(
        new PutCommand({
          TableName: table.tableName,
          Item: {
            pk: 'DENY#mobile',
            sk: 'alice',
            provider: 'mobile',
            subject: 'alice',
            by: 'ops@example',
            at: '2030-05-01T00:00:00.000Z',
          },
        }),
      );

      // Act
      const found = await denyList().find(ISSUER, 'alice', ['mobile', 'mobile2'], now);
      const listed = await tvm(['deny', 'list', '--provider', 'mobile2'], table, now);
      const removed = await tvm(
        ['deny', 'remove', '--provider', 'mobile2', '--subject', 'alice'],
        table,
        now,
      );

      // Assess
      expect(found).toMatchObject({ provider: 'mobile', subject: 'alice' });
      expect(listed.code).toBe(EXIT.ok);
      expect(listed.out).toContain(
        'Principal: issuer "https://issuer.example.com" + subject (every provider sharing it: mobile, mobile2).',
      );
      expect(listed.out).toMatch(/^"alice" +DENY#mobile \(legacy\) +active +never/m);
      expect(removed.code).toBe(EXIT.ok);
      expect(await denyList().find(ISSUER, 'alice', ['mobile', 'mobile2'], now)).toBeUndefined();
    });

    it('deny add through one entry is stored under the issuer and found through the other', async () => {
      // Prepare
      await applyConfig({ version: 1, providers: twoEntries, mappings: [] });

      // Act
      const added = await tvm(
        ['deny', 'add', '--provider', 'mobile', '--subject', 'bob'],
        table,
        now,
      );

      // Assess
      expect(added.code).toBe(EXIT.ok);
      expect(added.out).toContain('every provider sharing it: mobile, mobile2');
      const { Item } = await table.documentClient.send(
        new GetCommand({
          TableName: table.tableName,
          Key: { pk: `DENY#ISS#${ISSUER}`, sk: 'bob' },
        }),
      );
      expect(Item).toMatchObject({ issuer: ISSUER, provider: 'mobile', subject: 'bob' });
      expect(await denyList().find(ISSUER, 'bob', ['mobile2'], now)).toBeDefined();
    });

    it('revoke through one entry covers the mappings of every entry of the issuer', async () => {
      // Prepare
      for (const name of ['role-a', 'role-b']) await createRole(name);
      await applyConfig({
        version: 1,
        providers: twoEntries,
        mappings: [
          mapping('m-a', 100, { roleArn: roleArn('role-a') }),
          mapping('m-b', 90, { provider: 'mobile2', roleArn: roleArn('role-b') }),
        ],
      });
      const sourceIdentity = `alice@${sha256(ISSUER).slice(0, 8)}`;

      // Act
      const result = await tvm(
        ['revoke', '--provider', 'mobile2', '--subject', 'alice'],
        table,
        now,
      );

      // Assess
      expect(result.err).toBe('');
      expect(result.code).toBe(EXIT.ok);
      for (const name of ['role-a', 'role-b']) {
        expect(await policyOf(name)).toEqual({
          Version: '2012-10-17',
          Statement: [expectedStatement(sourceIdentity, cutoff)],
        });
      }
    });

    describe('a SAML provider in native mode', () => {
      const ENTITY = 'https://idp.corp.example/saml';
      const native = {
        id: 'corp',
        type: 'saml',
        entityId: ENTITY,
        ssoUrl: 'https://idp.corp.example/sso',
        certificates: [IDP_CERTIFICATE],
        spEntityId: 'https://tvm.example.com/v1/saml/corp/metadata',
        mode: 'native',
      };
      const subject = 'alice@corp.example';

      async function prepareNative() {
        await createRole('role-n');
        await applyConfig({
          version: 1,
          providers: [native],
          mappings: [
            {
              id: 'corp-admin',
              provider: 'corp',
              priority: 10,
              match: { claim: 'sub', op: 'exists' },
              roleArn: roleArn('role-n'),
            },
          ],
        });
      }

      it('revokes the sessions by the role session name the assertion set (aws:userid)', async () => {
        // Prepare: a native login's record says what the IdP named the session.
        await prepareNative();
        await audit({
          provider: 'corp',
          subjectHash: subjectHash(ENTITY, subject),
          at: '2030-06-01T09:10:00.000Z',
          outcome: 'allowed',
          roleArn: roleArn('role-n'),
          sessionNamedBy: 'assertion',
          roleSessionName: 'alice.smith',
        });

        // Act
        const result = await tvm(
          ['revoke', '--provider', 'corp', '--subject', subject],
          table,
          now,
        );

        // Assess: by hand, the statement STS sessions named alice.smith match.
        expect(result.err).toBe('');
        expect(result.code).toBe(EXIT.ok);
        expect(await policyOf('role-n')).toEqual({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: `TvmRevoke${sha256('aws:userid\u0000alice.smith').slice(0, 16)}`,
              Effect: 'Deny',
              Action: '*',
              Resource: '*',
              Condition: {
                StringLike: { 'aws:userid': '*:alice.smith' },
                DateLessThan: { 'aws:TokenIssueTime': cutoff },
              },
            },
          ],
        });
        expect(result.out).toContain('aws:userid *:alice.smith');
      });

      it('fails (exit 3) when nothing says what the IdP named the sessions, after denying', async () => {
        // Prepare: no native record of this principal.
        await prepareNative();

        // Act
        const result = await tvm(
          ['revoke', '--provider', 'corp', '--subject', subject],
          table,
          now,
        );

        // Assess
        expect(result.code).toBe(EXIT.upstream);
        expect(result.err).toContain('✗ not revoked: provider corp is in SAML native mode');
        expect(result.err).toContain('the deny entry is in place');
        expect(result.out).not.toContain('nothing was changed');
        expect(await policyOf('role-n')).toBeUndefined();
        expect(await denyList().find(ENTITY, subject, [], now)).toBeDefined();
      });
    });
  });

  describe('one guest of an identity pool', () => {
    const POOL_ID = 'eu-west-1:3d4e5f60-7182-493a-9c2d-e3f405162738';
    const guest = 'eu-west-1:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const otherGuest = 'eu-west-1:1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
    const GUEST_ISSUER = 'urn:tvm:guest:shop-guests';
    const now = new Date('2030-06-01T10:00:00.250Z');

    async function prepare() {
      await createRole('guest-role');
      await applyConfig({
        version: 1,
        providers: [oidcProvider('mobile'), { id: 'shop-guests', type: 'guest' }],
        mappings: [
          mapping('guest', 0, {
            provider: 'shop-guests',
            match: { claim: 'sub', op: 'exists' },
            roleArn: roleArn('guest-role'),
            sessionTags: {},
          }),
        ],
        identityPools: [
          { id: POOL_ID, providers: [{ provider: 'mobile' }], guests: { provider: 'shop-guests' } },
        ],
      });
    }

    it('deny add refuses that IdentityId only, under the guest issuer', async () => {
      await prepare();

      const added = await tvm(
        ['deny', 'add', '--provider', 'shop-guests', '--subject', guest, '--by', 'ops@example'],
        table,
        now,
      );

      expect(added.code, added.err).toBe(EXIT.ok);
      expect(await denyList().find(GUEST_ISSUER, guest, [], now)).toMatchObject({
        issuer: GUEST_ISSUER,
        provider: 'shop-guests',
        subject: guest,
      });
      expect(await denyList().find(GUEST_ISSUER, otherGuest, [], now)).toBeUndefined();
    });

    it("revoke ends the guest's sessions by the SourceIdentity its sessions carry", async () => {
      // Prepare: one vend of the guest (its SourceIdentity is the IdentityId with "." for ":").
      await prepare();
      const sourceIdentity = guest.replace(':', '.');
      await audit({
        provider: 'shop-guests',
        subjectHash: subjectHash(GUEST_ISSUER, guest),
        identityId: guest,
        at: '2030-06-01T09:10:00.000Z',
        outcome: 'allowed',
        roleArn: roleArn('guest-role'),
        sourceIdentity,
      });

      // Act
      const result = await tvm(
        ['revoke', '--provider', 'shop-guests', '--subject', guest, '--by', 'ops@example'],
        table,
        now,
      );

      // Assess: the statement names that guest's SourceIdentity, from the config and the audit.
      expect(result.err).toBe('');
      expect(result.code).toBe(EXIT.ok);
      expect(await policyOf('guest-role')).toEqual({
        Version: '2012-10-17',
        Statement: [expectedStatement(sourceIdentity, '2030-06-01T10:01:01Z')],
      });
      expect(await denyList().find(GUEST_ISSUER, guest, [], now)).toBeDefined();
    });
  });
});
