/** `doctor`: checks a stage end to end, one line per check; exit 1 when any check fails. */

import {
  type CheckResult,
  type CheckStatus,
  defaultSamlKeyParameter,
  runDoctor,
} from '#shared/admin/doctor.ts';
import { type CommandContext, EXIT, type Paint, UsageError } from '../command.ts';

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

function label(status: CheckStatus, paint: Paint): string {
  const text = LABEL[status];
  return status === 'ok'
    ? paint.green(text)
    : status === 'warn'
      ? paint.yellow(text)
      : paint.red(text);
}

function counts(checks: readonly CheckResult[]): Record<CheckStatus, number> {
  const tally: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0 };
  for (const check of checks) tally[check.status] += 1;
  return tally;
}

export async function doctor(
  context: CommandContext,
  input: {
    options: {
      'tvm-role-arn': string | undefined;
      account: string | undefined;
      'role-path': string;
      'saml-key-parameter': string | undefined;
      format: 'text' | 'json';
    };
  },
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const { account, format } = input.options;
  const tvmRoleArn = input.options['tvm-role-arn'];
  if (tvmRoleArn !== undefined && account !== undefined) {
    throw new UsageError('give --tvm-role-arn or --account, not both');
  }
  const region = options.region ?? deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION;
  const samlKeyParameter =
    input.options['saml-key-parameter'] ??
    deps.env.TVM_SAML_SIGNING_KEY_PARAMETER ??
    defaultSamlKeyParameter(options.stage);
  const { aws, fetch } = deps.openDoctor(options);
  const report = await runDoctor(
    { aws, fetch, store: deps.openStore(options), now: deps.now },
    {
      stage: options.stage,
      table: options.table,
      region,
      rolePath: input.options['role-path'],
      samlKeyParameter,
      ...(tvmRoleArn === undefined ? {} : { tvmRoleArn }),
      ...(account === undefined ? {} : { account }),
    },
  );
  const tally = counts(report.checks);
  const failed = tally.fail > 0;
  if (format === 'json') {
    io.out(
      JSON.stringify(
        {
          ok: !failed,
          stage: options.stage,
          table: options.table,
          tvmRole: report.tvmRole ?? null,
          config: report.config ?? null,
          counts: tally,
          checks: report.checks,
        },
        null,
        2,
      ),
    );
    return failed ? EXIT.invalid : EXIT.ok;
  }
  io.out(
    `${p.bold('Stage')}     ${options.stage}, table ${options.table}${region === undefined ? '' : `, region ${region}`}`,
  );
  io.out(
    `${p.bold('TVM role')}  ${
      report.tvmRole === undefined
        ? 'unknown (pass --tvm-role-arn, or --account and --region): trust policies are not checked'
        : `${report.tvmRole.arn} (${report.tvmRole.derivation})`
    }`,
  );
  for (const check of report.checks) {
    io.out(`${label(check.status, p)}  ${check.subject}: ${check.detail}`);
    if (check.status !== 'ok' && check.fix !== undefined)
      io.out(`      ${p.dim('fix:')} ${check.fix}`);
  }
  const summary = `${tally.fail} failed, ${tally.warn} warning${tally.warn === 1 ? '' : 's'}, ${tally.ok} ok`;
  io.out(failed ? p.red(summary) : tally.warn > 0 ? p.yellow(summary) : p.green(summary));
  return failed ? EXIT.invalid : EXIT.ok;
}
