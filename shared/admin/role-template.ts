/**
 * What a mapped role must say for the TVM to vend it: the trust policy (who may assume it, with
 * which session actions) and a CloudFormation resource with a MaxSessionDuration that fits. Pure:
 * it reads the config and the TVM's own role ARN, and calls nothing.
 *
 * - Chained mappings (OIDC, SAML `chained`, identity pools, guests): the TVM's function role calls
 *   `sts:AssumeRole`, always with a SourceIdentity (shared/mapping/render.ts renders one for every
 *   vend), and with session tags when the mapping sets any or an identity pool can reach it (every
 *   identity-pool session carries the `cognito-identity-id` tag). Each of those needs its own
 *   action in the trust policy: `sts:SetSourceIdentity`, `sts:TagSession`.
 * - SAML native mappings: `sts:AssumeRoleWithSAML` with the IdP's assertion, which needs no
 *   credentials at all; the role trusts the IAM SAML provider, not the TVM.
 */
import { Document, isMap, isScalar } from 'yaml';
import { identityPoolsOf, poolMappings } from '#shared/cognito/pools.ts';
import type { Mapping, Provider, TvmConfig } from '#shared/config/schema.ts';
import { ROLE_ARN_PATTERN, STS_LIMITS } from '#shared/config/sts.ts';

/** serverless.yml `service`: the first part of the function role's name. */
export const SERVICE_NAME = 'tvm';

/**
 * serverless.yml `params.default.rolePath`: the function role may assume only `role/<path>*`
 * (its `sts:AssumeRole` statement). A stage that sets another path passes `--role-path`.
 */
export const DEFAULT_ROLE_PATH = 'tvm/';

/** IAM `MaxSessionDuration`: 3,600 to 43,200 seconds (CreateRole API reference). */
export const MAX_SESSION_DURATION_RANGE = {
  min: 3600,
  max: STS_LIMITS.maxSamlDurationSeconds,
} as const;

/** The audience AWS checks on AssumeRoleWithSAML; what the console's SAML role wizard writes. */
export const AWS_SAML_AUDIENCE = 'https://signin.aws.amazon.com/saml';

/** Printed instead of an IAM SAML provider ARN nobody gave: IAM refuses it, so it cannot ship. */
export const SAML_PROVIDER_PLACEHOLDER = '<IAM SAML provider ARN>';

export const SAML_PROVIDER_ARN_PATTERN =
  /^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]{1,128}$/;

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov';

export function partitionOfRegion(region: string): Partition {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * The role osls gives the functions when serverless.yml names none: `<service>-<stage>-<region>-
 * lambdaRole` at path `/` (osls lib/plugins/aws/lib/naming.js, getRoleName and getRolePath). A
 * unit test reads serverless.yml to check that it still names none.
 */
export function tvmFunctionRoleArn(options: {
  account: string;
  stage: string;
  region: string;
}): string {
  const { account, stage, region } = options;
  return `arn:${partitionOfRegion(region)}:iam::${account}:role/${SERVICE_NAME}-${stage}-${region}-lambdaRole`;
}

export interface RoleRef {
  roleArn: string;
  partition: string;
  account: string;
  /** `/`, or `/tvm/` and the like: always starts and ends with `/`. */
  path: string;
  roleName: string;
}

export function parseRoleRef(roleArn: string): RoleRef | undefined {
  const match = ROLE_ARN_PATTERN.exec(roleArn);
  if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) {
    return undefined;
  }
  const pathAndName = roleArn.slice(roleArn.indexOf(':role/') + ':role/'.length);
  const path = `/${pathAndName.slice(0, pathAndName.length - match[3].length)}`;
  return { roleArn, partition: match[1], account: match[2], path, roleName: match[3] };
}

/** How the TVM vends one mapping, and therefore what its role must allow. */
export interface MappingNeeds {
  mappingId: string;
  providerId: string;
  vend: 'assume-role' | 'assume-role-with-saml';
  /** Why the session carries tags (empty: it never does): needs `sts:TagSession`. */
  tagReasons: string[];
  externalId?: string;
  durationSeconds: number;
}

function isNative(provider: Provider | undefined): boolean {
  return provider?.type === 'saml' && provider.mode === 'native';
}

export function mappingNeeds(config: TvmConfig, mapping: Mapping): MappingNeeds {
  const provider = config.providers.find((candidate) => candidate.id === mapping.provider);
  const native = isNative(provider);
  const tagReasons: string[] = [];
  if (!native) {
    if (Object.keys(mapping.sessionTags).length > 0) tagReasons.push('its sessionTags');
    // Guest mappings too: a pool with guests reaches its guest provider's mappings.
    for (const pool of identityPoolsOf(config)) {
      if (poolMappings(pool, config.mappings).some((reachable) => reachable.id === mapping.id)) {
        tagReasons.push(`identity pool ${pool.id} (tag cognito-identity-id)`);
      }
    }
  }
  return {
    mappingId: mapping.id,
    providerId: mapping.provider,
    vend: native ? 'assume-role-with-saml' : 'assume-role',
    tagReasons,
    ...(mapping.externalId === undefined || native ? {} : { externalId: mapping.externalId }),
    durationSeconds: mapping.durationSeconds,
  };
}

export interface TrustStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: { AWS: string } | { Federated: string };
  Action: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface TrustPolicy {
  Version: '2012-10-17';
  Statement: TrustStatement[];
}

export interface RoleTemplate {
  role: RoleRef;
  /** Every mapping of the config that names this role: the policy serves all of them. */
  mappings: MappingNeeds[];
  trustPolicy: TrustPolicy;
  maxSessionDuration: number;
  /** What would still fail or needs a hand; one line each. */
  warnings: string[];
}

export interface RoleTemplateOptions {
  /** The TVM's function role, which calls AssumeRole. */
  tvmRoleArn: string;
  /** serverless.yml `rolePath` of the stage (default `tvm/`). */
  rolePath?: string;
  /** The IAM SAML provider that native-mode roles trust; a placeholder when absent. */
  samlProviderArn?: string;
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The trust statements for the TVM's AssumeRole calls on one role. */
function chainedStatements(
  needs: readonly MappingNeeds[],
  tvmRoleArn: string,
  warnings: string[],
): TrustStatement[] {
  const withId = needs.filter((need) => need.externalId !== undefined);
  const externalIds = sortedUnique(withId.map((need) => need.externalId ?? ''));
  if (withId.length > 0 && withId.length < needs.length) {
    // A condition the others cannot meet would break them; leaving it out weakens nothing they rely on.
    warnings.push(
      `mappings ${withId.map((n) => n.mappingId).join(', ')} set an externalId but ${needs
        .filter((need) => need.externalId === undefined)
        .map((n) => n.mappingId)
        .join(
          ', ',
        )} on the same role do not, so the trust policy cannot require sts:ExternalId; give every mapping of this role one`,
    );
  }
  const requireExternalId = withId.length > 0 && withId.length === needs.length;
  const sessionActions = ['sts:SetSourceIdentity'];
  if (needs.some((need) => need.tagReasons.length > 0)) sessionActions.push('sts:TagSession');
  return [
    {
      Sid: 'TvmAssumeRole',
      Effect: 'Allow',
      Principal: { AWS: tvmRoleArn },
      Action: 'sts:AssumeRole',
      ...(requireExternalId
        ? {
            Condition: {
              StringEquals: {
                'sts:ExternalId': externalIds.length === 1 ? (externalIds[0] ?? '') : externalIds,
              },
            },
          }
        : {}),
    },
    // Apart from AssumeRole: these add to an AssumeRole call and allow nothing on their own, so
    // they need no ExternalId condition (and do not depend on which keys STS puts in their context).
    {
      Sid: 'TvmSessionAttributes',
      Effect: 'Allow',
      Principal: { AWS: tvmRoleArn },
      Action: sessionActions,
    },
  ];
}

function nativeStatement(samlProviderArn: string | undefined): TrustStatement {
  return {
    Sid: 'SamlNativeAssumeRole',
    Effect: 'Allow',
    Principal: { Federated: samlProviderArn ?? SAML_PROVIDER_PLACEHOLDER },
    // The IdP's assertion may carry PrincipalTag and SourceIdentity attributes; AWS then needs these.
    Action: ['sts:AssumeRoleWithSAML', 'sts:SetSourceIdentity', 'sts:TagSession'],
    Condition: { StringEquals: { 'SAML:aud': AWS_SAML_AUDIENCE } },
  };
}

/** True when the TVM's `sts:AssumeRole` resource `role/<rolePath>*` covers this role. */
export function underRolePath(role: RoleRef, rolePath: string): boolean {
  return `${role.path.slice(1)}${role.roleName}`.startsWith(rolePath);
}

function templateFor(
  role: RoleRef,
  needs: MappingNeeds[],
  options: RoleTemplateOptions,
): RoleTemplate {
  const warnings: string[] = [];
  const rolePath = options.rolePath ?? DEFAULT_ROLE_PATH;
  const chained = needs.filter((need) => need.vend === 'assume-role');
  const native = needs.filter((need) => need.vend === 'assume-role-with-saml');
  const statements: TrustStatement[] = [];
  if (chained.length > 0) {
    statements.push(...chainedStatements(chained, options.tvmRoleArn, warnings));
    if (!underRolePath(role, rolePath)) {
      warnings.push(
        `the role's path ${role.path} is outside /${rolePath}: the TVM's function role may call sts:AssumeRole only on role/${rolePath}* (serverless.yml rolePath), so vends of ${chained.map((n) => n.mappingId).join(', ')} fail with 403 sts_misconfigured until the role moves (or --role-path names the stage's rolePath)`,
      );
    }
  }
  if (native.length > 0) {
    statements.push(nativeStatement(options.samlProviderArn));
    if (options.samlProviderArn === undefined) {
      warnings.push(
        `${native.map((n) => n.mappingId).join(', ')} use SAML native mode (AssumeRoleWithSAML): replace "${SAML_PROVIDER_PLACEHOLDER}" with the IAM SAML provider that the IdP's Role attribute names (or pass --saml-provider-arn)`,
      );
    }
  }
  // Chained sessions are capped at 1 h whatever the role allows; native ones go up to 12 h.
  const longest = Math.max(...needs.map((need) => need.durationSeconds));
  const maxSessionDuration = Math.min(
    MAX_SESSION_DURATION_RANGE.max,
    Math.max(MAX_SESSION_DURATION_RANGE.min, longest),
  );
  return {
    role,
    mappings: needs,
    trustPolicy: { Version: '2012-10-17', Statement: statements },
    maxSessionDuration,
    warnings,
  };
}

/**
 * One template per distinct role of the chosen mappings (all of them for `'all'`), each covering
 * every mapping of the config that names the role, since one trust policy serves them all.
 * Roles are compared by ARN; IAM ignores the path, so two ARNs that differ only in path and name
 * the same role in one account are reported.
 */
export function roleTemplates(
  config: TvmConfig,
  selection: { mappingId: string } | 'all',
  options: RoleTemplateOptions,
): RoleTemplate[] {
  const chosen =
    selection === 'all'
      ? config.mappings
      : config.mappings.filter((mapping) => mapping.id === selection.mappingId);
  if (chosen.length === 0 && selection !== 'all') {
    throw new Error(`mapping "${selection.mappingId}" is not in the config`);
  }
  const roleArns = sortedUnique(chosen.map((mapping) => mapping.roleArn));
  const templates = roleArns.map((roleArn) => {
    const role = parseRoleRef(roleArn);
    if (role === undefined) throw new Error(`"${roleArn}" is not an IAM role ARN`);
    const needs = config.mappings
      .filter((mapping) => mapping.roleArn === roleArn)
      .map((mapping) => mappingNeeds(config, mapping));
    return templateFor(role, needs, options);
  });
  const byName = new Map<string, RoleTemplate[]>();
  for (const template of templates) {
    const key = `${template.role.partition}:${template.role.account}:${template.role.roleName}`;
    byName.set(key, [...(byName.get(key) ?? []), template]);
  }
  for (const same of byName.values()) {
    if (same.length < 2) continue;
    for (const template of same) {
      template.warnings.push(
        `${same.map((t) => t.role.roleArn).join(' and ')} are one role to IAM (names are unique per account, paths are not): use one ARN in every mapping`,
      );
    }
  }
  return templates;
}

/** `TvmRole` + the role name in PascalCase: CloudFormation logical ids are alphanumeric. */
function logicalId(roleName: string, taken: Set<string>): string {
  const base = `TvmRole${roleName
    .split(/[^A-Za-z0-9]+/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('')}`;
  let id = base;
  for (let n = 2; taken.has(id); n += 1) id = `${base}${n}`;
  taken.add(id);
  return id;
}

/** A CloudFormation `AWS::IAM::Role` per template: name, path, MaxSessionDuration and trust. */
export function cloudFormationResources(
  templates: readonly RoleTemplate[],
): Record<string, { Type: 'AWS::IAM::Role'; Properties: Record<string, unknown> }> {
  const taken = new Set<string>();
  return Object.fromEntries(
    templates.map((template) => [
      logicalId(template.role.roleName, taken),
      {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: template.role.roleName,
          Path: template.role.path,
          MaxSessionDuration: template.maxSessionDuration,
          AssumeRolePolicyDocument: template.trustPolicy,
        },
      },
    ]),
  );
}

/**
 * The resources as a YAML `Resources:` block, each with a comment naming its mappings and
 * account. It grants the sessions nothing: what they may do (Policies, ManagedPolicyArns) is the
 * operator's to add.
 */
export function renderCloudFormation(templates: readonly RoleTemplate[]): string {
  // YAML 1.1 rules, as CloudFormation and cfn-lint read templates: "2012-10-17" stays quoted.
  const document = new Document(
    { Resources: cloudFormationResources(templates) },
    { version: '1.1' },
  );
  document.commentBefore =
    ' Trust policies only: add what the sessions may do (Policies, ManagedPolicyArns).';
  const block = document.get('Resources');
  if (isMap(block)) {
    block.items.forEach((pair, index) => {
      const template = templates[index];
      if (template === undefined || !isScalar(pair.key)) return;
      const mappings = template.mappings.map((need) => need.mappingId).join(', ');
      pair.key.commentBefore = ` ${template.role.roleArn}: deploy in account ${template.role.account}\n mappings: ${mappings}`;
    });
  }
  return document.toString({ lineWidth: 0 });
}
