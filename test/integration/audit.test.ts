import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { DynamoAuditSink, subjectHash } from '#shared/audit/audit.ts';
import { DynamoAuditLog } from '#shared/audit/history.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { issuerTag } from '#shared/auth/principal.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { ACCESS_KEY_INDEX } from '#shared/store/table.ts';
import { type CliDeps, defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { ensureTable, LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { fakeContext, httpEvent } from '../support/lambda-fakes.ts';
import { applyConfig } from '../support/local-config.ts';
import { freshTable } from '../support/local-table.ts';
import { startTestIssuer, TEST_AUDIENCE, type TestIssuer } from '../support/oidc-issuer.ts';

/**
 * `audit list` and `audit key` against moto: credentials vended through the real credentials
 * route and core (OIDC issuer on loopback, moto's DynamoDB and STS), then found again by the CLI
 * with Queries only. One principal reaches the TVM through two provider entries of one issuer.
 */

type Table = Awaited<ReturnType<typeof freshTable>>;

const WEB_AUDIENCE = 'web-client';
const silent = { info() {}, warn() {}, error() {} };

function config(issuer: TestIssuer) {
  const oidc = (id: string, audience: string) => ({
    id,
    type: 'oidc',
    issuer: issuer.issuer,
    audiences: [audience],
    claims: { tenant: { type: 'string', maxLength: 32 } },
  });
  return {
    version: 1,
    providers: [oidc('mobile', TEST_AUDIENCE), oidc('web', WEB_AUDIENCE)],
    mappings: [
      {
        id: 'mobile-reader',
        provider: 'mobile',
        priority: 100,
        match: { claim: 'tenant', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/mobile-reader',
        sessionTags: { tenant: '{{claims.tenant}}' },
        durationSeconds: 900,
        // The same credentials handed out twice: `audit key` must show both decisions.
        reuse: { minRemainingSeconds: 60 },
      },
      {
        id: 'web-reader',
        provider: 'web',
        priority: 100,
        match: { claim: 'tenant', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/web-reader',
        durationSeconds: 900,
      },
    ],
  };
}

/** A document client that records the name of every command it sends. */
function recording(client: DynamoDBDocumentClient, sent: string[]): DynamoDBDocumentClient {
  return {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return client.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
}

describe('audit list and audit key against moto', () => {
  let issuer: TestIssuer;
  let table: Table;
  let handler: ReturnType<typeof withHttpStack>;
  /** Every DynamoDB command the CLI's audit log sent, by name. */
  const sent: string[] = [];

  async function post(token: string, requestId: string = randomUUID()) {
    const result = await handler(
      httpEvent({
        method: 'POST',
        path: '/v1/credentials',
        headers: { authorization: `Bearer ${token}` },
        requestId,
      }),
      fakeContext(),
    );
    if (typeof result === 'string') throw new Error('unexpected string result');
    return { status: result.statusCode ?? 200, body: JSON.parse(result.body ?? '{}') };
  }

  async function tvm(args: string[], now = new Date(), deps: Partial<CliDeps> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      args,
      { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
      {
        ...defaultDeps({ ...process.env, ...table.env }),
        openAuditLog: () =>
          new DynamoAuditLog(recording(table.documentClient, sent), table.tableName),
        now: () => now,
        ...deps,
      },
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const sink = () =>
    new DynamoAuditSink(table.documentClient, table.tableName, {
      retentionDays: 1,
      logger: silent,
    });

  let vended: { mobile: string; web: string; reused: string; bob: string };
  let between: Date;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    table = await freshTable('tvm-audit');
    await applyConfig(table.documentClient, table.tableName, config(issuer));
    const sts = new STSClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    handler = withHttpStack(
      credentialsRoute(
        createIssueDeps({
          logger: silent,
          env: { ...table.env, TVM_CONFIG_CACHE_TTL_SECONDS: '0' },
          documentClient: table.documentClient,
          overrides: { sts, logger: silent },
        }),
        createOidcAuthenticator({ stage: 'local' }),
      ),
    );
    // alice through both entries of the issuer, reused once, refused once; bob once.
    const mobile = await post(await issuer.mint({ sub: 'alice', tenant: 'acme' }), 'req-mobile');
    const reused = await post(await issuer.mint({ sub: 'alice', tenant: 'acme' }), 'req-reuse');
    await new Promise((resolve) => setTimeout(resolve, 20));
    between = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const web = await post(
      await issuer.mint({ sub: 'alice', tenant: 'acme', aud: WEB_AUDIENCE }),
      'req-web',
    );
    const refused = await post(await issuer.mint({ sub: 'alice' }), 'req-denied');
    const bob = await post(await issuer.mint({ sub: 'bob', tenant: 'globex' }), 'req-bob');
    expect([mobile, reused, web, bob].map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(refused.status).toBe(403);
    vended = {
      mobile: mobile.body.credentials.accessKeyId,
      reused: reused.body.credentials.accessKeyId,
      web: web.body.credentials.accessKeyId,
      bob: bob.body.credentials.accessKeyId,
    };
  });

  afterAll(async () => {
    await issuer.stop();
  });

  it('creates the table with the sparse keys-only access-key index', async () => {
    // Act
    const client = new DynamoDBClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const { Table: described } = await client.send(
      new DescribeTableCommand({ TableName: table.tableName }),
    );

    // Assess
    expect(described?.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byAccessKeyId',
        KeySchema: [
          { AttributeName: 'accessKeyId', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      }),
    ]);
  });

  it('adds the index to a table made before it existed (the local stack, like a stack update)', async () => {
    // Prepare: a table with the old definition, holding a record vended back then.
    const client = new DynamoDBClient({
      endpoint: table.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const name = `tvm-audit-old-${randomUUID().slice(0, 8)}`;
    await client.send(
      new CreateTableCommand({
        TableName: name,
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
    await new DynamoAuditSink(table.documentClient, name, {
      retentionDays: 1,
      logger: silent,
    }).write({
      requestId: 'old',
      at: '2030-01-01T00:00:00.000Z',
      route: 'POST /v1/credentials',
      outcome: 'allowed',
      reason: 'ok',
      subjectHash: 'f'.repeat(64),
      accessKeyId: 'ASIAOLDRECORD0000001',
    });

    // Act
    const first = await ensureTable(table.endpoint, name);
    const again = await ensureTable(table.endpoint, name);
    const found = await new DynamoAuditLog(table.documentClient, name).byAccessKey(
      'ASIAOLDRECORD0000001',
    );

    // Assess: the index is keyed on the records' own attribute, so older records are found.
    expect(first).toBe('updated');
    expect(again).toBe('exists');
    expect(found.map((record) => record.requestId)).toEqual(['old']);
  });

  it('audit key finds the decision that vended a key: who, when, mapping, role, SourceIdentity', async () => {
    // Act
    const result = await tvm(['audit', 'key', vended.web]);

    // Assess
    const sourceIdentity = `alice@${issuerTag(issuer.issuer)}`;
    expect(result.code).toBe(EXIT.ok);
    const lines = result.out.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^Access key ${vended.web}: vended \\S+Z, request req-web \\(POST /v1/credentials\\)$`,
      ),
    );
    expect(result.out).toContain(
      `who       provider web, issuer "${issuer.issuer}", subject "alice" (proven: it hashes to the record's subject hash ${subjectHash(issuer.issuer, 'alice').slice(0, 12)}…)`,
    );
    expect(result.out).toContain('mapping   web-reader');
    expect(result.out).toContain('role      arn:aws:iam::123456789012:role/tvm/web-reader');
    expect(result.out).toMatch(
      new RegExp(`session   SourceIdentity ${sourceIdentity}, session name alice-[0-9a-f]{16}`),
    );
    expect(result.out).toContain(`userIdentity.accessKeyId = '${vended.web}'`);
    expect(result.out).toContain(
      `userIdentity.sessionContext.sourceIdentity = '${sourceIdentity}'`,
    );
    expect(result.out).toContain(
      `eventName = 'AssumeRole' AND responseElements.credentials.accessKeyId = '${vended.web}'`,
    );
    // Keys only from the index, then the record from the table: never a Scan.
    expect(sent).not.toContain('ScanCommand');
  });

  it('audit key shows the vend and each reuse of the same credentials, oldest first', async () => {
    // Act
    const result = await tvm(['audit', 'key', vended.mobile]);

    // Assess
    expect(vended.reused).toBe(vended.mobile);
    expect(result.code).toBe(EXIT.ok);
    const headings = result.out.split('\n').filter((line) => line.startsWith('Access key'));
    expect(headings).toHaveLength(2);
    expect(headings[0]).toMatch(/: vended .* request req-mobile /);
    expect(headings[1]).toMatch(/: handed out again \(reuse\) .* request req-reuse /);
  });

  it('audit key exits 1 for a key no record carries, and refuses a malformed one before any AWS call', async () => {
    // Act
    const unknown = await tvm(['audit', 'key', 'ASIAUNKNOWNKEY000000']);
    const malformed = await tvm(['audit', 'key', 'ASIA"; drop'], new Date(), {
      openAuditLog: () => {
        throw new Error('must not reach DynamoDB');
      },
    });

    // Assess
    expect(unknown.code).toBe(EXIT.invalid);
    expect(unknown.err).toContain(
      `not found: no audit record in ${table.tableName} carries access key ASIAUNKNOWNKEY000000`,
    );
    expect(malformed.code).toBe(EXIT.invalid);
    expect(malformed.err).toContain('is not an access key id');
  });

  it('writes the index key only on records of vended keys (sparse): refusals are not indexed', async () => {
    // Prepare
    const partition = `AUDIT#${subjectHash(issuer.issuer, 'alice')}`;
    const log = new DynamoAuditLog(table.documentClient, table.tableName);

    // Act
    const records = await log.principalRecords({
      issuer: issuer.issuer,
      subject: 'alice',
      legacyProviders: [],
    });
    const denied = records.find((record) => record.requestId === 'req-denied');
    const stored =
      denied === undefined
        ? undefined
        : await table.documentClient.send(
            new GetCommand({
              TableName: table.tableName,
              Key: { pk: partition, sk: `${denied.at}#${denied.requestId}` },
            }),
          );

    // Assess
    expect(stored?.Item?.outcome).toBe('denied');
    expect(stored?.Item).not.toHaveProperty(ACCESS_KEY_INDEX.partition);
    expect(
      records.filter((record) => record.accessKeyId !== undefined).map((r) => r.requestId),
    ).toEqual(['req-web', 'req-reuse', 'req-mobile']);
  });

  it('audit list shows the principal through every provider entry of its issuer, newest first', async () => {
    // Prepare: a record from before audit partitions were keyed on the issuer.
    await sink().write({
      requestId: 'req-legacy',
      at: '2020-01-01T00:00:00.000Z',
      route: 'POST /v1/credentials',
      outcome: 'allowed',
      reason: 'ok',
      provider: 'mobile',
      subjectHash: subjectHash('mobile', 'alice'),
      mappingId: 'mobile-reader',
      accessKeyId: 'ASIALEGACYRECORD0001',
    });
    sent.length = 0;

    // Act: named through the web entry; the mobile entry shares the issuer.
    const result = await tvm(['audit', 'list', '--provider', 'web', '--subject', 'alice']);

    // Assess
    expect(result.code).toBe(EXIT.ok);
    const lines = result.out.split('\n');
    expect(lines[0]).toBe(
      `Principal: issuer "${issuer.issuer}" + subject (every provider sharing it: mobile, web).`,
    );
    expect(lines[1]).toMatch(
      /^time +provider +route +outcome +reason +mapping +role +access key +request$/,
    );
    const rows = lines.slice(2, -1).map((line) => line.split(/ {2,}/));
    expect(rows.map((row) => [row[1], row[3], row[4], row[5], row.at(-1)])).toEqual([
      ['mobile', 'denied', 'no_matching_mapping', '-', 'req-denied'],
      ['web', 'allowed', 'ok', 'web-reader', 'req-web'],
      ['mobile', 'allowed', 'reused', 'mobile-reader', 'req-reuse'],
      ['mobile', 'allowed', 'ok', 'mobile-reader', 'req-mobile'],
      ['mobile', 'allowed', 'ok', 'mobile-reader', 'req-legacy'],
    ]);
    expect(rows[1]).toContain(vended.web);
    expect(rows[1]).toContain('arn:aws:iam::123456789012:role/tvm/web-reader');
    expect(lines.at(-1)).toBe('5 records, newest first');
    expect(result.out).not.toContain(vended.bob);
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent)).toEqual(new Set(['QueryCommand']));
  });

  it('audit list --since and --outcome narrow it with a key condition and a filter', async () => {
    // Act
    const since = await tvm([
      'audit',
      'list',
      '--provider',
      'mobile',
      '--subject',
      'alice',
      '--since',
      between.toISOString(),
    ]);
    const deniedOnly = await tvm([
      'audit',
      'list',
      '--provider',
      'mobile',
      '--subject',
      'alice',
      '--since',
      '2h',
      '--outcome',
      'denied',
    ]);
    const later = await tvm(
      ['audit', 'list', '--provider', 'mobile', '--subject', 'alice', '--since', '2h'],
      new Date(Date.now() + 3 * 3_600_000),
    );
    const limited = await tvm([
      'audit',
      'list',
      '--provider',
      'mobile',
      '--subject',
      'alice',
      '--limit',
      '2',
    ]);

    // Assess
    const requests = (out: string) =>
      out
        .split('\n')
        .slice(2, -1)
        .map((line) => line.split(/ {2,}/).at(-1));
    expect(since.code).toBe(EXIT.ok);
    expect(requests(since.out)).toEqual(['req-denied', 'req-web']);
    expect(since.out.split('\n').at(-1)).toBe(
      `2 records, newest first (since ${between.toISOString()})`,
    );
    expect(requests(deniedOnly.out)).toEqual(['req-denied']);
    expect(deniedOnly.out.split('\n').at(-1)).toMatch(
      /^1 record, newest first \(since .*, outcome denied\)$/,
    );
    expect(later.code).toBe(EXIT.ok);
    expect(later.out).toContain('No audit records for mobile/"alice" (since ');
    expect(requests(limited.out)).toEqual(['req-denied', 'req-web']);
    expect(limited.out.split('\n').at(-1)).toBe(
      '2 records, newest first; the newest 2: pass --since or a larger --limit for older ones',
    );
  });

  it('audit list refuses a bad --since, --outcome or provider (exit 1)', async () => {
    // Act
    const future = await tvm([
      'audit',
      'list',
      '--provider',
      'mobile',
      '--subject',
      'alice',
      '--since',
      '2099-01-01T00:00:00Z',
    ]);
    const outcome = await tvm([
      'audit',
      'list',
      '--provider',
      'mobile',
      '--subject',
      'alice',
      '--outcome',
      'maybe',
    ]);
    const provider = await tvm(['audit', 'list', '--provider', 'nope', '--subject', 'alice']);

    // Assess
    expect(future.code).toBe(EXIT.invalid);
    expect(future.err).toContain('--since 2099-01-01T00:00:00.000Z is in the future');
    expect(outcome.code).toBe(EXIT.invalid);
    expect(outcome.err).toContain('--outcome must be one of allowed, denied, error, pending');
    expect(provider.code).toBe(EXIT.invalid);
    expect(provider.err).toContain('provider "nope" is not in the current config');
  });

  it('shows stored values escaped: a control character in a record cannot drive the terminal', async () => {
    // Prepare: values an IdP or a client may influence (SAML native session names, request ids).
    const sequence = '\u001b]0;pwned\u0007\u001b[2J';
    await sink().write({
      requestId: `req-${sequence}`,
      at: new Date().toISOString(),
      route: 'POST /v1/saml/corp/acs',
      outcome: 'allowed',
      reason: 'ok',
      provider: 'mobile',
      issuer: issuer.issuer,
      subjectHash: subjectHash(issuer.issuer, 'mallory'),
      roleSessionName: `m${sequence}`,
      sessionNamedBy: 'assertion',
      accessKeyId: 'ASIAESCAPETEST000001',
    });

    // Act
    const byKey = await tvm(['audit', 'key', 'ASIAESCAPETEST000001']);
    const listed = await tvm(['audit', 'list', '--provider', 'mobile', '--subject', 'mallory']);

    // Assess
    for (const result of [byKey, listed]) {
      expect(result.code).toBe(EXIT.ok);
      // Line breaks between lines are ours; no other control character may get through.
      expect(result.out.split('\n').filter((line) => /\p{Cc}/u.test(line))).toEqual([]);
      expect(result.out).toContain('req-\\u001b]0;pwned\\u0007\\u001b[2J');
    }
    expect(byKey.out).toContain("both set by the IdP's assertion");
    expect(byKey.out).toContain("eventName = 'AssumeRoleWithSAML'");
  });
});
