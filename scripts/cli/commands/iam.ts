/** `iam role-template`: the trust policy and CloudFormation for each mapped role. */

import {
  type MappingNeeds,
  type RoleTemplate,
  renderCloudFormation,
  roleTemplates,
  SAML_PROVIDER_ARN_PATTERN,
  SERVICE_NAME,
  tvmFunctionRoleArn,
} from '#shared/admin/role-template.ts';
import { ROLE_ARN_PATTERN } from '#shared/config/sts.ts';
import { ValidationError } from '#shared/errors.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';

export function checkRoleArn(text: string): void {
  if (!ROLE_ARN_PATTERN.test(text)) {
    throw new ValidationError(
      '--tvm-role-arn must be an IAM role ARN, arn:aws:iam::<account>:role/<path/name>',
    );
  }
}

export function checkAccount(text: string): void {
  if (!/^\d{12}$/.test(text)) throw new ValidationError('--account must be 12 digits');
}

/** serverless.yml's `rolePath` form: `tvm/`, `apps/tvm/`, or empty for every role. */
export function checkRolePath(text: string): void {
  if (!/^(?:[\w+=,.@-]+\/)*$/.test(text)) {
    throw new ValidationError(
      '--role-path must look like serverless.yml rolePath: names ending in "/", no leading "/" (tvm/)',
    );
  }
}

export function checkSamlProviderArn(text: string): void {
  if (!SAML_PROVIDER_ARN_PATTERN.test(text)) {
    throw new ValidationError(
      '--saml-provider-arn must be an IAM SAML provider ARN, arn:aws:iam::<account>:saml-provider/<name>',
    );
  }
}

function needsLine(need: MappingNeeds): string {
  if (need.vend === 'assume-role-with-saml') {
    return `mapping ${need.mappingId} (provider ${need.providerId}, SAML native): sts:AssumeRoleWithSAML by the IAM SAML provider, with the tags and SourceIdentity the assertion may carry; ${need.durationSeconds} s`;
  }
  const actions = [
    'sts:AssumeRole',
    'sts:SetSourceIdentity (every vend sets a SourceIdentity)',
    ...(need.tagReasons.length === 0 ? [] : [`sts:TagSession (${need.tagReasons.join('; ')})`]),
    ...(need.externalId === undefined ? [] : ['the sts:ExternalId condition']),
  ];
  return `mapping ${need.mappingId} (provider ${need.providerId}): ${actions.join(', ')}; ${need.durationSeconds} s`;
}

function printText(context: CommandContext, templates: RoleTemplate[]): void {
  const { io, paint: p } = context;
  for (const template of templates) {
    const { role } = template;
    io.out('');
    io.out(
      p.bold(`Role ${role.roleArn}`) +
        `  (MaxSessionDuration ${template.maxSessionDuration}; name ${role.roleName}, path ${role.path})`,
    );
    for (const need of template.mappings) io.out(`  ${needsLine(need)}`);
    io.out(
      `Trust policy (aws iam update-assume-role-policy --role-name ${role.roleName} --policy-document file://trust.json):`,
    );
    io.out(JSON.stringify(template.trustPolicy, null, 2));
    io.out('CloudFormation:');
    io.out(renderCloudFormation([template]).trimEnd());
  }
}

export async function roleTemplate(
  context: CommandContext,
  input: {
    options: {
      mapping: string | undefined;
      all: boolean;
      'tvm-role-arn': string | undefined;
      account: string | undefined;
      'role-path': string;
      'saml-provider-arn': string | undefined;
      format: 'text' | 'json' | 'cloudformation';
      config: string | undefined;
    };
  },
): Promise<number> {
  const { io, deps, options, paint: p } = context;
  const { mapping, all, account, format } = input.options;
  if ((mapping === undefined) === !all) {
    throw new UsageError('"iam role-template" needs --mapping <id> or --all (not both)');
  }
  let tvmRoleArn = input.options['tvm-role-arn'];
  let derivation = 'from --tvm-role-arn';
  if (tvmRoleArn === undefined) {
    const region = options.region ?? deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION;
    if (account === undefined || region === undefined) {
      throw new UsageError(
        '"iam role-template" needs --tvm-role-arn <arn>, or --account <id> and a region (--region or $AWS_REGION) to derive the function role of --stage',
      );
    }
    tvmRoleArn = tvmFunctionRoleArn({ account, stage: options.stage, region });
    derivation = `derived: the role osls names ${SERVICE_NAME}-<stage>-<region>-lambdaRole, stage ${options.stage}, region ${region}, account ${account}; pass --tvm-role-arn if the stack's role is named otherwise`;
  } else if (account !== undefined) {
    throw new UsageError('give --tvm-role-arn or --account, not both');
  }
  const loaded = await configOf(context, input.options.config);
  if (loaded === undefined) return EXIT.invalid;
  const { config, source } = loaded;
  if (mapping !== undefined && !config.mappings.some((candidate) => candidate.id === mapping)) {
    const known = config.mappings.map((candidate) => candidate.id).join(', ');
    io.err(
      `${p.red('error:')} mapping ${JSON.stringify(mapping)} is not in ${source}; its mappings are: ${known || '(none)'}`,
    );
    return EXIT.invalid;
  }
  const samlProviderArn = input.options['saml-provider-arn'];
  const templates = roleTemplates(config, mapping === undefined ? 'all' : { mappingId: mapping }, {
    tvmRoleArn,
    rolePath: input.options['role-path'],
    ...(samlProviderArn === undefined ? {} : { samlProviderArn }),
  });
  // In the machine formats stdout carries only the document; the rest goes to stderr.
  const note = (line: string) => (format === 'text' ? io.out(line) : io.err(line));
  note(`${p.bold('Config')}    ${source}`);
  note(`${p.bold('TVM role')}  ${tvmRoleArn} (${derivation})`);
  if (templates.length === 0) note('No mappings, so no roles.');
  if (format === 'json') {
    io.out(
      JSON.stringify(
        templates.map((template) => ({
          roleArn: template.role.roleArn,
          roleName: template.role.roleName,
          path: template.role.path,
          account: template.role.account,
          mappings: template.mappings,
          maxSessionDuration: template.maxSessionDuration,
          trustPolicy: template.trustPolicy,
          warnings: template.warnings,
        })),
        null,
        2,
      ),
    );
  } else if (format === 'cloudformation') {
    if (templates.length > 0) io.out(renderCloudFormation(templates).trimEnd());
  } else {
    printText(context, templates);
  }
  for (const template of templates) {
    for (const warning of template.warnings) {
      io.err(`${p.yellow('warning:')} ${template.role.roleArn}: ${warning}`);
    }
  }
  return EXIT.ok;
}
