/** `revoke`: deny a principal, then end the sessions already issued to it. */

import {
  type Origin,
  REVOKE_MARGIN_SECONDS,
  REVOKE_POLICY_NAME,
  type RevokeResult,
  ROLE_INLINE_POLICY_MAX_CHARS,
  type RoleOutcome,
  revokePrincipal,
} from '#shared/admin/revoke.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { type CommandContext, EXIT, type Paint } from '../command.ts';
import { currentConfig } from '../config-source.ts';
import { issuerLine, knownProvider, principal, printable } from '../principal.ts';

export async function revoke(
  context: CommandContext,
  input: {
    options: {
      provider: string;
      subject: string;
      reason: string | undefined;
      'dry-run': boolean;
      prune: boolean;
      'iam-profile': string | undefined;
    };
  },
): Promise<number> {
  const { deps, options } = context;
  const { provider, subject, reason } = input.options;
  const current = await currentConfig(context);
  if (current === undefined || !knownProvider(context, current, provider)) return EXIT.invalid;
  const result = await revokePrincipal(
    {
      provider,
      subject,
      ...(reason === undefined ? {} : { reason }),
      by: options.by,
      dryRun: input.options['dry-run'],
      prune: input.options.prune,
    },
    {
      config: current.config,
      denyList: deps.openDenyList(options),
      history: deps.openVendHistory(options),
      policies: deps.openIam(options, input.options['iam-profile']),
      loginSessions: deps.openLoginSessions(options),
      now: () => deps.now(),
    },
  );
  return printRevocation(context, result, current);
}

function printRevocation(
  { io, options, paint: p }: CommandContext,
  result: RevokeResult,
  current: ConfigGeneration,
): number {
  const out = (line: string) => io.out(line);
  const who = principal(result.denyEntry.provider, result.denyEntry.subject);
  const would = (done: string, planned: string) => (result.dryRun ? planned : done);
  out(
    `${result.dryRun ? `${p.yellow('dry run:')} ` : ''}revoking ${who} against generation ${current.generation} of ${options.table}`,
  );
  out(
    `${p.green('✓')} deny list: ${who} ${would('is denied', 'would be denied')} until removed; the TVM refuses it from its next request`,
  );
  out(issuerLine({ issuer: result.denyEntry.issuer, providers: result.providers }));
  if (result.loginSessionsEnded !== undefined) {
    out(
      `${p.green('✓')} terminal login sessions (tvm-login): ${result.loginSessionsEnded} ${would('ended', 'would be ended')}`,
    );
  }
  for (const { mappingId, roleArn } of result.plan.underivable) {
    out(
      `${p.yellow('warning:')} mapping ${mappingId} (${roleArn}): its sourceIdentity needs claims other than sub; only the values its audit records show are covered`,
    );
  }
  if (result.plan.targets.length === 0) {
    out(
      'No role to update: no mapping of these providers gives a source identity for the subject, and its audit records show no vends.',
    );
  } else {
    out(
      `Sessions issued before ${result.issuedBefore} (now + ${REVOKE_MARGIN_SECONDS} s) with these source identities (or, SAML native, session names) are denied every action, in inline policy ${REVOKE_POLICY_NAME}:`,
    );
  }
  for (const outcome of result.roles) {
    for (const line of roleLines(outcome, result.dryRun, p)) out(line);
  }
  const missed = result.roles.filter(
    (role) => role.status === 'skipped' || role.status === 'failed',
  ).length;
  for (const roleArn of result.plan.unparsable) {
    out(`  ${p.red('✗ failed ')}   ${roleArn}: not an IAM role ARN (from an audit record)`);
  }
  for (const { providerId } of result.plan.unknowable) {
    // Reporting success here would be false: the IdP names these sessions, and nothing says how.
    io.err(
      `${p.red('✗ not revoked:')} provider ${providerId} is in SAML native mode: its IdP names the sessions (RoleSessionName / SourceIdentity attributes), and no audit record of this principal says what it named them, so its sessions cannot be found. Revoke them role-wide (IAM console: "Revoke active sessions") on each role its mappings allow${result.dryRun ? '' : '; the deny entry is in place, but it does not bind whoever holds an assertion (docs/saml.md)'}`,
    );
  }
  const rolesMissed = missed + result.plan.unparsable.length;
  const unknowable = result.plan.unknowable.length;
  if (rolesMissed + unknowable > 0) {
    const what = [
      ...(rolesMissed > 0 ? [`${rolesMissed} role(s)`] : []),
      ...(unknowable > 0 ? [`the sessions of ${unknowable} native-mode provider(s)`] : []),
    ].join(' and ');
    io.err(
      `${p.red('✗ incomplete:')} ${what} not covered (see above)${result.dryRun ? '' : '; the deny entry is in place'}`,
    );
    return EXIT.upstream;
  }
  if (result.dryRun) out(p.yellow('dry run: nothing was changed'));
  return EXIT.ok;
}

function roleLines(outcome: RoleOutcome, dryRun: boolean, p: Paint): string[] {
  const { role } = outcome.target;
  const labels: Record<RoleOutcome['status'], [string, (text: string) => string]> = {
    updated: [dryRun ? '+ would update' : '✓ updated', p.green],
    unchanged: ['= unchanged', (text) => text],
    skipped: [dryRun ? '! would skip' : '! skipped', p.yellow],
    failed: [dryRun ? '✗ would fail' : '✗ failed', p.red],
  };
  const [text, colour] = labels[outcome.status];
  const label = colour(text.padEnd(dryRun ? 14 : 11));
  const size =
    outcome.chars === undefined
      ? ''
      : ` (${outcome.statements} statement(s), ${outcome.chars.toLocaleString('en-US')} of ${ROLE_INLINE_POLICY_MAX_CHARS.toLocaleString('en-US')} characters${outcome.pruned ? `, ${outcome.pruned} pruned` : ''})`;
  const lines = [`  ${label} ${role.roleArn}${size}`];
  if (outcome.reason !== undefined) lines.push(`      ${outcome.reason}`);
  const from = (origins: Origin[]) =>
    origins
      .map((origin) => (origin.kind === 'audit' ? 'audit records' : `mapping ${origin.mappingId}`))
      .join(', ');
  for (const [sourceIdentity, origins] of outcome.target.sourceIdentities) {
    lines.push(`      ${printable(sourceIdentity)}  ${p.dim(`from ${from(origins)}`)}`);
  }
  for (const [name, origins] of outcome.target.sessionNames) {
    lines.push(
      `      aws:userid *:${printable(name)}  ${p.dim(`session name set by the IdP, from ${from(origins)}`)}`,
    );
  }
  return lines;
}
