/**
 * The roles of the demo config, created in moto's IAM with the trust policies `iam role-template`
 * writes, so that `tvm doctor` passes on the stack `npm start` runs. moto evaluates no trust
 * policy: vending works without these; they are there to be checked.
 */
import {
  CreateRoleCommand,
  EntityAlreadyExistsException,
  IAMClient,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { roleTemplates, tvmFunctionRoleArn } from '#shared/admin/role-template.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { LOCAL_REGION } from './aws-stack.ts';

/** moto's account: the demo config's role ARNs name it. */
export const LOCAL_ACCOUNT = '123456789012';

/** The function role the local stage's trust policies name (as `tvm doctor` derives it). */
export const LOCAL_TVM_ROLE_ARN = tvmFunctionRoleArn({
  account: LOCAL_ACCOUNT,
  stage: 'local',
  region: LOCAL_REGION,
});

/** Creates (or brings up to date) every role of `config`; returns their ARNs. */
export async function ensureDemoRoles(endpoint: string, config: TvmConfig): Promise<string[]> {
  const iam = new IAMClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  try {
    const templates = roleTemplates(config, 'all', {
      tvmRoleArn: LOCAL_TVM_ROLE_ARN,
      samlProviderArn: `arn:aws:iam::${LOCAL_ACCOUNT}:saml-provider/tvm-local`,
    });
    for (const template of templates) {
      const RoleName = template.role.roleName;
      const document = JSON.stringify(template.trustPolicy);
      try {
        await iam.send(
          new CreateRoleCommand({
            RoleName,
            Path: template.role.path,
            AssumeRolePolicyDocument: document,
            MaxSessionDuration: template.maxSessionDuration,
            Description: 'TVM demo role (npm start)',
          }),
        );
      } catch (error) {
        if (!(error instanceof EntityAlreadyExistsException)) throw error;
        await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: document }));
        await iam.send(
          new UpdateRoleCommand({ RoleName, MaxSessionDuration: template.maxSessionDuration }),
        );
      }
    }
    return templates.map((template) => template.role.roleArn);
  } finally {
    iam.destroy();
  }
}
