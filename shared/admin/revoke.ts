/**
 * Revoking credentials the TVM already issued to one principal (issuer + subject, through every
 * provider entry of its issuer). The deny list stops new vends; sessions already handed out live
 * on until they expire, so each role the principal could have reached gets an inline policy that
 * denies every action to its sessions issued before now: by SourceIdentity, or (SAML native
 * sessions without one) by the role session name the IdP set, through `aws:userid`. Narrower than
 * the console's "Revoke active sessions", which denies every session of the role. Run by an
 * operator: the Lambda has no IAM write permission.
 */

import { createHash } from 'node:crypto';
import { GetRolePolicyCommand, type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AuditLog, DynamoAuditLog } from '#shared/audit/history.ts';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer, providersOfIssuer } from '#shared/auth/principal.ts';
import { identitySourceIdentity } from '#shared/cognito/pools.ts';
import type { Provider, TvmConfig } from '#shared/config/schema.ts';
import { canonicalJson } from '#shared/config/store.ts';
import { ROLE_ARN_PATTERN, SESSION_NAME_PATTERN } from '#shared/config/sts.ts';
import { ForbiddenError, ValidationError } from '#shared/errors.ts';
import type { DenyEntry, DenyList } from '#shared/guard/deny-list.ts';
import type { LoginSessionAdmin } from '#shared/login/store.ts';
import { renderScope, renderSourceIdentity } from '#shared/mapping/render.ts';

/** The inline policy the revocations live in, one per role. */
export const REVOKE_POLICY_NAME = 'tvm-revoked-sessions';

/** Every statement this module writes has a Sid with this prefix (IAM Sids are [A-Za-z0-9]). */
export const REVOKE_SID_PREFIX = 'TvmRevoke';

/** IAM quota: all inline policies of one role together, whitespace not counted (IAM quotas page). */
export const ROLE_INLINE_POLICY_MAX_CHARS = 10_240;

/** No role session lasts longer than 12 h (the largest MaxSessionDuration), so older cut-offs match nothing live. */
export const MAX_ROLE_SESSION_SECONDS = 43_200;

/**
 * How far past "now" the cut-off goes: a request that passed the deny-list check just before the
 * entry landed can still reach STS until the Lambda times out (10 s), and the operator's clock may
 * be a little off. The principal is denied anyway, so denying a minute too much costs nothing.
 */
export const REVOKE_MARGIN_SECONDS = 60;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** A session the TVM vended to the principal, from an `allowed` audit record. */
export interface VendedSession {
  /** The provider entry it came through. */
  provider?: string;
  roleArn: string;
  sourceIdentity?: string;
  roleSessionName?: string;
  /**
   * SAML native mode: the IdP's assertion named the session, and the two values above are what it
   * carries (absent: not set). Records of native logins written before this field existed hold
   * the TVM's would-be values, which no session carries; they never count as knowing.
   */
  namedByAssertion: boolean;
}

export interface VendHistory {
  /**
   * Every distinct session vended to this principal within audit retention: its partition, and
   * the legacy partitions (hashed with a provider id) of `legacyProviders`.
   */
  vendedSessions(
    issuer: string,
    subject: string,
    legacyProviders: readonly string[],
  ): Promise<VendedSession[]>;
}

/** Reads `AUDIT#<subjectHash>` (shared/audit/audit.ts writes it), new and legacy. */
export class DynamoVendHistory implements VendHistory {
  readonly #log: AuditLog;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#log = new DynamoAuditLog(client, tableName);
  }

  async vendedSessions(
    issuer: string,
    subject: string,
    legacyProviders: readonly string[],
  ): Promise<VendedSession[]> {
    const records = await this.#log.principalRecords({
      issuer,
      subject,
      // Before audit keys moved to the issuer they hashed the provider id instead.
      legacyProviders,
      outcome: 'allowed',
      attributes: ['roleArn', 'sourceIdentity', 'roleSessionName', 'provider', 'sessionNamedBy'],
    });
    const seen = new Map<string, VendedSession>();
    for (const record of records) {
      const session = toVendedSession(record as unknown as Record<string, unknown>);
      if (session !== undefined) seen.set(JSON.stringify(session), session);
    }
    return [...seen.values()];
  }
}

function toVendedSession(item: Record<string, unknown>): VendedSession | undefined {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const roleArn = text(item.roleArn);
  if (roleArn === undefined) return undefined;
  const namedByAssertion = item.sessionNamedBy === 'assertion';
  const sourceIdentity = text(item.sourceIdentity);
  const roleSessionName = namedByAssertion ? text(item.roleSessionName) : undefined;
  const provider = text(item.provider);
  // The TVM's own sessions are found by SourceIdentity alone; it always set one.
  if (!namedByAssertion && sourceIdentity === undefined) return undefined;
  return {
    ...(provider === undefined ? {} : { provider }),
    roleArn,
    ...(sourceIdentity === undefined ? {} : { sourceIdentity }),
    ...(roleSessionName === undefined ? {} : { roleSessionName }),
    namedByAssertion,
  };
}

/** Who the IAM calls act as: IAM names roles without an account, so the account must match. */
export interface CallerAccount {
  partition: string;
  account: string;
}

/** Read and write one inline role policy. */
export interface RolePolicies {
  caller(): Promise<CallerAccount>;
  /** The policy document as JSON text, or undefined when the role has no such policy. */
  get(roleName: string, policyName: string): Promise<string | undefined>;
  put(roleName: string, policyName: string, document: string): Promise<void>;
}

function isAwsError(error: unknown, ...names: string[]): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && names.includes(name);
}

export class IamRolePolicies implements RolePolicies {
  readonly #iam: IAMClient;
  readonly #sts: STSClient;

  constructor(iam: IAMClient, sts: STSClient) {
    this.#iam = iam;
    this.#sts = sts;
  }

  async caller(): Promise<CallerAccount> {
    const { Account, Arn } = await this.#sts.send(new GetCallerIdentityCommand({}));
    const partition = /^arn:([^:]+):/.exec(Arn ?? '')?.[1];
    if (Account === undefined || partition === undefined) {
      throw new Error('GetCallerIdentity returned no account');
    }
    return { partition, account: Account };
  }

  async get(roleName: string, policyName: string): Promise<string | undefined> {
    try {
      const { PolicyDocument } = await this.#iam.send(
        new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
      );
      // IAM returns the document URL-encoded (RFC 3986), as the GetRolePolicy reference says.
      return PolicyDocument === undefined ? undefined : decodeURIComponent(PolicyDocument);
    } catch (error) {
      // Also what a missing role gives; the put that follows then says the role is missing.
      if (isAwsError(error, 'NoSuchEntityException', 'NoSuchEntity')) return undefined;
      throw error;
    }
  }

  async put(roleName: string, policyName: string, document: string): Promise<void> {
    await this.#iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policyName,
        PolicyDocument: document,
      }),
    );
  }
}

/** `arn:<partition>:iam::<account>:role/<path/><name>`; IAM APIs take the name alone. */
export interface RoleRef {
  roleArn: string;
  partition: string;
  account: string;
  roleName: string;
}

export function parseRoleArn(roleArn: string): RoleRef | undefined {
  const match = ROLE_ARN_PATTERN.exec(roleArn);
  if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) {
    return undefined;
  }
  return { roleArn, partition: match[1], account: match[2], roleName: match[3] };
}

/** `TvmRevoke` + 16 hex of SHA-256: one statement per SourceIdentity, found again on re-runs. */
export function revokeSid(sourceIdentity: string): string {
  const hash = createHash('sha256').update(sourceIdentity, 'utf8').digest('hex');
  return `${REVOKE_SID_PREFIX}${hash.slice(0, 16)}`;
}

/** One statement per session name; the `aws:userid` prefix keeps it apart from any SourceIdentity's Sid. */
export function sessionNameSid(roleSessionName: string): string {
  const hash = createHash('sha256')
    .update(`aws:userid\u0000${roleSessionName}`, 'utf8')
    .digest('hex');
  return `${REVOKE_SID_PREFIX}${hash.slice(0, 16)}`;
}

/**
 * A native session without a SourceIdentity is known only by the session name the IdP set: an
 * assumed role's `aws:userid` is `<role id>:<session name>`. Session names cannot hold `*` or `?`
 * (STS's pattern), so the only wildcard is the leading one, standing for the role id.
 */
export function revokeSessionNameStatement(
  roleSessionName: string,
  issuedBefore: string,
): PolicyStatement {
  return {
    Sid: sessionNameSid(roleSessionName),
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringLike: { 'aws:userid': `*:${roleSessionName}` },
      DateLessThan: { 'aws:TokenIssueTime': issuedBefore },
    },
  };
}

export function revokeStatement(sourceIdentity: string, issuedBefore: string): PolicyStatement {
  return {
    Sid: revokeSid(sourceIdentity),
    Effect: 'Deny',
    Action: '*',
    Resource: '*',
    Condition: {
      StringEquals: { 'aws:SourceIdentity': sourceIdentity },
      DateLessThan: { 'aws:TokenIssueTime': issuedBefore },
    },
  };
}

/** The cut-off: now plus the margin, rounded up to a whole second (TokenIssueTime has no fraction). */
export function revocationCutoff(now: Date, marginSeconds = REVOKE_MARGIN_SECONDS): string {
  const seconds = Math.ceil(now.getTime() / 1000) + marginSeconds;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** Thrown for a role whose policy cannot be merged or would not fit; the message names the role. */
export class RevocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface MergeResult {
  document: string;
  /** False when the merged document says exactly what the stored one says. */
  changed: boolean;
  statements: number;
  pruned: number;
}

function parsePolicy(text: string, roleName: string): { id?: unknown; statements: unknown[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const statement = (parsed as { Statement?: unknown } | undefined)?.Statement;
  if (typeof parsed !== 'object' || parsed === null || statement === undefined) {
    // Never overwrite what we cannot read: it may hold revocations someone wrote by hand.
    throw new RevocationError(
      `role ${roleName}: the existing ${REVOKE_POLICY_NAME} policy is not a policy document this tool can merge; fix or delete it and run revoke again`,
    );
  }
  const id = (parsed as { Id?: unknown }).Id;
  return {
    ...(id === undefined ? {} : { id }),
    statements: Array.isArray(statement) ? statement : [statement],
  };
}

/** The cut-off of one of our statements, when it is one and has a readable time. */
function cutoffOf(statement: unknown): number | undefined {
  const s = statement as PolicyStatement | null;
  if (typeof s?.Sid !== 'string' || !s.Sid.startsWith(REVOKE_SID_PREFIX)) return undefined;
  const time = s.Condition?.DateLessThan?.['aws:TokenIssueTime'];
  if (typeof time !== 'string') return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Merges revocation statements into the stored policy text: a statement with the same Sid is
 * replaced where it stands, new ones are appended, every other statement is kept. With
 * `pruneBefore`, our own statements whose cut-off is older than it are dropped.
 */
export function mergeRevocations(
  existing: string | undefined,
  statements: PolicyStatement[],
  options: { roleName: string; pruneBefore?: Date },
): MergeResult {
  const current =
    existing === undefined ? { statements: [] } : parsePolicy(existing, options.roleName);
  const wanted = new Map(statements.map((statement) => [statement.Sid, statement]));
  const replaced = new Set<string>();
  const merged: unknown[] = [];
  let pruned = 0;
  for (const statement of current.statements) {
    const sid = (statement as { Sid?: unknown } | null)?.Sid;
    if (typeof sid === 'string' && replaced.has(sid)) continue; // a duplicate Sid: one is enough
    const replacement = typeof sid === 'string' ? wanted.get(sid) : undefined;
    if (replacement !== undefined && typeof sid === 'string') {
      merged.push(replacement);
      wanted.delete(sid);
      replaced.add(sid);
      continue;
    }
    const cutoff = cutoffOf(statement);
    if (
      options.pruneBefore !== undefined &&
      cutoff !== undefined &&
      cutoff < options.pruneBefore.getTime()
    ) {
      pruned += 1;
      continue;
    }
    merged.push(statement);
  }
  merged.push(...wanted.values());
  const document = JSON.stringify({
    Version: '2012-10-17',
    ...('id' in current ? { Id: current.id } : {}),
    Statement: merged,
  });
  const before =
    existing === undefined ? undefined : canonicalJson(JSON.parse(existing) as unknown);
  return {
    document,
    changed: before !== canonicalJson(JSON.parse(document) as unknown),
    statements: merged.length,
    pruned,
  };
}

/** Where a SourceIdentity or session name to revoke came from, for the operator's report. */
export type Origin = { kind: 'mapping'; mappingId: string } | { kind: 'audit' };

export interface RevocationTarget {
  role: RoleRef;
  /** SourceIdentity → why it is revoked on this role. Sorted by SourceIdentity. */
  sourceIdentities: Map<string, Origin[]>;
  /** SAML native sessions without a SourceIdentity: role session name → why. Sorted. */
  sessionNames: Map<string, Origin[]>;
}

export interface TargetPlan {
  targets: RevocationTarget[];
  /** Role ARNs that are not IAM role ARNs (from old audit records); they cannot be covered. */
  unparsable: string[];
  /** Mappings whose SourceIdentity cannot be computed from the subject alone. */
  underivable: { mappingId: string; roleArn: string }[];
  /**
   * SAML native-mode provider entries of the issuer whose sessions nothing tells how to find:
   * the IdP names them, and no audit record says what it named this principal's. While any is
   * listed the revocation is incomplete.
   */
  unknowable: { providerId: string }[];
}

type SessionMatch = { kind: 'sourceIdentity' | 'sessionName'; value: string };

/** What a native session carries that a policy can match; undefined when neither is usable. */
function nativeMatch(session: VendedSession): SessionMatch | undefined {
  // Both come from STS-checked attributes; re-checked, as they go into a policy condition.
  if (session.sourceIdentity !== undefined && SESSION_NAME_PATTERN.test(session.sourceIdentity)) {
    return { kind: 'sourceIdentity', value: session.sourceIdentity };
  }
  if (session.roleSessionName !== undefined && SESSION_NAME_PATTERN.test(session.roleSessionName)) {
    return { kind: 'sessionName', value: session.roleSessionName };
  }
  return undefined;
}

function isNative(provider: Provider): boolean {
  return provider.type === 'saml' && provider.mode === 'native';
}

/**
 * The roles and session keys to cover, for every provider entry that shares the issuer:
 * - chained entries (the TVM names the session): each mapping, with the SourceIdentity the
 *   runtime renders for claims `{sub}` (renderSourceIdentity itself, so a hashed form matches
 *   exactly), plus every pair the audit records show, which catches templates that read other
 *   claims and mappings removed since;
 * - native entries (the IdP names the session): only what their audit records show the sessions
 *   carry, applied to the record's role and to every mapping role of that entry (the IdP names one
 *   user's sessions alike on every role). With no such record the entry is `unknowable`.
 */
export function planRevocation(
  config: TvmConfig,
  issuer: string,
  subject: string,
  vended: VendedSession[],
): TargetPlan {
  const sharing = providersOfIssuer(config.providers, issuer);
  if (sharing.length === 0) {
    throw new ValidationError(`no provider in the current config has issuer "${issuer}"`);
  }
  const byRole = new Map<string, RevocationTarget>();
  const unparsable = new Set<string>();
  const underivable: TargetPlan['underivable'] = [];
  const unknowable: TargetPlan['unknowable'] = [];
  const add = (roleArn: string, match: SessionMatch, origin: Origin) => {
    const role = parseRoleArn(roleArn);
    if (role === undefined) {
      unparsable.add(roleArn);
      return;
    }
    // IAM role names are unique per account whatever the path.
    const key = `${role.partition}:${role.account}:${role.roleName}`;
    let target = byRole.get(key);
    if (target === undefined) {
      target = { role, sourceIdentities: new Map(), sessionNames: new Map() };
      byRole.set(key, target);
    }
    const values = match.kind === 'sourceIdentity' ? target.sourceIdentities : target.sessionNames;
    const origins = values.get(match.value) ?? [];
    if (!origins.some((known) => canonicalJson(known) === canonicalJson(origin))) {
      origins.push(origin);
    }
    values.set(match.value, origins);
  };
  for (const provider of sharing) {
    const mappings = config.mappings.filter((mapping) => mapping.provider === provider.id);
    if (isNative(provider)) {
      const known = vended
        .filter((session) => session.namedByAssertion && session.provider === provider.id)
        .flatMap((session) => {
          const match = nativeMatch(session);
          return match === undefined ? [] : [match];
        });
      if (known.length === 0) {
        unknowable.push({ providerId: provider.id });
        continue;
      }
      for (const mapping of mappings) {
        for (const match of known) {
          add(mapping.roleArn, match, { kind: 'mapping', mappingId: mapping.id });
        }
      }
      continue;
    }
    const identity: Identity = {
      provider: provider.id,
      issuer,
      subject,
      // What a template can read from the subject alone: SAML names the NameID both ways.
      claims: toClaims(
        provider.type === 'saml' ? { sub: subject, nameId: subject } : { sub: subject },
      ),
    };
    for (const mapping of mappings) {
      let sourceIdentity: string;
      try {
        // A guest's sessions carry its IdentityId unless the mapping names them (the pool stamp).
        sourceIdentity =
          provider.type === 'guest' && mapping.sourceIdentity === undefined
            ? identitySourceIdentity(subject)
            : renderSourceIdentity(mapping, identity, renderScope(identity, provider, mapping));
      } catch (error) {
        // The template reads another claim, or the subject is over the claim's length limit.
        if (!(error instanceof ForbiddenError)) throw error;
        underivable.push({ mappingId: mapping.id, roleArn: mapping.roleArn });
        continue;
      }
      add(
        mapping.roleArn,
        { kind: 'sourceIdentity', value: sourceIdentity },
        { kind: 'mapping', mappingId: mapping.id },
      );
    }
  }
  for (const session of vended) {
    const match: SessionMatch | undefined = session.namedByAssertion
      ? nativeMatch(session)
      : session.sourceIdentity === undefined
        ? undefined
        : { kind: 'sourceIdentity', value: session.sourceIdentity };
    if (match !== undefined) add(session.roleArn, match, { kind: 'audit' });
  }
  const sorted = (values: Map<string, Origin[]>) =>
    new Map([...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const targets = [...byRole.values()]
    .map((target) => ({
      role: target.role,
      sourceIdentities: sorted(target.sourceIdentities),
      sessionNames: sorted(target.sessionNames),
    }))
    .sort((a, b) =>
      a.role.roleArn < b.role.roleArn ? -1 : a.role.roleArn > b.role.roleArn ? 1 : 0,
    );
  return { targets, unparsable: [...unparsable].sort(), underivable, unknowable };
}

export type RoleStatus = 'updated' | 'unchanged' | 'skipped' | 'failed';

export interface RoleOutcome {
  target: RevocationTarget;
  status: RoleStatus;
  /** Why a role was skipped or failed. */
  reason?: string;
  /** Statements and characters of the merged policy, when it was computed. */
  statements?: number;
  chars?: number;
  pruned?: number;
}

export interface RevokeRequest {
  /** The provider entry the operator named; the principal is its issuer plus the subject. */
  provider: string;
  subject: string;
  reason?: string;
  by: string;
  /** Compute and read everything, write nothing. */
  dryRun: boolean;
  /** Drop our statements whose cut-off is more than MAX_ROLE_SESSION_SECONDS old. */
  prune: boolean;
}

export interface RevokeDeps {
  config: TvmConfig;
  denyList: DenyList;
  history: VendHistory;
  policies: RolePolicies;
  /** Terminal login sessions, ended with the deny (counted only, on a dry run). */
  loginSessions?: LoginSessionAdmin;
  now: () => Date;
  marginSeconds?: number;
}

export interface RevokeResult {
  denyEntry: DenyEntry & { issuer: string };
  /** Every provider entry sharing the issuer: the revocation covers all of them. */
  providers: string[];
  /** The `aws:TokenIssueTime` cut-off written into each statement. */
  issuedBefore: string;
  plan: TargetPlan;
  roles: RoleOutcome[];
  dryRun: boolean;
  /** Live terminal login sessions of the principal that were (dry run: would be) ended. */
  loginSessionsEnded?: number;
}

function describeFailure(error: unknown, role: RoleRef): string {
  if (error instanceof RevocationError) return error.message;
  if (isAwsError(error, 'NoSuchEntityException', 'NoSuchEntity')) {
    return `role ${role.roleName} does not exist in account ${role.account}`;
  }
  if (isAwsError(error, 'LimitExceededException', 'LimitExceeded')) {
    return `role ${role.roleName}: IAM refused the policy as too large (all inline policies of a role share ${ROLE_INLINE_POLICY_MAX_CHARS.toLocaleString('en-US')} characters); run revoke again with --prune, or move other inline policies of the role to managed policies`;
  }
  const aws = error as { name?: unknown; message?: unknown };
  return `${String(aws.name ?? 'Error')}: ${String(aws.message ?? error)}`;
}

async function revokeOnRole(
  target: RevocationTarget,
  issuedBefore: string,
  request: RevokeRequest,
  deps: RevokeDeps,
  now: Date,
): Promise<RoleOutcome> {
  const { role } = target;
  const statements = [
    ...[...target.sourceIdentities.keys()].map((sourceIdentity) =>
      revokeStatement(sourceIdentity, issuedBefore),
    ),
    ...[...target.sessionNames.keys()].map((name) =>
      revokeSessionNameStatement(name, issuedBefore),
    ),
  ];
  try {
    const existing = await deps.policies.get(role.roleName, REVOKE_POLICY_NAME);
    const merged = mergeRevocations(existing, statements, {
      roleName: role.roleName,
      ...(request.prune
        ? { pruneBefore: new Date(now.getTime() - MAX_ROLE_SESSION_SECONDS * 1000) }
        : {}),
    });
    const sizes = {
      statements: merged.statements,
      chars: merged.document.length,
      pruned: merged.pruned,
    };
    if (merged.document.length > ROLE_INLINE_POLICY_MAX_CHARS) {
      const advice = request.prune
        ? 'Even after pruning: revoke sessions role-wide in the IAM console, or delete statements of revocations that no longer matter'
        : 'Run revoke again with --prune to drop revocations older than 12 h (no session they match can still be valid)';
      return {
        target,
        status: 'failed',
        reason: `role ${role.roleName}: ${REVOKE_POLICY_NAME} would be ${merged.document.length.toLocaleString('en-US')} characters, over IAM's ${ROLE_INLINE_POLICY_MAX_CHARS.toLocaleString('en-US')} for the inline policies of a role; nothing was written to it. ${advice}`,
        ...sizes,
      };
    }
    if (!merged.changed) return { target, status: 'unchanged', ...sizes };
    if (!request.dryRun)
      await deps.policies.put(role.roleName, REVOKE_POLICY_NAME, merged.document);
    return { target, status: 'updated', ...sizes };
  } catch (error) {
    return { target, status: 'failed', reason: describeFailure(error, role) };
  }
}

/**
 * Denies the principal, then writes the revocation statement onto every role in the plan. A role
 * that cannot be reached (another account, no permission, too large) is reported and the others
 * still get theirs. The deny entry goes first and the cut-off is taken after it, so no session can
 * slip between the two.
 */
export async function revokePrincipal(
  request: RevokeRequest,
  deps: RevokeDeps,
): Promise<RevokeResult> {
  const named = deps.config.providers.find((provider) => provider.id === request.provider);
  if (named === undefined) {
    throw new ValidationError(`provider "${request.provider}" is not in the current config`);
  }
  const issuer = principalIssuer(named);
  const providers = providersOfIssuer(deps.config.providers, issuer).map((p) => p.id);
  const denyEntry: DenyEntry & { issuer: string } = {
    issuer,
    provider: request.provider,
    subject: request.subject,
    ...(request.reason === undefined ? {} : { reason: request.reason }),
    by: request.by,
    at: deps.now().toISOString(),
  };
  if (!request.dryRun) await deps.denyList.add(denyEntry);
  const loginSessionsEnded =
    deps.loginSessions === undefined
      ? undefined
      : request.dryRun
        ? await deps.loginSessions.countPrincipalSessions(issuer, request.subject, deps.now())
        : await deps.loginSessions.endPrincipalSessions(issuer, request.subject, deps.now());
  const now = deps.now();
  const issuedBefore = revocationCutoff(now, deps.marginSeconds);
  // Read after the deny landed, so vends that finished before it are in the records.
  const vended = await deps.history.vendedSessions(issuer, request.subject, providers);
  const plan = planRevocation(deps.config, issuer, request.subject, vended);

  let caller: CallerAccount | Error;
  try {
    caller =
      plan.targets.length === 0 ? { partition: '', account: '' } : await deps.policies.caller();
  } catch (error) {
    caller = error instanceof Error ? error : new Error(String(error));
  }
  const roles: RoleOutcome[] = [];
  // One role at a time: a handful of roles, and IAM throttles bursts of writes.
  for (const target of plan.targets) {
    const { role } = target;
    if (caller instanceof Error) {
      roles.push({
        target,
        status: 'failed',
        reason: `cannot tell which account the IAM credentials are for (${describeFailure(caller, role)})`,
      });
    } else if (caller.account !== role.account || caller.partition !== role.partition) {
      // IAM calls name the role without its account: calling anyway would change a namesake.
      roles.push({
        target,
        status: 'skipped',
        reason: `role is in account ${role.account} (${role.partition}) but the IAM credentials are for ${caller.account} (${caller.partition}); run revoke again with --iam-profile <a profile for ${role.account}>`,
      });
    } else {
      roles.push(await revokeOnRole(target, issuedBefore, request, deps, now));
    }
  }
  return {
    denyEntry,
    providers,
    issuedBefore,
    plan,
    roles,
    dryRun: request.dryRun,
    ...(loginSessionsEnded === undefined ? {} : { loginSessionsEnded }),
  };
}
