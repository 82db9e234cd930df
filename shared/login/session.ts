/**
 * A login session is one more way in: its bearer handle authenticates as the identity the SAML
 * assertion proved when the session was created, and every request re-runs the guard (and, for
 * credentials, decide) against the config and deny list of now. No HTTP here.
 */
import type { AuditRecord } from '#shared/audit/audit.ts';
import type { Identity } from '#shared/auth/identity.ts';
import { principalIssuer } from '#shared/auth/principal.ts';
import type { Mapping, Provider, SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import {
  type AuditContext,
  auditRefusal,
  baseRecord,
  type IssueDeps,
  loadConfig,
  principalFields,
} from '#shared/credentials/issue.ts';
import type { Login, LoginContext } from '#shared/credentials/login.ts';
import { type AuditReason, AuthenticationError, UpstreamError } from '#shared/errors.ts';
import { matchMappings } from '#shared/mapping/decide.ts';
import { countOutcome } from '#shared/metrics.ts';
import {
  type LoginSession,
  type LoginStore,
  SESSION_HANDLE,
  sha256Hex,
  storedIdentity,
} from './store.ts';

/** What terminal-login routes need besides the core: the code and session store. */
export interface LoginDeps {
  core: IssueDeps;
  store: LoginStore;
  /** Random bytes as base64url (tests pin them); crypto.randomBytes otherwise. */
  random?: (bytes: number) => string;
}

export interface LoginSessionContext extends LoginContext {
  /** When the session ends, whatever the requests in it do. */
  readonly expiresAt: Date;
}

/** Every mapping the identity matches now, no chooser, AssumeRole; reuse only where a mapping opts in. */
function sessionContext(session: LoginSession): LoginSessionContext {
  return Object.freeze({
    roles: 'any',
    mappings: 'any',
    offerChoice: false,
    vend: Object.freeze({ kind: 'assume-role', omitDuration: false, reusable: true }),
    expiresAt: new Date(session.expiresAt * 1000),
  });
}

/**
 * The SAML provider a session (or a code) still belongs to: the same entry, still SAML, chained,
 * and still the same IdP. A provider that left, switched IdP or went native ends its sessions.
 */
export function sessionProvider(
  config: TvmConfig,
  stored: { provider: string; issuer: string },
): SamlProvider | undefined {
  const provider = config.providers.find((candidate: Provider) => candidate.id === stored.provider);
  if (provider?.type !== 'saml' || provider.mode !== 'chained') return undefined;
  return principalIssuer(provider) === stored.issuer ? provider : undefined;
}

/** The handle's live session as a Login, or a 401 `session_invalid` (unknown, ended, expired). */
export async function authenticateSession(
  services: { store: LoginStore; now(): Date },
  handle: string,
  config: TvmConfig,
): Promise<Login<LoginSessionContext>> {
  if (!SESSION_HANDLE.test(handle)) throw new AuthenticationError('session_invalid');
  const session = await services.store.findSession(sha256Hex(handle), services.now());
  if (session === undefined || sessionProvider(config, session) === undefined) {
    throw new AuthenticationError('session_invalid');
  }
  return { identity: storedIdentity(session), context: sessionContext(session) };
}

/** Writes the one record of a step that went through; no record, no answer (fail closed). */
export async function writeAudit(
  deps: IssueDeps,
  request: AuditContext,
  reason: AuditReason,
  identity: Identity,
  extra: Partial<AuditRecord> = {},
): Promise<void> {
  try {
    await deps.audit.write({
      ...baseRecord(request, deps.now()),
      outcome: 'allowed',
      reason,
      ...principalFields(identity),
      ...extra,
    });
  } catch (error) {
    throw new UpstreamError(error);
  }
  countOutcome(deps.metrics, reason, 200);
}

export interface SessionRole {
  mapping: string;
  roleArn: string;
  accountId: string;
  description?: string;
}

/** `arn:<partition>:iam::<account>:role/...` → the account. */
function accountOf(roleArn: string): string {
  return roleArn.split(':')[4] ?? '';
}

/** What a session request reads: the login, the config it was checked against, its matches now. */
export interface SessionMatches {
  login: Login<LoginSessionContext>;
  config: TvmConfig;
  matched: Mapping[];
}

/**
 * The session's mappings as they match now (the roles list, the portal): load the config,
 * authenticate the handle, run the guard, then `use` them. A refusal anywhere, `use` included,
 * writes the one audit record (with the identity once known); `use` writes the success record.
 */
export async function withSessionMatches<T>(
  deps: LoginDeps,
  request: AuditContext,
  handle: string,
  use: (matches: SessionMatches) => Promise<T>,
): Promise<T> {
  const { core } = deps;
  let login: Login<LoginSessionContext> | undefined;
  try {
    const { config } = await loadConfig(core);
    login = await authenticateSession({ store: deps.store, now: core.now }, handle, config);
    await core.guard.check(login.identity, config.providers, {
      now: core.now(),
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    return await use({ login, config, matched: matchMappings(login.identity, config) });
  } catch (error) {
    await auditRefusal(
      core,
      request,
      error,
      login === undefined ? {} : { identity: login.identity },
    );
    throw error;
  }
}

/** The mappings the session's identity matches now (guard first); one audit record. */
export async function listRoles(
  deps: LoginDeps,
  request: AuditContext,
  handle: string,
): Promise<{ roles: SessionRole[]; expiresAt: Date }> {
  return withSessionMatches(deps, request, handle, async ({ login, matched }) => {
    const roles = matched.map((mapping) => ({
      mapping: mapping.id,
      roleArn: mapping.roleArn,
      accountId: accountOf(mapping.roleArn),
      ...(mapping.description === undefined ? {} : { description: mapping.description }),
    }));
    await writeAudit(deps.core, request, 'roles_listed', login.identity);
    return { roles, expiresAt: login.context.expiresAt };
  });
}

/** Ends the handle's session (the CLI's logout); one audit record. No guard: leaving always works. */
export async function endSession(
  deps: LoginDeps,
  request: AuditContext,
  handle: string,
): Promise<void> {
  const { core } = deps;
  let login: Login<LoginSessionContext> | undefined;
  try {
    const { config } = await loadConfig(core);
    login = await authenticateSession({ store: deps.store, now: core.now }, handle, config);
    // Two logouts racing: only one ends it, the other finds nothing to end.
    if (!(await deps.store.endSession(sha256Hex(handle), core.now()))) {
      throw new AuthenticationError('session_invalid');
    }
    await writeAudit(core, request, 'session_ended', login.identity);
  } catch (error) {
    await auditRefusal(
      core,
      request,
      error,
      login === undefined ? {} : { identity: login.identity },
    );
    throw error;
  }
}
