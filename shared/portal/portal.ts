/**
 * The access portal with no HTTP: a SAML login opens a login session (the same store as the
 * terminal login's), the page lists what the session's identity matches now, and each action is
 * a single-use token bound to the session it was shown to. Credentials only ever come from the
 * one core issue(), which re-runs guard ▸ decide for every action.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '#shared/auth/identity.ts';
import type { Account, SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import { type AuditContext, auditRefusal } from '#shared/credentials/issue.ts';
import type { Login } from '#shared/credentials/login.ts';
import { AuthenticationError, ForbiddenError } from '#shared/errors.ts';
import {
  authenticateSession,
  endSession,
  type LoginDeps,
  type LoginSessionContext,
  sessionProvider,
  withSessionMatches,
  writeAudit,
} from '#shared/login/session.ts';
import { type LoginSession, type LoginStore, principalOf, sha256Hex } from '#shared/login/store.ts';
import { type PortalStore, SIGN_OUT } from './store.ts';

/** Page ids and action tokens: 32 random bytes, base64url. */
export const PORTAL_TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** The filter box: a substring, at most this long (longer input is cut, not refused). */
export const MAX_FILTER_CHARS = 128;

export type PortalAction = 'console' | 'keys';

export interface PortalDeps extends LoginDeps {
  pages: PortalStore;
}

function random(deps: { random?: (bytes: number) => string }, bytes: number): string {
  return deps.random?.(bytes) ?? randomBytes(bytes).toString('base64url');
}

/**
 * A new login session for an identity the ACS verified and the guard admitted: only its hash is
 * stored, it ends at the provider's loginSessionMaxSeconds, and deny/revoke find it by principal.
 */
export async function openLoginSession(
  deps: { store: LoginStore; now(): Date; random?: (bytes: number) => string },
  identity: Identity,
  provider: SamlProvider,
): Promise<{ handle: string; session: LoginSession }> {
  const handle = `tvms_${random(deps, 32)}`;
  const createdAt = deps.now();
  const session: LoginSession = {
    ...principalOf(identity),
    createdAt: createdAt.toISOString(),
    expiresAt: Math.floor(createdAt.getTime() / 1000) + provider.loginSessionMaxSeconds,
  };
  await deps.store.createSession(sha256Hex(handle), session);
  return { handle, session };
}

export interface PortalRole {
  mapping: string;
  roleArn: string;
  /** The role's name: the ARN after `role/` (with its path). */
  roleName: string;
  description?: string;
  /** The single-use token of this row's actions. */
  token: string;
}

export interface PortalAccount {
  accountId: string;
  alias?: string;
  roles: PortalRole[];
}

export interface PortalView {
  subject: string;
  provider: string;
  expiresAt: Date;
  filter: string;
  /** Roles before the filter: the page says when the filter hid them all. */
  total: number;
  accounts: PortalAccount[];
  page: string;
  signOutToken: string;
}

/** `arn:<partition>:iam::<account>:role/<path/name>`. */
function roleParts(roleArn: string): { accountId: string; roleName: string } {
  const parts = roleArn.split(':');
  return { accountId: parts[4] ?? '', roleName: (parts[5] ?? '').replace(/^role\//, '') };
}

function matchesFilter(filter: string, fields: readonly (string | undefined)[]): boolean {
  const needle = filter.toLowerCase();
  return fields.some((field) => field?.toLowerCase().includes(needle) === true);
}

/** The page: every mapping the identity matches now (guard first), grouped by account. */
export async function portalView(
  deps: PortalDeps,
  request: AuditContext,
  handle: string,
  rawFilter: string,
): Promise<PortalView> {
  return withSessionMatches(deps, request, handle, async ({ login, config, matched }) => {
    const { identity } = login;
    const filter = rawFilter.trim().slice(0, MAX_FILTER_CHARS);
    const accounts = new Map<string, PortalAccount>();
    const actions: Record<string, string> = {};
    for (const mapping of matched) {
      const { accountId, roleName } = roleParts(mapping.roleArn);
      const alias = accountAlias(config, accountId);
      const fields = [mapping.id, mapping.roleArn, mapping.description, accountId, alias];
      if (filter !== '' && !matchesFilter(filter, fields)) continue;
      const token = random(deps, 32);
      actions[sha256Hex(token)] = mapping.id;
      const account = accounts.get(accountId) ?? {
        accountId,
        ...(alias === undefined ? {} : { alias }),
        roles: [],
      };
      account.roles.push({
        mapping: mapping.id,
        roleArn: mapping.roleArn,
        roleName,
        ...(mapping.description === undefined ? {} : { description: mapping.description }),
        token,
      });
      accounts.set(accountId, account);
    }
    const signOutToken = random(deps, 32);
    actions[sha256Hex(signOutToken)] = SIGN_OUT;
    const page = random(deps, 32);
    const expiresAt = login.context.expiresAt;
    await deps.pages.savePage(sha256Hex(page), {
      sessionHash: sha256Hex(handle),
      actions,
      expiresAt: Math.floor(expiresAt.getTime() / 1000),
    });
    await writeAudit(deps.core, request, 'portal_viewed', identity);
    return {
      subject: identity.subject,
      provider: identity.provider,
      expiresAt,
      filter,
      total: matched.length,
      // By alias, then id: the accounts people name first.
      accounts: [...accounts.values()].sort(
        (a, b) =>
          (a.alias ?? '\uffff').localeCompare(b.alias ?? '\uffff') ||
          a.accountId.localeCompare(b.accountId),
      ),
      page,
      signOutToken,
    };
  });
}

function accountAlias(config: TvmConfig, accountId: string): string | undefined {
  const accounts: Readonly<Record<string, Account>> = config.accounts ?? {};
  return Object.hasOwn(accounts, accountId) ? accounts[accountId]?.alias : undefined;
}

/** A posted action: the session cookie, the page and row tokens, and what the row named. */
export interface PostedAction {
  /** The session cookie of the browser that posts, if it sent one. */
  handle: string | undefined;
  page: string;
  token: string;
  /** A mapping id, or SIGN_OUT. */
  target: string;
}

/** What the portal edge reads back: the session's context, the provider, the action. */
export interface PortalActionContext extends LoginSessionContext {
  readonly provider: SamlProvider;
  readonly action: PortalAction;
}

/**
 * Spends the token (right or wrong, it is gone), then checks that it was shown to this very
 * session and names what the row named. Refusals: `portal_action_invalid` (unknown, used,
 * expired), `portal_action_not_bound` (another browser or session), `mapping_not_allowed`.
 */
async function spendAction(
  services: { pages: PortalStore; now(): Date },
  posted: PostedAction,
): Promise<void> {
  if (!PORTAL_TOKEN.test(posted.page) || !PORTAL_TOKEN.test(posted.token)) {
    throw new AuthenticationError('portal_action_invalid');
  }
  const action = await services.pages.consumeAction(
    sha256Hex(posted.page),
    sha256Hex(posted.token),
    services.now(),
  );
  if (action === undefined) throw new AuthenticationError('portal_action_invalid');
  // CSRF and token theft: a token lifted from one browser is useless without its session cookie.
  if (posted.handle === undefined || sha256Hex(posted.handle) !== action.sessionHash) {
    throw new AuthenticationError('portal_action_not_bound');
  }
  // The row's token names its mapping: a form edited to name another one is refused.
  if (action.target !== posted.target) throw new ForbiddenError('mapping_not_allowed');
}

/**
 * A Console or Access keys action as a way in for issue(): the session's identity, restricted
 * to the one mapping the token was minted for. Console sessions are role-chained, so they are
 * vended without DurationSeconds (the federation endpoint refuses one) and never reused.
 */
export async function authenticatePortalAction(
  services: { store: LoginStore; pages: PortalStore; now(): Date },
  posted: PostedAction,
  action: PortalAction,
  config: TvmConfig,
): Promise<Login<PortalActionContext>> {
  await spendAction(services, posted);
  const login = await authenticateSession(services, posted.handle ?? '', config);
  const provider = sessionProvider(config, login.identity);
  if (provider === undefined) throw new AuthenticationError('session_invalid');
  const context: PortalActionContext = Object.freeze({
    ...login.context,
    mappings: Object.freeze([posted.target]),
    ...(action === 'console'
      ? { vend: Object.freeze({ kind: 'assume-role', omitDuration: true, reusable: false }) }
      : {}),
    provider,
    action,
  } as const);
  return { identity: login.identity, context };
}

/** Sign out: the sign-out token of a page shown to this session, then the session ends. */
export async function signOut(
  deps: PortalDeps,
  request: AuditContext,
  posted: Omit<PostedAction, 'target'>,
): Promise<void> {
  try {
    await spendAction({ pages: deps.pages, now: deps.core.now }, { ...posted, target: SIGN_OUT });
  } catch (error) {
    await auditRefusal(deps.core, request, error);
    throw error;
  }
  // Then exactly what the CLI's logout does, with its one audit record.
  await endSession(deps, request, posted.handle ?? '');
}
