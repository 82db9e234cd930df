/**
 * `audit list` (one principal's decisions) and `audit key` (who got an access key): the way from
 * a CloudTrail event to the TVM's record of the decision, and back.
 */

import { type AuditRecord, subjectHash } from '#shared/audit/audit.ts';
import { AUDIT_OUTCOMES, type AuditOutcome } from '#shared/audit/history.ts';
import { issuerTag } from '#shared/auth/principal.ts';
import { ValidationError } from '#shared/errors.ts';
import { type CommandContext, EXIT } from '../command.ts';
import { currentConfig } from '../config-source.ts';
import { issuerLine, knownProvider, principal, principalScope, printable } from '../principal.ts';
import { parseSince } from '../time.ts';

/** STS `Credentials.AccessKeyId`: 16–128 word characters (STS API reference, Credentials). */
const ACCESS_KEY_ID_PATTERN = /^\w{16,128}$/;

export function checkAccessKeyId(text: string): string {
  if (!ACCESS_KEY_ID_PATTERN.test(text)) {
    throw new ValidationError(
      `"${printable(text).slice(0, 140)}" is not an access key id (16–128 letters and digits, such as ASIA…)`,
    );
  }
  return text;
}

export function checkOutcome(text: string): AuditOutcome {
  if (!(AUDIT_OUTCOMES as readonly string[]).includes(text)) {
    throw new ValidationError(`--outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  }
  return text as AuditOutcome;
}

/** A stored value as the terminal should show it: escaped, or `-` when absent. */
function shown(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  return printable(String(value));
}

/** Aligned columns, the last one left ragged (as `deny list` prints). */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export async function list(
  context: CommandContext,
  input: {
    options: {
      provider: string;
      subject: string;
      since: string | undefined;
      outcome: string | undefined;
      limit: number;
    };
  },
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const { provider, subject, limit } = input.options;
  // Checked before any AWS call.
  const since =
    input.options.since === undefined ? undefined : parseSince(input.options.since, deps.now());
  const outcome =
    input.options.outcome === undefined ? undefined : checkOutcome(input.options.outcome);
  const current = await currentConfig(context);
  if (current === undefined || !knownProvider(context, current, provider)) return EXIT.invalid;
  const scope = principalScope(current, provider);
  if (scope === undefined) return EXIT.invalid;
  const records = await deps.openAuditLog(options).principalRecords({
    issuer: scope.issuer,
    subject,
    legacyProviders: scope.providers,
    ...(since === undefined ? {} : { since }),
    ...(outcome === undefined ? {} : { outcome }),
    limit,
  });
  io.out(issuerLine(scope).trim());
  const filters = [
    ...(since === undefined ? [] : [`since ${since.toISOString()}`]),
    ...(outcome === undefined ? [] : [`outcome ${outcome}`]),
  ].join(', ');
  if (records.length === 0) {
    io.out(
      `No audit records for ${principal(provider, subject)}${filters === '' ? '' : ` (${filters})`} in ${options.table}.`,
    );
    return EXIT.ok;
  }
  const rows = records.map((record) => [
    shown(record.at),
    shown(record.provider),
    shown(record.route),
    shown(record.outcome),
    shown(record.reason),
    shown(record.mappingId),
    shown(record.roleArn),
    shown(record.accessKeyId),
    shown(record.requestId),
  ]);
  const [header = '', ...lines] = table(
    ['time', 'provider', 'route', 'outcome', 'reason', 'mapping', 'role', 'access key', 'request'],
    rows,
  );
  io.out(p.bold(header));
  records.forEach((record, index) => {
    const text = lines[index] ?? '';
    io.out(record.outcome === 'allowed' ? text : p.yellow(text));
  });
  const more =
    records.length === limit
      ? `; the newest ${limit}: pass --since or a larger --limit for older ones`
      : '';
  io.out(
    `${records.length} record${records.length === 1 ? '' : 's'}, newest first${filters === '' ? '' : ` (${filters})`}${more}`,
  );
  return EXIT.ok;
}

/**
 * The subject, when the record lets us prove it: records store only its hash, but the default
 * SourceIdentity `<subject>@<issuer tag>` and a guest's IdentityId carry it. A candidate counts only
 * when it hashes to the record's own subject hash.
 */
export function provenSubject(record: AuditRecord): string | undefined {
  const { issuer, subjectHash: hash } = record;
  if (issuer === undefined || hash === undefined) return undefined;
  const candidates: string[] = [];
  const tail = `@${issuerTag(issuer)}`;
  if (record.sourceIdentity?.endsWith(tail)) {
    candidates.push(record.sourceIdentity.slice(0, -tail.length));
  }
  if (record.identityId !== undefined) candidates.push(record.identityId);
  return candidates.find((candidate) => subjectHash(issuer, candidate) === hash);
}

function whoLine(record: AuditRecord): string {
  const subject = provenSubject(record);
  const who = `provider ${shown(record.provider)}, issuer ${JSON.stringify(shown(record.issuer))}`;
  return subject === undefined
    ? `${who}, subject hash ${shown(record.subjectHash)} (the subject is stored only as this hash; \`audit list --provider <id> --subject <sub>\` confirms a guess)`
    : `${who}, subject ${JSON.stringify(printable(subject))} (proven: it hashes to the record's subject hash ${shown(record.subjectHash).slice(0, 12)}…)`;
}

function sessionLine(record: AuditRecord): string {
  const parts = [
    `SourceIdentity ${shown(record.sourceIdentity)}`,
    `session name ${shown(record.roleSessionName)}`,
  ];
  if (record.sessionNamedBy === 'assertion') parts.push("both set by the IdP's assertion");
  return parts.join(', ');
}

export async function key(context: CommandContext, input: { args: [string] }): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const accessKeyId = checkAccessKeyId(input.args[0]);
  const records = await deps.openAuditLog(options).byAccessKey(accessKeyId);
  if (records.length === 0) {
    io.err(
      `${p.red('not found:')} no audit record in ${options.table} carries access key ${accessKeyId}. It may be older than the audit retention (auditRetentionDays, 90 by default), from another stage's table, vended less than a second ago (the index is eventually consistent), or not vended by this TVM (AKIA… keys belong to IAM users; the TVM vends only temporary ASIA… keys).`,
    );
    return EXIT.invalid;
  }
  for (const record of records) {
    const what = record.reason === 'reused' ? 'handed out again (reuse)' : 'vended';
    io.out(
      `${p.bold(`Access key ${accessKeyId}`)}: ${what} ${shown(record.at)}, request ${shown(record.requestId)} (${shown(record.route)})`,
    );
    const rows: [string, string][] = [
      ['who', whoLine(record)],
      ...(record.identityId === undefined
        ? []
        : [
            ['identity', `${shown(record.identityId)} (Cognito-compatible IdentityId)`] as [
              string,
              string,
            ],
          ]),
      ['mapping', shown(record.mappingId)],
      ['role', shown(record.roleArn)],
      ['session', sessionLine(record)],
      ['expires', shown(record.expiration)],
      ['source IP', shown(record.sourceIp)],
    ];
    for (const [label, text] of rows) io.out(`  ${label.padEnd(10)}${text}`);
  }
  const sourceIdentities = [
    ...new Set(records.flatMap((r) => (r.sourceIdentity === undefined ? [] : [r.sourceIdentity]))),
  ];
  io.out('CloudTrail:');
  io.out(
    `  calls made with this key     userIdentity.accessKeyId = '${accessKeyId}'  (event history: aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=${accessKeyId})`,
  );
  for (const sourceIdentity of sourceIdentities) {
    io.out(
      `  every session of the user    userIdentity.sessionContext.sourceIdentity = '${printable(sourceIdentity)}'  (also sessions chained from it)`,
    );
  }
  io.out(
    `  the vend itself              eventName = '${records.some((r) => r.sessionNamedBy === 'assertion') ? 'AssumeRoleWithSAML' : 'AssumeRole'}' AND responseElements.credentials.accessKeyId = '${accessKeyId}'`,
  );
  return EXIT.ok;
}
