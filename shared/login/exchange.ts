/**
 * The code exchange (RFC 6749 §4.1.3 with RFC 7636): a one-time code from the loopback, its PKCE
 * verifier and the same redirect_uri in, a login session handle out. The code is gone after the
 * first attempt, right or wrong, so a stolen code cannot be tried twice.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '#shared/auth/identity.ts';
import { type AuditContext, auditRefusal, loadConfig } from '#shared/credentials/issue.ts';
import { AuthenticationError } from '#shared/errors.ts';
import { verifierMatches } from './loopback.ts';
import { type LoginDeps, sessionProvider, writeAudit } from './session.ts';
import { type LoginSession, principalOf, sha256Hex, storedIdentity } from './store.ts';

export interface Grant {
  code: string;
  codeVerifier: string;
  redirectUri: string;
}

export interface CreatedSession {
  /** The bearer handle: returned once, never stored or logged. */
  handle: string;
  session: LoginSession;
}

export async function exchangeCode(
  deps: LoginDeps,
  request: AuditContext,
  grant: Grant,
): Promise<CreatedSession> {
  const { core } = deps;
  let identity: Identity | undefined;
  try {
    // Consumed before anything is compared: single use even when the verifier is wrong.
    const code = await deps.store.consumeCode(sha256Hex(grant.code));
    if (code === undefined) throw new AuthenticationError('code_invalid');
    identity = storedIdentity(code);
    const now = core.now();
    if (code.expiresAt * 1000 <= now.getTime()) throw new AuthenticationError('code_expired');
    // Only the process that started the login knows the verifier (RFC 7636 §1).
    if (!verifierMatches(grant.codeVerifier, code.codeChallenge)) {
      throw new AuthenticationError('pkce_mismatch');
    }
    // RFC 6749 §4.1.3: the redirect_uri must be the one the code was sent to.
    if (grant.redirectUri !== code.redirectUri) {
      throw new AuthenticationError('redirect_uri_mismatch');
    }
    const { config } = await loadConfig(core);
    const provider = sessionProvider(config, code);
    if (provider === undefined) throw new AuthenticationError('code_invalid');
    // A principal denied since the ACS gets no session (a later deny removal must not revive one).
    await core.guard.check(identity, config.providers, {
      now,
      ...(request.sourceIp === undefined ? {} : { sourceIp: request.sourceIp }),
    });
    const handle = `tvms_${deps.random?.(32) ?? randomBytes(32).toString('base64url')}`;
    const createdAt = core.now();
    const session: LoginSession = {
      ...principalOf(identity),
      createdAt: createdAt.toISOString(),
      expiresAt: Math.floor(createdAt.getTime() / 1000) + provider.loginSessionMaxSeconds,
    };
    const sessionHash = sha256Hex(handle);
    await deps.store.createSession(sessionHash, session);
    try {
      await writeAudit(core, request, 'session_created', identity, {
        expiration: new Date(session.expiresAt * 1000).toISOString(),
      });
    } catch (error) {
      // No record, no session: it is ended before the refusal goes out.
      await deps.store.endSession(sessionHash, core.now()).catch(() => false);
      throw error;
    }
    return { handle, session };
  } catch (error) {
    await auditRefusal(core, request, error, identity === undefined ? {} : { identity });
    throw error;
  }
}
