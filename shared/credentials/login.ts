/**
 * What a way in hands the core: who the caller is, and an immutable login context that says
 * what differs for this login. The core reads the context as data (like jose's options
 * objects); it never calls back into the way in, and nothing writes to the context later.
 */
import type { Identity } from '#shared/auth/identity.ts';
import type { TvmConfig } from '#shared/config/schema.ts';

/** A role the SAML assertion lists, with the IAM SAML provider AWS must trust for it. */
export interface AssertedRole {
  readonly roleArn: string;
  readonly principalArn: string;
}

/** What a session carries when the IdP names it (AssumeRoleWithSAML reads the assertion). */
export interface IdpNamedSession {
  readonly roleSessionName?: string;
  readonly sourceIdentity?: string;
}

/** How the session is made. */
export type VendMethod =
  | {
      readonly kind: 'assume-role';
      /** The console target: a role-chained session signs in only without DurationSeconds. */
      readonly omitDuration: boolean;
      /** Whether a warm instance may hand back credentials it vended earlier (mapping opt-in). */
      readonly reusable: boolean;
    }
  | {
      /** SAML native mode: STS checks the assertion again and the IdP names the session. */
      readonly kind: 'assume-role-with-saml';
      readonly samlResponse: string;
      readonly roles: readonly AssertedRole[];
      readonly session: IdpNamedSession;
    };

/**
 * What every session of a login carries whatever the mapping says: the Cognito-compatible way in
 * tags each session with its IdentityId and names it by default.
 */
export interface SessionStamp {
  /** Appended to the mapping's tags (validation keeps their keys apart and leaves room). */
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
  /** The SourceIdentity when the mapping sets no `sourceIdentity` template. */
  readonly sourceIdentity?: string;
}

export interface LoginContext {
  /** Which mappings this login may use: all, or only those whose role the assertion lists. */
  readonly roles: 'any' | readonly string[];
  /** Which mappings (by id) this login may use: all, or an identity pool's restriction. */
  readonly mappings: 'any' | readonly string[];
  /** Several matches and no mapping named: stop and let the user choose (the SAML chooser). */
  readonly offerChoice: boolean;
  readonly vend: VendMethod;
  readonly stamp?: SessionStamp;
  /**
   * The Cognito-compatible identity the session is for, when the way in resolved it; the audit
   * record carries it rather than the id the request named (a signed-in guest's id is switched).
   */
  readonly identityId?: string;
  /**
   * Stop once the guard passed, with this pending audit reason: the way in hands out something
   * other than credentials (a terminal login's one-time code), and nothing is decided or vended.
   */
  readonly admitOnly?: 'cli_code_issued' | 'device_confirm_offered' | 'portal_session_created';
}

export interface Login<C extends LoginContext = LoginContext> {
  readonly identity: Identity;
  readonly context: C;
}

/** A way in: proves who the caller is against the config the core loaded for this request. */
export type Authenticate<C extends LoginContext> = (config: TvmConfig) => Promise<Login<C>>;

/** An API client (OIDC bearer token): every mapping, never a chooser, AssumeRole, reusable. */
export const API_LOGIN: LoginContext = Object.freeze({
  roles: 'any',
  mappings: 'any',
  offerChoice: false,
  vend: Object.freeze({ kind: 'assume-role', omitDuration: false, reusable: true }),
});
