/**
 * The one path from a bearer token to credentials: authenticate ▸ decide ▸ vend ▸ audit.
 * Every way out of it writes exactly one audit record; credentials leave only after theirs
 * was written (DESIGN.md §7.1).
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { type AuditRecord, type AuditSink, subjectHash } from '#shared/audit/audit.ts';
import type { Identity } from '#shared/auth/identity.ts';
import type { Mapping, TvmConfig } from '#shared/config/schema.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { AppError, ForbiddenError, reasonOf, UpstreamError } from '#shared/errors.ts';
import type { AccessGuard } from '#shared/guard/guard.ts';
import type { Log } from '#shared/log.ts';
import { decide, matchMappings } from '#shared/mapping/decide.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import { countOutcome, type Metrics } from '#shared/metrics.ts';
import {
  StsError,
  type VendedCredentials,
  type VendOptions,
  vendCredentials,
  vendWithSaml,
} from '#shared/sts/vend.ts';
import type { Authenticate, IdpNamedSession, Login, LoginContext, SessionStamp } from './login.ts';
import { CredentialReuseCache } from './reuse.ts';

export { reasonOf };

/** What the core needs; the way in (the authenticator) is not among them. */
export interface IssueDeps {
  config: { require(): Promise<ConfigGeneration> };
  sts: STSClient;
  audit: AuditSink;
  /** Deny list and rate limits, checked after authentication and before deciding. */
  guard: AccessGuard;
  /** This instance's cache for mappings that opt into `reuse`; absent means never reuse. */
  reuse?: CredentialReuseCache;
  vend: VendOptions;
  logger: Log;
  /** Outcomes, vends and reuse hits are counted where they are decided. */
  metrics: Metrics;
  now(): Date;
}

/** What the edge parsed: the audit context and what the client may ask for. */
export interface IssueRequest {
  requestId: string;
  route: string;
  sourceIp?: string;
  /** The Cognito-compatible IdentityId the request named, for the audit record. */
  identityId?: string;
  mappingId?: string;
  durationSeconds?: number;
  /** Epoch ms by which STS must have answered: the Lambda's deadline less a margin. */
  deadline?: number;
}

export type IssueOutcome<C extends LoginContext = LoginContext> =
  | {
      kind: 'issued';
      login: Login<C>;
      decision: Decision;
      credentials: VendedCredentials;
    }
  | { kind: 'choose'; login: Login<C>; mappings: Mapping[] }
  /** The guard passed and the login context asked for nothing more (`admitOnly`). */
  | { kind: 'admitted'; login: Login<C> };

export interface AuditContext {
  requestId: string;
  route: string;
  sourceIp?: string;
  identityId?: string;
}

export function baseRecord(
  context: AuditContext,
  at: Date,
): Pick<AuditRecord, 'requestId' | 'at' | 'route' | 'sourceIp' | 'identityId'> {
  return {
    requestId: context.requestId,
    at: at.toISOString(),
    route: context.route,
    ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }),
    ...(context.identityId === undefined ? {} : { identityId: context.identityId }),
  };
}

/** Who the record is about: the principal (issuer + subject), hashed, and the entry that matched. */
export function principalFields(identity: Identity): Partial<AuditRecord> {
  return {
    provider: identity.provider,
    issuer: identity.issuer,
    subjectHash: subjectHash(identity.issuer, identity.subject),
    ...(identity.nameIdFormat === undefined ? {} : { nameIdFormat: identity.nameIdFormat }),
  };
}

function decisionFields(
  decision: Decision,
  named: IdpNamedSession | undefined,
): Partial<AuditRecord> {
  return {
    mappingId: decision.mapping.id,
    roleArn: decision.roleArn,
    // What the session really carries: revoke reads these back to find it.
    ...(named === undefined
      ? { roleSessionName: decision.roleSessionName, sourceIdentity: decision.sourceIdentity }
      : {
          sessionNamedBy: 'assertion' as const,
          ...(named.roleSessionName === undefined
            ? {}
            : { roleSessionName: named.roleSessionName }),
          ...(named.sourceIdentity === undefined ? {} : { sourceIdentity: named.sourceIdentity }),
        }),
    tagKeys: decision.tags.map((tag) => tag.Key),
    ...(decision.policySha256 === undefined ? {} : { policySha256: decision.policySha256 }),
    durationSeconds: decision.durationSeconds,
  };
}

/**
 * Audits a request refused before or during authentication, decision or STS. A failure to write
 * it is logged, not thrown: the request is refused either way, and the log line still exists.
 */
export async function auditRefusal(
  deps: Pick<IssueDeps, 'audit' | 'logger' | 'now' | 'metrics'>,
  context: AuditContext,
  error: unknown,
  known: { identity?: Identity; decision?: Decision; named?: IdpNamedSession } = {},
): Promise<void> {
  const status = error instanceof AppError ? error.statusCode : 500;
  const record: AuditRecord = {
    ...baseRecord(context, deps.now()),
    outcome: status < 500 ? 'denied' : 'error',
    reason: reasonOf(error),
    ...(known.identity === undefined ? {} : principalFields(known.identity)),
    ...(known.decision === undefined ? {} : decisionFields(known.decision, known.named)),
  };
  countOutcome(deps.metrics, reasonOf(error), status);
  try {
    await deps.audit.write(record);
  } catch (auditError) {
    deps.logger.error('audit record for a refused request could not be written', {
      audit: record,
      error: auditError as Error,
    });
  }
}

/** The config or a 503: DynamoDB down, or a damaged generation, is an unavailable dependency. */
export async function loadConfig(deps: Pick<IssueDeps, 'config'>): Promise<ConfigGeneration> {
  try {
    return await deps.config.require();
  } catch (error) {
    if (error instanceof AppError && error.statusCode === 503) throw error;
    throw new UpstreamError(error, 5, 'config_unavailable');
  }
}

/**
 * Only the mappings this login may use: native SAML logins reach only the asserted roles, an
 * identity pool only its own mappings.
 */
export function usableConfig(config: TvmConfig, context: LoginContext): TvmConfig {
  const { roles, mappings } = context;
  if (roles === 'any' && mappings === 'any') return config;
  return {
    ...config,
    mappings: config.mappings.filter(
      (m) =>
        (roles === 'any' || roles.includes(m.roleArn)) &&
        (mappings === 'any' || mappings.includes(m.id)),
    ),
  };
}

/** Makes the session the way the login context says; never reads anything but data. */
async function vendFor(
  deps: IssueDeps,
  decision: Decision,
  context: LoginContext,
  options: VendOptions,
): Promise<VendedCredentials> {
  const method = context.vend;
  if (method.kind === 'assume-role') {
    return vendCredentials(deps.sts, decision, {
      ...options,
      ...(method.omitDuration ? { omitDuration: true } : {}),
    });
  }
  const role = method.roles.find((candidate) => candidate.roleArn === decision.roleArn);
  if (role === undefined) throw new ForbiddenError('role_not_asserted');
  return vendWithSaml(
    deps.sts,
    decision,
    { principalArn: role.principalArn, samlResponse: method.samlResponse },
    options,
  );
}

/** The decision with what the way in stamps on every session (the audit record shows both). */
export function stamped(decision: Decision, stamp: SessionStamp | undefined): Decision {
  if (stamp === undefined) return decision;
  return {
    ...decision,
    tags: [...decision.tags, ...stamp.tags.map((tag) => ({ Key: tag.Key, Value: tag.Value }))],
    ...(decision.mapping.sourceIdentity === undefined && stamp.sourceIdentity !== undefined
      ? { sourceIdentity: stamp.sourceIdentity }
      : {}),
  };
}

/** Native mode: the audit record stores what the session really carries, never our rendering. */
function namedSession(context: LoginContext): IdpNamedSession | undefined {
  return context.vend.kind === 'assume-role-with-saml' ? context.vend.session : undefined;
}

/**
 * authenticate ▸ guard ▸ decide ▸ vend ▸ audit, for every way in. Exactly one audit record per
 * call, written before anything is returned; credentials leave only once theirs is written.
 */
export async function issue<C extends LoginContext>(
  deps: IssueDeps,
  request: IssueRequest,
  authenticate: Authenticate<C>,
): Promise<IssueOutcome<C>> {
  let login: Login<C> | undefined;
  let decision: Decision | undefined;
  let credentials: VendedCredentials;
  let reuseKey: string | undefined;
  let reused: VendedCredentials | undefined;
  // What the records say: the request's audit context, with the identity the login resolved.
  let audited: IssueRequest = request;
  try {
    const loaded = await loadConfig(deps);
    login = await authenticate(loaded.config);
    const { identity, context } = login;
    if (context.identityId !== undefined) audited = { ...request, identityId: context.identityId };
    const config = usableConfig(loaded.config, context);
    if (!config.providers.some((p) => p.id === identity.provider)) {
      throw new UpstreamError(new Error('provider left the config'));
    }
    await deps.guard.check(identity, loaded.config.providers, {
      now: deps.now(),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    if (context.admitOnly !== undefined) {
      await deps.audit.write({
        ...baseRecord(audited, deps.now()),
        outcome: 'pending',
        reason: context.admitOnly,
        ...principalFields(identity),
      });
      countOutcome(deps.metrics, context.admitOnly, 200);
      return { kind: 'admitted', login };
    }
    if (request.mappingId === undefined && context.offerChoice) {
      const matched = matchMappings(identity, config);
      if (matched.length > 1) {
        await deps.audit.write({
          ...baseRecord(audited, deps.now()),
          outcome: 'pending',
          reason: 'role_choice_offered',
          ...principalFields(identity),
        });
        countOutcome(deps.metrics, 'role_choice_offered', 200);
        return { kind: 'choose', login, mappings: matched };
      }
    }
    decision = stamped(
      decide(identity, config, {
        ...(request.mappingId === undefined ? {} : { mappingId: request.mappingId }),
        ...(request.durationSeconds === undefined
          ? {}
          : { durationSeconds: request.durationSeconds }),
      }),
      context.stamp,
    );
    // Reuse only after the deny list and rate limits passed, and only what this instance vended
    // for exactly this principal and these AssumeRole parameters.
    const reuse = decision.mapping.reuse;
    const reusable =
      context.vend.kind === 'assume-role' && context.vend.reusable && !context.vend.omitDuration;
    reuseKey =
      reuse !== undefined && deps.reuse !== undefined && reusable
        ? CredentialReuseCache.key(identity, decision)
        : undefined;
    reused =
      reuseKey === undefined || reuse === undefined
        ? undefined
        : deps.reuse?.find(reuseKey, deps.now(), reuse.minRemainingSeconds);
    credentials =
      reused ??
      (await vendFor(deps, decision, context, {
        ...deps.vend,
        metrics: deps.metrics,
        ...(request.deadline === undefined ? {} : { deadline: request.deadline }),
      }));
  } catch (error) {
    if (error instanceof StsError && error.failure === 'misconfigured') {
      // AccessDenied or a malformed policy: the role's trust policy or the mapping is wrong.
      deps.logger.warn('STS refused the AssumeRole call: check the role trust policy and mapping', {
        mappingId: decision?.mapping.id,
        roleArn: decision?.roleArn,
        stsError: (error.cause as { name?: string } | undefined)?.name,
      });
    }
    const named = login === undefined ? undefined : namedSession(login.context);
    await auditRefusal(deps, audited, error, {
      ...(login === undefined ? {} : { identity: login.identity }),
      ...(decision === undefined ? {} : { decision }),
      ...(named === undefined ? {} : { named }),
    });
    throw error;
  }

  const record: AuditRecord = {
    ...baseRecord(audited, deps.now()),
    outcome: 'allowed',
    // A reuse is its own audited event, carrying the original AccessKeyId.
    reason: reused === undefined ? 'ok' : 'reused',
    ...principalFields(login.identity),
    ...decisionFields(decision, namedSession(login.context)),
    accessKeyId: credentials.accessKeyId,
    expiration: credentials.expiration.toISOString(),
  };
  try {
    await deps.audit.write(record);
  } catch (error) {
    // Fail closed: credentials that were not audited are never handed out.
    deps.logger.error('audit write failed; the vended credentials are withheld', {
      accessKeyId: credentials.accessKeyId,
      requestId: request.requestId,
      error: error as Error,
    });
    const withheld = new UpstreamError(error);
    countOutcome(deps.metrics, withheld.reason, withheld.statusCode);
    throw withheld;
  }
  const vended = { provider: login.identity.provider, mapping: decision.mapping.id };
  deps.metrics.count('Vend', vended);
  if (reused !== undefined) deps.metrics.count('ReuseHit', vended);
  countOutcome(deps.metrics, reused === undefined ? 'ok' : 'reused', 200);
  // Cached only once audited: unaudited credentials are never handed out, now or later.
  if (reuseKey !== undefined && reused === undefined) deps.reuse?.store(reuseKey, credentials);
  return { kind: 'issued', login, decision, credentials };
}
