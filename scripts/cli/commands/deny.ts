/** `deny add|remove|list`: refuse a principal from its next request, and lift that again. */

import { REVOKE_POLICY_NAME } from '#shared/admin/revoke.ts';
import { ValidationError } from '#shared/errors.ts';
import { type DenyEntry, inForce, legacyDenyPartition } from '#shared/guard/deny-list.ts';
import { type CommandContext, EXIT } from '../command.ts';
import { currentConfig, reportNoConfig } from '../config-source.ts';
import { issuerLine, knownProvider, principal, principalScope, printable } from '../principal.ts';

const DURATION_PATTERN = /^([1-9][0-9]{0,5})([smhdw])$/;
const DURATION_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 } as const;
/** A date (midnight UTC), or a date-time with an explicit zone: local time would be a guess. */
const ISO_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * `--until`: an ISO 8601 time with a zone, a date, or a duration from now (`30m`, `2h`, `7d`,
 * `2w`). Must be in the future: a past `until` would write an entry that never applies.
 */
export function parseUntil(text: string, now: Date): Date {
  let until: Date | undefined;
  const duration = DURATION_PATTERN.exec(text);
  if (duration?.[1] !== undefined && duration[2] !== undefined) {
    const unit = duration[2] as keyof typeof DURATION_SECONDS;
    until = new Date(now.getTime() + Number(duration[1]) * DURATION_SECONDS[unit] * 1000);
  } else {
    const parts = ISO_TIME_PATTERN.exec(text);
    if (parts !== null) {
      const [year, month, day, hour, minute, second, zoneHour, zoneMinute] = parts
        .slice(1)
        .map((part) => (part === undefined ? 0 : Number(part)));
      // Date.parse rolls 2025-02-30 over to March 2; refuse impossible dates instead.
      const daysInMonth = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
      const valid =
        (month ?? 0) >= 1 &&
        (month ?? 0) <= 12 &&
        (day ?? 0) >= 1 &&
        (day ?? 0) <= daysInMonth &&
        (hour ?? 0) <= 23 &&
        (minute ?? 0) <= 59 &&
        (second ?? 0) <= 59 &&
        (zoneHour ?? 0) <= 14 &&
        (zoneMinute ?? 0) <= 59;
      const ms = Date.parse(text);
      if (valid && !Number.isNaN(ms)) until = new Date(ms);
    }
  }
  if (until === undefined) {
    throw new ValidationError(
      `--until must be an ISO 8601 time with a zone (2030-05-01T12:00:00Z), a date (2030-05-01, midnight UTC) or a duration such as 30m, 2h, 7d, 2w; got ${JSON.stringify(text)}`,
    );
  }
  if (until.getTime() <= now.getTime()) {
    throw new ValidationError(
      `--until ${until.toISOString()} is not in the future (now ${now.toISOString()}); an entry that has already ended would deny nothing`,
    );
  }
  return until;
}

interface PrincipalInput {
  options: { provider: string; subject: string };
}

export async function add(
  context: CommandContext,
  input: {
    options: PrincipalInput['options'] & { until: string | undefined; reason: string | undefined };
  },
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const { provider, subject, reason } = input.options;
  // Checked before any AWS call: a bad --until must not leave a half-done command behind.
  const until =
    input.options.until === undefined ? undefined : parseUntil(input.options.until, deps.now());
  const current = await currentConfig(context);
  if (current === undefined || !knownProvider(context, current, provider)) return EXIT.invalid;
  const scope = principalScope(current, provider);
  if (scope === undefined) return EXIT.invalid;
  await deps.openDenyList(options).add({
    issuer: scope.issuer,
    provider,
    subject,
    ...(until === undefined ? {} : { until: until.toISOString() }),
    ...(reason === undefined ? {} : { reason }),
    by: options.by,
    at: deps.now().toISOString(),
  });
  const term = until === undefined ? 'until removed' : `until ${until.toISOString()}`;
  io.out(
    `${p.green('✓')} denied ${principal(provider, subject)} ${term}: the TVM refuses it from its next request (403 denied_principal)`,
  );
  io.out(issuerLine(scope));
  io.out('  Credentials already issued stay valid until they expire; `revoke` ends them too.');
  return EXIT.ok;
}

export async function remove(
  context: CommandContext,
  { options: { provider, subject } }: PrincipalInput,
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const current = await deps.openStore(options).current();
  const scope = principalScope(current, provider);
  // The issuer's entry and the legacy ones of every entry sharing it; for a provider that left
  // the config, its own legacy entry can still be lifted.
  const removed = await deps
    .openDenyList(options)
    .remove(scope?.issuer, subject, scope?.providers ?? [provider]);
  if (removed) {
    io.out(`${p.green('✓')} removed the deny entry of ${principal(provider, subject)}`);
    io.out(
      `  Sessions revoked earlier stay revoked (policy ${REVOKE_POLICY_NAME}); new ones are vended again.`,
    );
    return EXIT.ok;
  }
  if (current === undefined) {
    reportNoConfig(context);
    return EXIT.invalid;
  }
  if (!knownProvider(context, current, provider)) return EXIT.invalid;
  io.err(
    `${p.red('error:')} ${principal(provider, subject)} is not on the deny list; nothing was changed`,
  );
  return EXIT.invalid;
}

export async function list(
  context: CommandContext,
  { options: { provider } }: { options: { provider: string } },
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const current = await deps.openStore(options).current();
  const scope = principalScope(current, provider);
  const entries = await deps
    .openDenyList(options)
    .list(scope?.issuer, scope?.providers ?? [provider]);
  if (entries.length === 0) {
    if (current !== undefined && scope === undefined) {
      knownProvider(context, current, provider);
      return EXIT.invalid;
    }
    io.out(`No deny entries for provider ${provider}.`);
    return EXIT.ok;
  }
  if (scope === undefined) {
    io.err(
      `${p.yellow('warning:')} provider ${JSON.stringify(provider)} is not in the current config; these entries apply to nothing until it is back`,
    );
  } else {
    io.out(issuerLine(scope).trim());
  }
  const now = deps.now();
  // A legacy entry (keyed on a provider id, not an issuer) applies like any other.
  const via = (entry: DenyEntry) =>
    entry.issuer === undefined ? `${legacyDenyPartition(entry.provider)} (legacy)` : entry.provider;
  const rows = entries
    .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0))
    .map((entry) => ({
      active: inForce(entry, now),
      cells: [
        JSON.stringify(printable(entry.subject)),
        via(entry),
        inForce(entry, now) ? 'active' : 'expired',
        entry.until ?? 'never',
        printable(entry.by),
        entry.at,
        printable(entry.reason ?? ''),
      ],
    }));
  const header = ['subject', 'added via', 'state', 'until', 'by', 'at', 'reason'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row.cells[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  io.out(p.bold(line(header)));
  for (const row of rows) {
    const text = line(row.cells);
    io.out(row.active ? text : p.dim(text));
  }
  const expired = rows.filter((row) => !row.active).length;
  io.out(
    `${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}${expired === 0 ? '' : `, ${expired} expired (no longer enforced; DynamoDB TTL deletes them)`}`,
  );
  return EXIT.ok;
}
