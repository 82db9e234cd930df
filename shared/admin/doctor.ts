/**
 * `tvm doctor`: checks a deployed (or local) stage end to end, one result per check, each failure
 * with the fix in one line. It reads only: DynamoDB DescribeTable/DescribeTimeToLive and the
 * config, IAM GetRole, SSM GetParameter, STS GetCallerIdentity, and HTTP GETs of each OIDC issuer's
 * discovery document and JWKS. The judgements are pure functions of what those calls returned; the
 * calls go through the `DoctorAws` port, so the checks run against fakes, moto or AWS alike.
 */
import { X509Certificate } from 'node:crypto';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { JSONWebKeySet } from 'jose';
import { createKeySource } from '#shared/auth/jwks.ts';
import type { OidcProvider, SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import type { ConfigAdmin } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ConfigInvalidError } from '#shared/errors.ts';
import { parseSigningKey } from '#shared/saml/signing-key.ts';
import { ACCESS_KEY_INDEX, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/store/table.ts';
import { metadataSigningCertificates } from '#shared/xml/saml-metadata.ts';
import {
  AWS_SAML_AUDIENCE,
  type MappingNeeds,
  mappingNeeds,
  parseRoleRef,
  type RoleRef,
  SERVICE_NAME,
  tvmFunctionRoleArn,
  underRolePath,
} from './role-template.ts';
import {
  decodePolicyDocument,
  evaluateTrust,
  type KeyValue,
  type RequestPrincipal,
  type TrustVerdict,
} from './trust-policy.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** Stable names of the checks, for `--format json` and the tests. */
export type CheckId =
  | 'aws.identity'
  | 'table'
  | 'table.ttl'
  | 'config'
  | 'role.exists'
  | 'role.trust'
  | 'role.external-id'
  | 'role.max-session'
  | 'role.path'
  | 'oidc.discovery'
  | 'oidc.jwks'
  | 'saml.certificate'
  | 'saml.signing-key';

export interface CheckResult {
  check: CheckId;
  status: CheckStatus;
  subject: string;
  detail: string;
  /** One line: what to do. Present on every `warn` and `fail`. */
  fix?: string;
}

/** A certificate this close to its notAfter is a warning: time to pin the next one. */
export const CERTIFICATE_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * serverless.yml `params.default.samlSigningKeyParameter` (a unit test reads it): the SecureString
 * holding the SP key pair of providers with `signAuthnRequests`.
 */
export function defaultSamlKeyParameter(stage: string): string {
  return `/tvm/${stage}/saml-signing-key`;
}

export interface TableFacts {
  status: string;
  hashKey: string | undefined;
  rangeKey: string | undefined;
  indexes: string[];
}

export interface RoleFacts {
  arn: string;
  maxSessionDuration: number;
  /** As IAM returns it: URL-encoded JSON. */
  trustPolicy: string;
}

/** The AWS calls the doctor makes; every one only reads. */
export interface DoctorAws {
  callerIdentity(): Promise<{ account: string; arn: string }>;
  /** undefined when the table does not exist. */
  describeTable(name: string): Promise<TableFacts | undefined>;
  describeTimeToLive(name: string): Promise<{ status: string; attribute: string | undefined }>;
  /** undefined when IAM has no role of that name. */
  getRole(name: string): Promise<RoleFacts | undefined>;
  /** The decrypted value; undefined when the parameter does not exist. */
  getParameter(name: string): Promise<string | undefined>;
}

export interface DoctorDeps {
  aws: DoctorAws;
  store: Pick<ConfigAdmin, 'pointer' | 'load'>;
  fetch: typeof fetch;
  now: () => Date;
}

export interface DoctorOptions {
  stage: string;
  table: string;
  /** For deriving the function role's name; undefined when no region is known. */
  region: string | undefined;
  /** `--tvm-role-arn`: wins over any derivation. */
  tvmRoleArn?: string;
  /** `--account`: the TVM's account, when it is not the caller's. */
  account?: string;
  /** serverless.yml `rolePath` of the stage. */
  rolePath: string;
  samlKeyParameter: string;
}

export interface DoctorReport {
  checks: CheckResult[];
  /** The role the trust policies must trust, and how it was found; undefined when unknown. */
  tvmRole: { arn: string; derivation: string } | undefined;
  config: { generation: number; hash: string } | undefined;
}

function errorText(error: unknown): string {
  const { name, message, cause } = (error ?? {}) as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  const base = `${name && name !== 'Error' ? `${name}: ` : ''}${message ?? String(error)}`;
  const why = cause?.code ?? cause?.message;
  return why === undefined ? base : `${base} (${why})`;
}

function errorName(error: unknown): string {
  return (error as { name?: string } | null)?.name ?? '';
}

const list = (items: readonly string[]) => items.join(', ');

// ---------------------------------------------------------------------------------------------
// The table

export function judgeTable(
  table: string,
  facts: TableFacts | undefined,
  stage: string,
): CheckResult {
  const subject = `table ${table}`;
  if (facts === undefined) {
    return {
      check: 'table',
      status: 'fail',
      subject,
      detail: 'does not exist in this account and region',
      fix:
        stage === 'local'
          ? '`npm start` (or `npm run local:aws -- start`) creates it; check --table and --endpoint-url'
          : `deploy the stack (\`serverless deploy --stage ${stage}\`), or pass the right --table and --region`,
    };
  }
  if (facts.hashKey !== TABLE_KEYS.partition || facts.rangeKey !== TABLE_KEYS.sort) {
    return {
      check: 'table',
      status: 'fail',
      subject,
      detail: `has the keys ${facts.hashKey ?? '-'}/${facts.rangeKey ?? '-'}, not ${TABLE_KEYS.partition}/${TABLE_KEYS.sort}: it is not a TVM table`,
      fix: 'pass the TVM table with --table (serverless.yml names it tvm-<stage>)',
    };
  }
  if (facts.status !== 'ACTIVE') {
    return {
      check: 'table',
      status: 'warn',
      subject,
      detail: `is ${facts.status}, not ACTIVE`,
      fix: 'wait for the table update to finish, then run the doctor again',
    };
  }
  if (!facts.indexes.includes(ACCESS_KEY_INDEX.name)) {
    return {
      check: 'table',
      status: 'warn',
      subject,
      detail: `has no index ${ACCESS_KEY_INDEX.name}: \`tvm audit key\` cannot find keys (vending is unaffected)`,
      fix: 'deploy the stack again: serverless.yml adds the index',
    };
  }
  return {
    check: 'table',
    status: 'ok',
    subject,
    detail: `ACTIVE, keys ${TABLE_KEYS.partition}/${TABLE_KEYS.sort}, index ${ACCESS_KEY_INDEX.name}`,
  };
}

export function judgeTimeToLive(
  table: string,
  ttl: { status: string; attribute: string | undefined },
): CheckResult {
  const subject = `table ${table} TTL`;
  const enable = `aws dynamodb update-time-to-live --table-name ${table} --time-to-live-specification Enabled=true,AttributeName=${TTL_ATTRIBUTE}`;
  if (ttl.attribute !== undefined && ttl.attribute !== TTL_ATTRIBUTE) {
    return {
      check: 'table.ttl',
      status: 'fail',
      subject,
      detail: `is ${ttl.status} on ${ttl.attribute}, not ${TTL_ATTRIBUTE}: replay guards, rate-limit counters and audit records never expire`,
      fix: `disable TTL on ${ttl.attribute}, then: ${enable}`,
    };
  }
  if (ttl.status === 'ENABLED') {
    return { check: 'table.ttl', status: 'ok', subject, detail: `enabled on ${TTL_ATTRIBUTE}` };
  }
  if (ttl.status === 'ENABLING') {
    return {
      check: 'table.ttl',
      status: 'warn',
      subject,
      detail: `is being enabled on ${TTL_ATTRIBUTE}`,
      fix: 'wait (up to an hour), then run the doctor again',
    };
  }
  return {
    check: 'table.ttl',
    status: 'fail',
    subject,
    detail: `is ${ttl.status}: replay guards, rate-limit counters and audit records never expire`,
    fix: enable,
  };
}

// ---------------------------------------------------------------------------------------------
// The config

async function checkConfig(
  deps: DoctorDeps,
  options: DoctorOptions,
): Promise<{ result: CheckResult; config?: TvmConfig; generation?: number; hash?: string }> {
  const subject = `config in ${options.table}`;
  const pointer = await deps.store.pointer();
  if (pointer === undefined) {
    return {
      result: {
        check: 'config',
        status: 'fail',
        subject,
        detail: 'no config has been applied: every request fails with 503',
        fix: `npm run tvm -- config apply <file> --stage ${options.stage}`,
      },
    };
  }
  let loaded: Awaited<ReturnType<typeof deps.store.load>>;
  try {
    loaded = await deps.store.load(pointer.generation);
  } catch (error) {
    const problems =
      error instanceof ConfigInvalidError
        ? error.problems.map((problem) => `${problem.path} ${problem.message}`)
        : [errorText(error)];
    return {
      result: {
        check: 'config',
        status: 'fail',
        subject: `config generation ${pointer.generation}`,
        detail: `does not load: ${problems.join('; ')}`,
        fix: 'npm run tvm -- config rollback (or apply the file again)',
      },
    };
  }
  const subjectOf = `config generation ${loaded.generation} (sha256 ${loaded.hash.slice(0, 12)})`;
  // Today's rules, today's clock: an expired certificate or a rule added since the apply shows here.
  const validated = validateConfig(loaded.config, { stage: options.stage, now: deps.now() });
  const counts = `${loaded.config.providers.length} providers, ${loaded.config.mappings.length} mappings`;
  const base = { config: loaded.config, generation: loaded.generation, hash: loaded.hash };
  if (!validated.ok) {
    return {
      ...base,
      result: {
        check: 'config',
        status: 'fail',
        subject: subjectOf,
        detail: `loads, but does not validate for stage ${options.stage}: ${validated.problems
          .map((problem) => `${problem.path} ${problem.message}`)
          .join('; ')}`,
        fix: `npm run tvm -- config export > tvm.yaml, fix the problems listed, then config apply tvm.yaml --stage ${options.stage}`,
      },
    };
  }
  return {
    ...base,
    config: validated.config,
    result: {
      check: 'config',
      status: 'ok',
      subject: subjectOf,
      detail: `loads and validates (${counts}; applied ${loaded.createdAt} by ${loaded.createdBy})`,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Roles

/** The TVM's function role as the trust policies must name it (an AssumeRole caller's identity). */
export interface TvmRole {
  arn: string;
  account: string;
  partition: string;
}

/** A value that stands for "any other external id": the trust must refuse it. */
const WRONG_EXTERNAL_ID = 'tvm-doctor-not-the-external-id';

/** What STS puts in the request context of the TVM's AssumeRole calls, as far as it is known. */
function chainedContext(tvm: TvmRole, externalId: string | null): Record<string, KeyValue> {
  return {
    'sts:ExternalId':
      externalId === null ? { present: false } : { present: true, value: externalId },
    'aws:PrincipalArn': { present: true, value: tvm.arn },
    'aws:PrincipalAccount': { present: true, value: tvm.account },
    // Every vend sets a SourceIdentity and a session name; their values vary by user.
    'sts:SourceIdentity': { present: true },
    'sts:RoleSessionName': { present: true },
  };
}

interface Need {
  action: string;
  /** Why the TVM needs it, for the message. */
  because: string;
  verdict: TrustVerdict;
}

function chainedNeeds(policy: unknown, tvm: TvmRole, need: MappingNeeds): Need[] {
  const principal: RequestPrincipal = {
    type: 'AWS',
    arn: tvm.arn,
    account: tvm.account,
    partition: tvm.partition,
  };
  const context = chainedContext(tvm, need.externalId ?? null);
  const ask = (action: string) => evaluateTrust(policy, { principal, action, context });
  const mapping = `mapping ${need.mappingId}`;
  const needs: Need[] = [
    {
      action: 'sts:AssumeRole',
      because: need.externalId === undefined ? mapping : `${mapping}, with its externalId`,
      verdict: ask('sts:AssumeRole'),
    },
    {
      action: 'sts:SetSourceIdentity',
      because: `${mapping}: every vend sets a SourceIdentity`,
      verdict: ask('sts:SetSourceIdentity'),
    },
  ];
  if (need.tagReasons.length > 0) {
    needs.push({
      action: 'sts:TagSession',
      because: `${mapping}: ${need.tagReasons.join('; ')}`,
      verdict: ask('sts:TagSession'),
    });
  }
  return needs;
}

/**
 * SAML native mode: AWS itself checks the IdP's assertion; the role must trust an IAM SAML
 * provider for AssumeRoleWithSAML with the audience AWS's sign-in endpoint. Which provider the
 * IdP's Role attribute names, and the tags or SourceIdentity the assertion may carry, are not in
 * the config, so they are not checked.
 */
function nativeNeeds(policy: unknown, need: MappingNeeds): Need[] {
  return [
    {
      action: 'sts:AssumeRoleWithSAML',
      because: `mapping ${need.mappingId} (SAML native) by an IAM SAML provider`,
      verdict: evaluateTrust(policy, {
        principal: { type: 'Federated', samlProvider: true },
        action: 'sts:AssumeRoleWithSAML',
        context: { 'SAML:aud': { present: true, value: AWS_SAML_AUDIENCE } },
      }),
    },
  ];
}

export interface RoleContext {
  /** undefined when the doctor could not tell which role the TVM runs as. */
  tvm: TvmRole | undefined;
  rolePath: string;
  /** `iam role-template` options that reproduce this run, for the fix lines. */
  templateHint: string;
}

function templateCommand(needs: readonly MappingNeeds[], hint: string): string {
  return `npm run tvm -- iam role-template --mapping ${needs[0]?.mappingId ?? '<id>'}${hint}`;
}

function actionsOf(asked: readonly Need[], saml: boolean): string[] {
  const actions = asked
    .map((n) => n.action)
    .filter((a) => (a === 'sts:AssumeRoleWithSAML') === saml);
  return [...new Set(actions)];
}

export function judgeTrust(
  role: RoleRef,
  needs: readonly MappingNeeds[],
  facts: RoleFacts,
  context: RoleContext,
): CheckResult {
  const subject = `role ${role.roleArn} trust policy`;
  const fixPolicy = `${templateCommand(needs, context.templateHint)} prints the policy; aws iam update-assume-role-policy --role-name ${role.roleName} --policy-document file://trust.json`;
  let policy: unknown;
  try {
    policy = decodePolicyDocument(facts.trustPolicy);
  } catch (error) {
    return {
      check: 'role.trust',
      status: 'warn',
      subject,
      detail: `cannot be read as JSON (${errorText(error)})`,
      fix: fixPolicy,
    };
  }
  const chained = needs.filter((need) => need.vend === 'assume-role');
  const native = needs.filter((need) => need.vend === 'assume-role-with-saml');
  if (chained.length > 0 && context.tvm === undefined) {
    return {
      check: 'role.trust',
      status: 'warn',
      subject,
      detail: "not checked: which role the TVM's functions run as is unknown",
      fix: 'pass --tvm-role-arn <arn> (or --account <id> and --region)',
    };
  }
  const tvm = context.tvm;
  const asked = [
    ...(tvm === undefined ? [] : chained.flatMap((need) => chainedNeeds(policy, tvm, need))),
    ...native.flatMap((need) => nativeNeeds(policy, need)),
  ];
  const refused = asked.filter((n) => n.verdict.result === 'none' || n.verdict.result === 'deny');
  const unsure = asked.filter((n) => n.verdict.result === 'unknown');
  const who = tvm === undefined ? '' : ` ${tvm.arn}`;
  if (refused.length > 0) {
    const lines = refused.map((n) =>
      n.verdict.result === 'deny'
        ? `${n.action} is denied by ${n.verdict.statement} (${n.because})`
        : `${n.action} is not allowed (${n.because})`,
    );
    const notes = [
      ...new Set(refused.flatMap((n) => (n.verdict.result === 'none' ? n.verdict.notes : []))),
    ];
    const denied = refused.some((n) => n.verdict.result === 'deny');
    return {
      check: 'role.trust',
      status: 'fail',
      subject,
      detail: `for${who}: ${lines.join('; ')}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`,
      fix: denied ? `narrow the Deny statement so it spares the TVM; ${fixPolicy}` : fixPolicy,
    };
  }
  if (unsure.length > 0) {
    const why = [
      ...new Set(unsure.flatMap((n) => (n.verdict.result === 'unknown' ? n.verdict.why : []))),
    ];
    return {
      check: 'role.trust',
      status: 'warn',
      subject,
      detail: `cannot tell whether it allows ${list([...new Set(unsure.map((n) => n.action))])}: ${why.join('; ')}`,
      fix: `check it by hand, or replace it: ${fixPolicy}`,
    };
  }
  return {
    check: 'role.trust',
    status: 'ok',
    subject,
    detail: `allows ${[
      ...(chained.length === 0 ? [] : [`${tvm?.arn} ${list(actionsOf(asked, false))}`]),
      ...(native.length === 0 ? [] : [`an IAM SAML provider ${list(actionsOf(asked, true))}`]),
    ].join('; ')}`,
  };
}

/**
 * An ExternalId protects only if the trust requires it: the AssumeRole must be refused without
 * it and with any other value (the confused-deputy defence the mapping's externalId asks for).
 */
export function judgeExternalId(
  role: RoleRef,
  needs: readonly MappingNeeds[],
  facts: RoleFacts,
  context: RoleContext,
): CheckResult | undefined {
  const chained = needs.filter((need) => need.vend === 'assume-role');
  const withId = chained.filter((need) => need.externalId !== undefined);
  if (withId.length === 0) return undefined;
  const subject = `role ${role.roleArn} sts:ExternalId`;
  const ids = list(withId.map((need) => need.mappingId));
  const fix = `add "Condition": {"StringEquals": {"sts:ExternalId": <the mapping's externalId>}} to the statement that allows sts:AssumeRole; ${templateCommand(withId, context.templateHint)} prints it`;
  if (context.tvm === undefined) {
    return {
      check: 'role.external-id',
      status: 'warn',
      subject,
      detail: "not checked: which role the TVM's functions run as is unknown",
      fix: 'pass --tvm-role-arn <arn> (or --account <id> and --region)',
    };
  }
  let policy: unknown;
  try {
    policy = decodePolicyDocument(facts.trustPolicy);
  } catch {
    return {
      check: 'role.external-id',
      status: 'warn',
      subject,
      detail: 'not checked: the trust policy is not JSON',
      fix,
    };
  }
  const tvm = context.tvm;
  const principal: RequestPrincipal = { type: 'AWS', ...tvm };
  const refusedWithId = withId.filter(
    (need) =>
      evaluateTrust(policy, {
        principal,
        action: 'sts:AssumeRole',
        context: chainedContext(tvm, need.externalId ?? null),
      }).result !== 'allow',
  );
  if (refusedWithId.length > 0) {
    // The trust line reports that refusal; whether the id is required cannot be seen past it.
    return {
      check: 'role.external-id',
      status: 'warn',
      subject,
      detail: `not checked: sts:AssumeRole with the externalId of ${list(refusedWithId.map((n) => n.mappingId))} is not allowed (see the trust policy line)`,
      fix,
    };
  }
  const probes = [null, WRONG_EXTERNAL_ID].map((externalId) =>
    evaluateTrust(policy, {
      principal,
      action: 'sts:AssumeRole',
      context: chainedContext(tvm, externalId),
    }),
  );
  const allowedBy = probes.flatMap((v) => (v.result === 'allow' ? [v.statement] : []));
  if (allowedBy.length > 0) {
    const others = chained.filter((need) => need.externalId === undefined);
    if (others.length > 0) {
      return {
        check: 'role.external-id',
        status: 'warn',
        subject,
        detail: `not required: ${ids} set an externalId but ${list(others.map((n) => n.mappingId))} on the same role do not, so ${allowedBy[0]} must allow sts:AssumeRole without one`,
        fix: 'give every mapping of this role the same externalId (or a role of its own), then require it in the trust policy',
      };
    }
    return {
      check: 'role.external-id',
      status: 'fail',
      subject,
      detail: `not required: ${allowedBy[0]} lets ${tvm.arn} call sts:AssumeRole without the externalId of ${ids} (or with another value)`,
      fix,
    };
  }
  const unsure = probes.flatMap((v) => (v.result === 'unknown' ? v.why : []));
  if (unsure.length > 0) {
    return {
      check: 'role.external-id',
      status: 'warn',
      subject,
      detail: `cannot tell whether sts:AssumeRole requires it: ${[...new Set(unsure)].join('; ')}`,
      fix: `check it by hand, or ${fix}`,
    };
  }
  return {
    check: 'role.external-id',
    status: 'ok',
    subject,
    detail: `required by the trust policy (mappings ${ids})`,
  };
}

export function judgeMaxSession(
  role: RoleRef,
  needs: readonly MappingNeeds[],
  facts: RoleFacts,
): CheckResult {
  const subject = `role ${role.roleArn} MaxSessionDuration`;
  const longest = needs.reduce(
    (max, need) => (need.durationSeconds > max.durationSeconds ? need : max),
    needs[0] as MappingNeeds,
  );
  if (facts.maxSessionDuration < longest.durationSeconds) {
    return {
      check: 'role.max-session',
      status: 'fail',
      subject,
      detail: `${facts.maxSessionDuration} s is shorter than the ${longest.durationSeconds} s of mapping ${longest.mappingId}: its vends fail`,
      fix: `aws iam update-role --role-name ${role.roleName} --max-session-duration ${longest.durationSeconds} (or shorten the mapping's durationSeconds)`,
    };
  }
  return {
    check: 'role.max-session',
    status: 'ok',
    subject,
    detail: `${facts.maxSessionDuration} s ≥ ${longest.durationSeconds} s (mapping ${longest.mappingId})`,
  };
}

/** The function role may call sts:AssumeRole only on `role/<rolePath>*` (serverless.yml). */
export function judgePath(
  role: RoleRef,
  needs: readonly MappingNeeds[],
  rolePath: string,
): CheckResult | undefined {
  const chained = needs.filter((need) => need.vend === 'assume-role');
  if (chained.length === 0) return undefined;
  const subject = `role ${role.roleArn} path`;
  const pattern = `arn:${role.partition}:iam::*:role/${rolePath}*`;
  if (!underRolePath(role, rolePath)) {
    return {
      check: 'role.path',
      status: 'fail',
      subject,
      detail: `${role.path} is outside ${pattern}, the only roles the TVM's functions may assume: vends of ${list(chained.map((n) => n.mappingId))} fail with 403 sts_misconfigured`,
      fix: `create the role under path /${rolePath} (IAM cannot move a role) and point the mappings' roleArn at it, or pass --role-path if the stage sets another rolePath`,
    };
  }
  return { check: 'role.path', status: 'ok', subject, detail: `${role.path} is under ${pattern}` };
}

async function checkRole(
  aws: DoctorAws,
  role: RoleRef,
  needs: readonly MappingNeeds[],
  callerAccount: string | undefined,
  context: RoleContext,
): Promise<CheckResult[]> {
  const subject = `role ${role.roleArn}`;
  const mappings = `mapping${needs.length === 1 ? '' : 's'} ${list(needs.map((need) => need.mappingId))}`;
  const path = judgePath(role, needs, context.rolePath);
  const withPath = (results: CheckResult[]) => (path === undefined ? results : [...results, path]);
  if (callerAccount !== undefined && callerAccount !== role.account) {
    return withPath([
      {
        check: 'role.exists',
        status: 'warn',
        subject,
        detail: `not checked: it is in account ${role.account} and these credentials are of ${callerAccount} (${mappings})`,
        fix: `run tvm doctor again with credentials of account ${role.account} (AWS_PROFILE), with --tvm-role-arn`,
      },
    ]);
  }
  let facts: RoleFacts | undefined;
  try {
    facts = await aws.getRole(role.roleName);
  } catch (error) {
    return withPath([
      {
        check: 'role.exists',
        status: 'warn',
        subject,
        detail: `cannot be read: ${errorText(error)}`,
        fix: 'give these credentials iam:GetRole on the role, then run the doctor again',
      },
    ]);
  }
  if (facts === undefined) {
    return withPath([
      {
        check: 'role.exists',
        status: 'fail',
        subject,
        detail: `IAM has no role named ${role.roleName} (${mappings}): their vends fail`,
        fix: `create it: ${templateCommand(needs, context.templateHint)} --format cloudformation`,
      },
    ]);
  }
  const exists: CheckResult =
    facts.arn === role.roleArn
      ? { check: 'role.exists', status: 'ok', subject, detail: `exists (${mappings})` }
      : {
          check: 'role.exists',
          status: 'fail',
          subject,
          detail: `IAM has this role as ${facts.arn}: the ARN the mappings name has another path`,
          fix: `set roleArn: ${facts.arn} in ${mappings}`,
        };
  const externalId = judgeExternalId(role, needs, facts, context);
  return withPath([
    exists,
    judgeTrust(role, needs, facts, context),
    ...(externalId === undefined ? [] : [externalId]),
    judgeMaxSession(role, needs, facts),
  ]);
}

// ---------------------------------------------------------------------------------------------
// OIDC issuers

/** Key types each JWS algorithm family signs with (RFC 7518 §3.1, RFC 8037). */
function keyFits(key: Record<string, unknown>, algorithm: string): boolean {
  if (key.use !== undefined && key.use !== 'sig') return false;
  if (typeof key.alg === 'string' && key.alg !== algorithm) return false;
  if (/^(RS|PS)\d+$/.test(algorithm)) return key.kty === 'RSA';
  if (/^ES\d+K?$/.test(algorithm)) return key.kty === 'EC';
  if (algorithm === 'EdDSA' || algorithm === 'Ed25519') return key.kty === 'OKP';
  return false;
}

export function judgeJwks(
  subject: string,
  jwksUri: string,
  jwks: JSONWebKeySet,
  algorithms: readonly string[],
): CheckResult {
  const fix = `check that ${jwksUri} publishes the issuer's signing keys`;
  if (jwks.keys.length === 0) {
    return {
      check: 'oidc.jwks',
      status: 'fail',
      subject,
      detail: `${jwksUri} has no keys: every token is refused`,
      fix,
    };
  }
  const keys = jwks.keys as unknown as Record<string, unknown>[];
  const usable = keys.filter((key) => algorithms.some((alg) => keyFits(key, alg)));
  if (usable.length === 0) {
    return {
      check: 'oidc.jwks',
      status: 'fail',
      subject,
      detail: `none of the ${keys.length} keys at ${jwksUri} can verify ${list(algorithms)} (kty ${list([...new Set(keys.map((k) => String(k.kty)))])})`,
      fix: `set the provider's algorithms to what the issuer signs with, or ${fix}`,
    };
  }
  return {
    check: 'oidc.jwks',
    status: 'ok',
    subject,
    detail: `${usable.length} of ${keys.length} keys at ${jwksUri} fit ${list(algorithms)}`,
  };
}

async function checkIssuer(
  providers: readonly OidcProvider[],
  deps: DoctorDeps,
  stage: string,
): Promise<CheckResult[]> {
  const provider = providers[0] as OidcProvider;
  const source = createKeySource({ fetch: deps.fetch, stage });
  const ids = `provider${providers.length === 1 ? '' : 's'} ${list(providers.map((p) => p.id))}`;
  const subject = `oidc ${provider.issuer} (${ids})`;
  const discoveryUrl = `${provider.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const results: CheckResult[] = [];
  let jwksUri = provider.jwksUri;
  try {
    const discovered = await source.discoverJwksUri(provider);
    const differs = provider.jwksUri !== undefined && discovered !== provider.jwksUri;
    results.push(
      differs
        ? {
            check: 'oidc.discovery',
            status: 'warn',
            subject,
            detail: `answers, but its jwks_uri ${discovered} is not the configured jwksUri ${provider.jwksUri}`,
            fix: `set jwksUri to ${discovered}, or remove it to follow discovery`,
          }
        : {
            check: 'oidc.discovery',
            status: 'ok',
            subject,
            detail: `${discoveryUrl} names the issuer and jwks_uri ${discovered}`,
          },
    );
    jwksUri ??= discovered;
  } catch (error) {
    // With a jwksUri the TVM never reads discovery: a broken one is worth a look, not an outage.
    results.push({
      check: 'oidc.discovery',
      status: provider.jwksUri === undefined ? 'fail' : 'warn',
      subject,
      detail: `${discoveryUrl}: ${errorText(error)}${provider.jwksUri === undefined ? ': no keys, every token is refused' : ' (the TVM uses the configured jwksUri)'}`,
      fix: `make ${discoveryUrl} answer 200 with this exact issuer from the functions' network, or set the provider's jwksUri`,
    });
  }
  if (jwksUri === undefined) return results;
  try {
    const jwks = await source.fetchJwks(jwksUri, provider);
    results.push(judgeJwks(subject, jwksUri, jwks, provider.algorithms));
  } catch (error) {
    results.push({
      check: 'oidc.jwks',
      status: 'fail',
      subject,
      detail: `${jwksUri}: ${errorText(error)}: every token is refused`,
      fix: `make ${jwksUri} answer 200 with a JWKS from the functions' network`,
    });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// SAML

function commonName(certificate: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  return cn === undefined ? certificate.subject.replace(/\n/g, ', ') : `CN=${cn}`;
}

export function judgeCertificate(
  subject: string,
  pem: string,
  now: Date,
  fix: { expired: string; soon: string },
): CheckResult {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    return {
      check: 'saml.certificate',
      status: 'fail',
      subject,
      detail: `does not parse as X.509 (${errorText(error)})`,
      fix: fix.expired,
    };
  }
  const name = `${subject} ${commonName(certificate)}`;
  const until = certificate.validToDate;
  const daysLeft = Math.floor((until.getTime() - now.getTime()) / DAY_MS);
  if (until.getTime() <= now.getTime()) {
    return {
      check: 'saml.certificate',
      status: 'fail',
      subject: name,
      detail: `expired on ${until.toISOString()}`,
      fix: fix.expired,
    };
  }
  if (certificate.validFromDate.getTime() > now.getTime()) {
    return {
      check: 'saml.certificate',
      status: 'fail',
      subject: name,
      detail: `is not valid before ${certificate.validFromDate.toISOString()}`,
      fix: fix.expired,
    };
  }
  if (until.getTime() - now.getTime() < CERTIFICATE_WARN_DAYS * DAY_MS) {
    return {
      check: 'saml.certificate',
      status: 'warn',
      subject: name,
      detail: `expires on ${until.toISOString()}, in ${daysLeft} days`,
      fix: fix.soon,
    };
  }
  return {
    check: 'saml.certificate',
    status: 'ok',
    subject: name,
    detail: `valid until ${until.toISOString()} (${daysLeft} days)`,
  };
}

export function checkSamlCertificates(provider: SamlProvider, now: Date): CheckResult[] {
  const subject = `saml ${provider.id} certificate`;
  const fix = {
    expired:
      "pin the IdP's current signing certificate (certificates or metadataXml), then config apply",
    soon: "add the IdP's next certificate to certificates (or apply its new metadataXml) before it rolls over",
  };
  let pems: readonly string[];
  try {
    pems =
      provider.certificates ??
      metadataSigningCertificates(provider.metadataXml ?? '', provider.entityId).certificates;
  } catch (error) {
    return [
      {
        check: 'saml.certificate',
        status: 'fail',
        subject,
        detail: `the metadataXml does not parse (${errorText(error)})`,
        fix: fix.expired,
      },
    ];
  }
  if (pems.length === 0) {
    return [
      {
        check: 'saml.certificate',
        status: 'fail',
        subject,
        detail: `no signing certificate for ${provider.entityId}: every assertion is refused`,
        fix: fix.expired,
      },
    ];
  }
  return pems.map((pem, index) =>
    judgeCertificate(pems.length === 1 ? subject : `${subject} ${index + 1}`, pem, now, fix),
  );
}

async function checkSigningKey(
  providers: readonly SamlProvider[],
  deps: DoctorDeps,
  parameter: string,
): Promise<CheckResult[]> {
  const signing = providers.filter((provider) => provider.signAuthnRequests);
  if (signing.length === 0) return [];
  const subject = `saml signing key ${parameter} (${list(signing.map((p) => p.id))})`;
  const put = `aws ssm put-parameter --name ${parameter} --type SecureString --overwrite --value file://sp-signing-key.json ({"privateKey": PEM, "certificate": PEM}; docs/saml.md)`;
  let value: string | undefined;
  try {
    value = await deps.aws.getParameter(parameter);
  } catch (error) {
    return [
      {
        check: 'saml.signing-key',
        status: 'warn',
        subject,
        detail: `cannot be read with these credentials: ${errorText(error)} (the functions' role may still read it)`,
        fix: 'run the doctor with credentials that may call ssm:GetParameter and decrypt the parameter',
      },
    ];
  }
  if (value === undefined) {
    return [
      {
        check: 'saml.signing-key',
        status: 'fail',
        subject,
        detail: 'does not exist: signed logins fail closed',
        fix: put,
      },
    ];
  }
  let certificate: string;
  try {
    // Never printed: only whether it parses, and the certificate's dates.
    certificate = parseSigningKey(value).certificate;
  } catch (error) {
    return [
      {
        check: 'saml.signing-key',
        status: 'fail',
        subject,
        detail: `is unusable: ${(error as Error).message}`,
        fix: put,
      },
    ];
  }
  const dated = judgeCertificate(subject, certificate, deps.now(), {
    expired: `IdPs that check it refuse the requests; ${put}`,
    soon: `give the IdP a new certificate, then ${put}`,
  });
  return [
    {
      ...dated,
      check: 'saml.signing-key',
      subject,
      detail: `readable, the key matches its certificate (${dated.detail})`,
      // An SP certificate's dates matter only to IdPs that check them.
      status: dated.status === 'ok' ? 'ok' : 'warn',
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// The whole run

/** Each distinct role ARN of the config with what every mapping naming it needs. */
function rolesOf(config: TvmConfig): { role: RoleRef; needs: MappingNeeds[] }[] {
  const byArn = new Map<string, MappingNeeds[]>();
  for (const mapping of config.mappings) {
    byArn.set(mapping.roleArn, [
      ...(byArn.get(mapping.roleArn) ?? []),
      mappingNeeds(config, mapping),
    ]);
  }
  return [...byArn].flatMap(([arn, needs]) => {
    const role = parseRoleRef(arn);
    // Validation refuses such an ARN; the config line has already failed.
    return role === undefined ? [] : [{ role, needs }];
  });
}

function tvmRoleOf(
  options: DoctorOptions,
  callerAccount: string | undefined,
): { role: TvmRole; derivation: string } | undefined {
  const explicit = options.tvmRoleArn;
  if (explicit !== undefined) {
    const ref = parseRoleRef(explicit);
    return ref === undefined
      ? undefined
      : {
          role: { arn: explicit, account: ref.account, partition: ref.partition },
          derivation: 'from --tvm-role-arn',
        };
  }
  const account = options.account ?? callerAccount;
  if (account === undefined || options.region === undefined) return undefined;
  const arn = tvmFunctionRoleArn({ account, stage: options.stage, region: options.region });
  const ref = parseRoleRef(arn) as RoleRef;
  return {
    role: { arn, account, partition: ref.partition },
    derivation: `derived: the role osls names ${SERVICE_NAME}-<stage>-<region>-lambdaRole in account ${account}${options.account === undefined ? " (the caller's)" : ''}; pass --tvm-role-arn if the stack's role is named otherwise`,
  };
}

export async function runDoctor(deps: DoctorDeps, options: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  let callerAccount: string | undefined;
  try {
    const identity = await deps.aws.callerIdentity();
    callerAccount = identity.account;
    checks.push({
      check: 'aws.identity',
      status: 'ok',
      subject: 'aws credentials',
      detail: `${identity.arn} in account ${identity.account}`,
    });
  } catch (error) {
    checks.push({
      check: 'aws.identity',
      status: 'fail',
      subject: 'aws credentials',
      detail: `STS GetCallerIdentity failed: ${errorText(error)}`,
      fix: 'check the AWS credentials and region (and --endpoint-url for the local stack)',
    });
  }
  const tvm = tvmRoleOf(options, callerAccount);

  let table: TableFacts | undefined;
  let tableError: unknown;
  try {
    table = await deps.aws.describeTable(options.table);
  } catch (error) {
    tableError = error;
  }
  if (tableError !== undefined) {
    checks.push({
      check: 'table',
      status: 'fail',
      subject: `table ${options.table}`,
      detail: `DescribeTable failed: ${errorText(tableError)}`,
      fix: 'check the AWS credentials, region and --endpoint-url',
    });
  } else {
    checks.push(judgeTable(options.table, table, options.stage));
  }
  if (table === undefined) {
    return {
      checks,
      tvmRole: tvm && { arn: tvm.role.arn, derivation: tvm.derivation },
      config: undefined,
    };
  }
  try {
    checks.push(judgeTimeToLive(options.table, await deps.aws.describeTimeToLive(options.table)));
  } catch (error) {
    checks.push({
      check: 'table.ttl',
      status: 'fail',
      subject: `table ${options.table} TTL`,
      detail: `DescribeTimeToLive failed: ${errorText(error)}`,
      fix: 'check the AWS credentials and region',
    });
  }

  let loaded: Awaited<ReturnType<typeof checkConfig>>;
  try {
    loaded = await checkConfig(deps, options);
  } catch (error) {
    loaded = {
      result: {
        check: 'config',
        status: 'fail',
        subject: `config in ${options.table}`,
        detail: `cannot be read: ${errorText(error)}`,
        fix: 'check the AWS credentials, region and --table',
      },
    };
  }
  checks.push(loaded.result);
  const config = loaded.config;
  const report = (): DoctorReport => ({
    checks,
    tvmRole: tvm && { arn: tvm.role.arn, derivation: tvm.derivation },
    config:
      loaded.generation === undefined || loaded.hash === undefined
        ? undefined
        : { generation: loaded.generation, hash: loaded.hash },
  });
  if (config === undefined) return report();

  const hint =
    options.tvmRoleArn !== undefined
      ? ` --tvm-role-arn ${options.tvmRoleArn}`
      : tvm === undefined
        ? ''
        : ` --tvm-role-arn ${tvm.role.arn}`;
  const roleContext: RoleContext = {
    tvm: tvm?.role,
    rolePath: options.rolePath,
    templateHint: `${hint} --stage ${options.stage}`,
  };
  const oidc = new Map<string, OidcProvider[]>();
  for (const provider of config.providers) {
    if (provider.type !== 'oidc') continue;
    const key = JSON.stringify([provider.issuer, provider.jwksUri ?? null]);
    oidc.set(key, [...(oidc.get(key) ?? []), provider]);
  }
  const issuers = Promise.all(
    [...oidc.values()].map((providers) => checkIssuer(providers, deps, options.stage)),
  );
  // IAM's GetRole is throttled per account: one role at a time while the issuers are fetched.
  const roles: CheckResult[] = [];
  for (const { role, needs } of rolesOf(config)) {
    roles.push(...(await checkRole(deps.aws, role, needs, callerAccount, roleContext)));
  }
  const saml = config.providers.filter((p): p is SamlProvider => p.type === 'saml');
  const now = deps.now();
  checks.push(
    ...roles,
    ...(await issuers).flat(),
    ...saml.flatMap((provider) => checkSamlCertificates(provider, now)),
    ...(await checkSigningKey(saml, deps, options.samlKeyParameter)),
  );
  return report();
}

// ---------------------------------------------------------------------------------------------
// The AWS SDK adapter

/** The real calls, through SDK v3 clients the caller configured (endpoint, region, credentials). */
export function sdkDoctorAws(clients: {
  dynamodb: DynamoDBClient;
  iam: IAMClient;
  ssm: SSMClient;
  sts: STSClient;
}): DoctorAws {
  const notFound = (error: unknown, ...names: string[]) =>
    names.some((name) => errorName(error).startsWith(name));
  return {
    async callerIdentity() {
      const { Account, Arn } = await clients.sts.send(new GetCallerIdentityCommand({}));
      return { account: Account ?? '', arn: Arn ?? '' };
    },
    async describeTable(name) {
      try {
        const { Table } = await clients.dynamodb.send(
          new DescribeTableCommand({ TableName: name }),
        );
        const key = (type: string) =>
          Table?.KeySchema?.find((element) => element.KeyType === type)?.AttributeName;
        return {
          status: Table?.TableStatus ?? 'UNKNOWN',
          hashKey: key('HASH'),
          rangeKey: key('RANGE'),
          indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName ?? ''),
        };
      } catch (error) {
        // moto names it ResourceNotFound, DynamoDB ResourceNotFoundException.
        if (notFound(error, 'ResourceNotFound')) return undefined;
        throw error;
      }
    },
    async describeTimeToLive(name) {
      const { TimeToLiveDescription: ttl } = await clients.dynamodb.send(
        new DescribeTimeToLiveCommand({ TableName: name }),
      );
      return { status: ttl?.TimeToLiveStatus ?? 'DISABLED', attribute: ttl?.AttributeName };
    },
    async getRole(name) {
      try {
        const { Role } = await clients.iam.send(new GetRoleCommand({ RoleName: name }));
        return {
          arn: Role?.Arn ?? '',
          // IAM's default when a role never set one.
          maxSessionDuration: Role?.MaxSessionDuration ?? 3600,
          trustPolicy: Role?.AssumeRolePolicyDocument ?? '',
        };
      } catch (error) {
        if (notFound(error, 'NoSuchEntity')) return undefined;
        throw error;
      }
    },
    async getParameter(name) {
      try {
        const { Parameter } = await clients.ssm.send(
          new GetParameterCommand({ Name: name, WithDecryption: true }),
        );
        return Parameter?.Value;
      } catch (error) {
        if (notFound(error, 'ParameterNotFound')) return undefined;
        throw error;
      }
    },
  };
}
