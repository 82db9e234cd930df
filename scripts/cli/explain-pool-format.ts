/**
 * `tvm explain --identity-pool` as terminal lines: how the pool resolves the login, which of the
 * provider's mappings the call can reach, then the usual explanation and the Cognito answer.
 * Presentation only; shared/admin/explain-pool.ts computes it.
 */
import type { PoolExplanation } from '#shared/admin/explain-pool.ts';
import { formatExplanation, type Paint } from './explain-format.ts';

const label = (paint: Paint, text: string) => paint.bold(text.padEnd(14));

export function formatPoolExplanation(result: PoolExplanation, paint: Paint): string[] {
  if (result.kind === 'refused') {
    const { refusal } = result;
    return [
      `${paint.red(paint.bold('Refused:'))} ${refusal.exception} (audit reason ${refusal.reason}): ${refusal.detail}`,
    ];
  }
  const { pool, loginsKey, identityId, customRoleArn, mappings, explanation } = result;
  const provider = explanation.provider;
  const lines = [
    `${label(paint, 'Identity pool')}${pool.id}${pool.description === undefined ? '' : paint.dim(`  ${pool.description}`)}`,
    loginsKey === undefined
      ? `${label(paint, 'Login')}guest (no Logins) → guest provider "${provider.id}"`
      : `${label(paint, 'Login')}Logins key "${loginsKey}" → provider "${provider.id}"`,
    `${label(paint, 'IdentityId')}${identityId} ${paint.dim('(assumed to belong to this login; the table is not read)')}`,
  ];
  if (customRoleArn !== undefined) {
    lines.push(
      `${label(paint, 'CustomRoleArn')}${customRoleArn} ${paint.dim('(only mappings with this role)')}`,
    );
  }
  const reachable = mappings.filter((m) => m.reachable).length;
  const scope =
    pool.mappings === undefined
      ? 'the pool allows every mapping of its providers'
      : `the pool allows ${pool.mappings.length} mapping(s)`;
  lines.push(
    '',
    paint.bold(
      `Reachable: ${reachable} of ${mappings.length} mapping(s) of provider "${provider.id}" (${scope})`,
    ),
  );
  for (const { mapping, reachable: ok, excludedBy } of mappings) {
    const why =
      excludedBy === 'pool_mappings'
        ? "  not in the pool's `mappings`"
        : excludedBy === 'custom_role_arn'
          ? `  role ${mapping.roleArn} is not the CustomRoleArn`
          : '';
    lines.push(
      `  ${ok ? paint.green('✓') : paint.red('✗')} ${mapping.id}  priority ${mapping.priority}${paint.dim(why)}`,
    );
  }
  if (customRoleArn !== undefined && reachable === 0) {
    lines.push(
      `  ${paint.yellow('!')} no mapping of this provider that the pool allows has role ${customRoleArn}; CustomRoleArn never names a role by itself`,
    );
  }
  lines.push('', ...formatExplanation(explanation, paint));
  const { outcome } = explanation;
  lines.push('');
  if (outcome.kind === 'chosen') {
    lines.push(
      `${label(paint, 'Answer')}GetCredentialsForIdentity returns credentials for ${outcome.decision.roleArn}`,
    );
  } else {
    const reason = outcome.kind === 'denied' ? outcome.reason : 'invalid request';
    lines.push(
      `${label(paint, 'Answer')}${paint.red('NotAuthorizedException')} (audit reason ${reason}); the SDKs see no detail`,
    );
  }
  return lines;
}
