/**
 * The one path from a bearer token to credentials: authenticate ▸ decide ▸ vend ▸ audit.
 * Every way out of it writes exactly one audit record; credentials leave only after theirs
 * was written (DESIGN.md §7.1).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { STSClient } from '@aws-sdk/client-sts';
import { type AuditRecord, type AuditSink, subjectHash } from '#shared/audit/audit.ts';
import type { Identity } from '#shared/auth/identity.ts';
import type { OidcAuthenticator } from '#shared/auth/oidc.ts';
import type { Mapping, OidcProvider, Provider, TvmConfig } from '#shared/config/schema.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { AppError, UpstreamError } from '#shared/errors.ts';
import type { AccessGuard } from '#shared/guard/guard.ts';
import { decide, matchMappings } from '#shared/mapping/decide.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import {
  StsError,
  type VendedCredentials,
  type VendOptions,
  vendCredentials,
} from '#shared/sts/vend.ts';
import { CredentialReuseCache } from './reuse.ts';

export interface IssueDeps {
  config: { require(): Promise<ConfigGeneration> };
  authenticator: OidcAuthenticator;
  sts: STSClient;
  audit: AuditSink;
  /** Deny list and rate limits, checked after authentication and before deciding. */
  guard: AccessGuard;
  /** This instance's cache for mappings that opt into `reuse`; absent means never reuse. */
  reuse?: CredentialReuseCache;
  vend: VendOptions;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  now(): Date;
}

export interface IssueRequest {
  requestId: string;
  route: string;
  token: string;
  provider?: string;
  mappingId?: string;
  durationSeconds?: number;
  sourceIp?: string;
  /** Epoch ms by which STS must have answered: the Lambda's deadline less a margin. */
  deadline?: number;
}

export interface Issued {
  identity: Identity;
  decision: Decision;
  credentials: VendedCredentials;
}

/** The audit reason for an error: the typed reason when there is one, else a code. */
export function reasonOf(error: unknown): string {
  const reason = (error as { reason?: unknown }).reason;
  if (typeof reason === 'string') return reason;
  if (error instanceof StsError) return `sts_${error.failure}`;
  if (error instanceof AppError) {
    return error.code.replace(/^ERR_/, '').toLowerCase();
  }
  return 'internal_error';
}

interface AuditContext {
  requestId: string;
  route: string;
  sourceIp?: string;
}

function baseRecord(
  context: AuditContext,
  at: Date,
): Pick<AuditRecord, 'requestId' | 'at' | 'route' | 'sourceIp'> {
  return {
    requestId: context.requestId,
    at: at.toISOString(),
    route: context.route,
    ...(context.sourceIp === undefined ? {} : { sourceIp: context.sourceIp }),
  };
}

/** Who the record is about: the principal (issuer + subject), hashed, and the entry that matched. */
function principalFields(identity: Identity): Partial<AuditRecord> {
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
  deps: Pick<IssueDeps, 'audit' | 'logger' | 'now'>,
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
async function loadConfig(deps: Pick<IssueDeps, 'config'>): Promise<ConfigGeneration> {
  try {
    return await deps.config.require();
  } catch (error) {
    if (error instanceof AppError && error.statusCode === 503) throw error;
    throw Object.assign(new UpstreamError(error, 5), { reason: 'config_unavailable' });
  }
}

export async function issueCredentials(deps: IssueDeps, request: IssueRequest): Promise<Issued> {
  const outcome = await issueForIdentity(deps, request, {
    authenticate: (config) =>
      deps.authenticator.authenticate(
        request.token,
        config.providers.filter((p): p is OidcProvider => p.type === 'oidc'),
        request.provider === undefined ? {} : { provider: request.provider },
      ),
  });
  if (outcome.kind !== 'issued') throw new Error('an OIDC request never asks to choose');
  return outcome;
}

/**
 * What a session carries when the IdP names it (SAML native mode: AssumeRoleWithSAML takes the
 * session name and SourceIdentity from the assertion, never from the TVM). Absent: not set.
 */
export interface IdpNamedSession {
  roleSessionName?: string;
  sourceIdentity?: string;
}

/** How one login proves its identity and turns a decision into credentials. */
export interface IssueFlow {
  /** Proves who the caller is against the loaded config (OIDC token, SAML assertion, selection). */
  authenticate(config: TvmConfig): Promise<Identity>;
  /**
   * Only these mappings may match (SAML native mode: the roles the assertion itself lists).
   * Applied after authentication and before deciding: the others do not exist for this login.
   */
  allowMapping?(mapping: Mapping): boolean;
  /**
   * Called with every matching mapping when the request named none: true stops before vending so
   * the user can choose (the SAML role chooser). Audited as `role_choice_offered`.
   */
  offerChoice?(matched: readonly Mapping[], provider: Provider): boolean;
  /** Replaces AssumeRole (SAML native mode: AssumeRoleWithSAML). */
  vend?(decision: Decision, options: VendOptions): Promise<VendedCredentials>;
  /**
   * The console target: no DurationSeconds, or the role-chained session cannot sign in. A
   * function, because the target is known only once the login is authenticated.
   */
  omitDuration?(): boolean;
  /**
   * SAML native mode: the session name and SourceIdentity the assertion sets, for the audit
   * record in place of the decision's (which STS never sees). Known once authenticated.
   */
  idpNamedSession?(): IdpNamedSession | undefined;
}

export type IssueOutcome =
  | ({ kind: 'issued' } & Issued)
  | { kind: 'choose'; identity: Identity; mappings: Mapping[] };

/**
 * authenticate ▸ guard ▸ decide ▸ vend ▸ audit, for any way of authenticating. Exactly one audit
 * record per call, written before anything is returned.
 */
export async function issueForIdentity(
  deps: IssueDeps,
  request: Omit<IssueRequest, 'token'>,
  flow: IssueFlow,
): Promise<IssueOutcome> {
  let identity: Identity | undefined;
  let decision: Decision | undefined;
  let credentials: VendedCredentials;
  let reuseKey: string | undefined;
  let reused: VendedCredentials | undefined;
  try {
    const loaded = await loadConfig(deps);
    identity = await flow.authenticate(loaded.config);
    const config: TvmConfig =
      flow.allowMapping === undefined
        ? loaded.config
        : { ...loaded.config, mappings: loaded.config.mappings.filter(flow.allowMapping) };
    const provider = config.providers.find((p) => p.id === identity?.provider);
    if (provider === undefined) throw new UpstreamError(new Error('provider left the config'));
    await deps.guard.check(identity, loaded.config.providers, {
      now: deps.now(),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    if (request.mappingId === undefined && flow.offerChoice !== undefined) {
      const matched = matchMappings(identity, config);
      if (flow.offerChoice(matched, provider)) {
        await deps.audit.write({
          ...baseRecord(request, deps.now()),
          outcome: 'pending',
          reason: 'role_choice_offered',
          ...principalFields(identity),
        });
        return { kind: 'choose', identity, mappings: matched };
      }
    }
    decision = decide(identity, config, {
      ...(request.mappingId === undefined ? {} : { mappingId: request.mappingId }),
      ...(request.durationSeconds === undefined
        ? {}
        : { durationSeconds: request.durationSeconds }),
    });
    // Reuse only after the deny list and rate limits passed, and only what this instance vended
    // for exactly this principal and these AssumeRole parameters.
    const reuse = decision.mapping.reuse;
    reuseKey =
      reuse !== undefined && deps.reuse !== undefined && flow.vend === undefined
        ? CredentialReuseCache.key(identity, decision)
        : undefined;
    reused =
      reuseKey === undefined || reuse === undefined
        ? undefined
        : deps.reuse?.find(reuseKey, deps.now(), reuse.minRemainingSeconds);
    const vendOptions: VendOptions = {
      ...deps.vend,
      ...(request.deadline === undefined ? {} : { deadline: request.deadline }),
      ...(flow.omitDuration?.() === true ? { omitDuration: true } : {}),
    };
    credentials =
      reused ??
      (flow.vend === undefined
        ? await vendCredentials(deps.sts, decision, vendOptions)
        : await flow.vend(decision, vendOptions));
  } catch (error) {
    if (error instanceof StsError && error.failure === 'misconfigured') {
      // AccessDenied or a malformed policy: the role's trust policy or the mapping is wrong.
      deps.logger.warn('STS refused the AssumeRole call: check the role trust policy and mapping', {
        mappingId: decision?.mapping.id,
        roleArn: decision?.roleArn,
        stsError: (error.cause as { name?: string } | undefined)?.name,
      });
    }
    const named = identity === undefined ? undefined : flow.idpNamedSession?.();
    await auditRefusal(deps, request, error, {
      ...(identity === undefined ? {} : { identity }),
      ...(decision === undefined ? {} : { decision }),
      ...(named === undefined ? {} : { named }),
    });
    throw error;
  }

  const record: AuditRecord = {
    ...baseRecord(request, deps.now()),
    outcome: 'allowed',
    // A reuse is its own audited event, carrying the original AccessKeyId.
    reason: reused === undefined ? 'ok' : 'reused',
    ...principalFields(identity),
    ...decisionFields(decision, flow.idpNamedSession?.()),
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
    throw new UpstreamError(error);
  }
  // Cached only once audited: unaudited credentials are never handed out, now or later.
  if (reuseKey !== undefined && reused === undefined) deps.reuse?.store(reuseKey, credentials);
  return { kind: 'issued', identity, decision, credentials };
}
