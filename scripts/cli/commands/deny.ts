/** `deny add|remove|list`: refuse a principal from its next request, and lift that again. */

import { REVOKE_POLICY_NAME } from '#shared/admin/revoke.ts';
import { type DenyEntry, inForce, legacyDenyPartition } from '#shared/guard/deny-list.ts';
import { type CommandContext, EXIT } from '../command.ts';
import { currentConfig, reportNoConfig } from '../config-source.ts';
import { issuerLine, knownProvider, principal, principalScope, printable } from '../principal.ts';
import { parseUntil } from '../time.ts';

/** `deny add --until`; the parser lives with `--since` in ../time.ts. */
export { parseUntil };

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
  // A login session would outlive the entry's removal: ended now, not merely refused.
  const ended = await deps
    .openLoginSessions(options)
    .endPrincipalSessions(scope.issuer, subject, deps.now());
  io.out(`${p.green('✓')} ended ${ended} terminal login session(s) (tvm-login) of this principal`);
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
