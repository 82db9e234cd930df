/**
 * The SAML way in, with no HTTP: a posted assertion (the ACS) or the chooser's answer in, a
 * Login with an immutable SAML login context out, or an AuthenticationError with its reason.
 * The edge (functions/saml/) parses forms and cookies and renders pages; the core issues.
 */
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer } from '#shared/auth/principal.ts';
import type { SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import type { AssertedRole, Login, LoginContext, VendMethod } from '#shared/credentials/login.ts';
import {
  AuthenticationError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '#shared/errors.ts';
import type { DeviceLogin } from '#shared/login/device.ts';
import type { CliStart } from '#shared/login/loopback.ts';
import {
  AWS_SAML_ENDPOINT,
  assertedRoles,
  nativeSession,
  pinnedCertificates,
  type SpUrls,
  samlIdentity,
  spUrls,
} from './provider.ts';
import { samlRefusal, validateSamlResponse } from './response.ts';
import type { SpSigningKey } from './sp.ts';
import {
  type LoginTarget,
  type PendingSelection,
  type SamlStateStore,
  sha256Hex,
} from './state.ts';

/** Our opaque RelayState and chooser tokens: 32 random bytes, base64url. */
export const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What the SAML edge reads back from a login: where the user goes, and with which role set. */
export interface SamlLoginContext extends LoginContext {
  readonly provider: SamlProvider;
  readonly target: LoginTarget;
  readonly urls: SpUrls;
  /** The assertion this login came from (kept with a pending choice). */
  readonly assertionId: string;
  /** Target `cli`: where the one-time code goes, and the browser that finished the login. */
  readonly cli?: CliLogin;
  /** Target `portal`: the edge opens a login session and sets its cookie; nothing is vended. */
  readonly portal?: true;
  /** Target `device`: the device the typed code named; the edge shows the confirm page. */
  readonly device?: DeviceLogin;
}

export interface CliLogin extends CliStart {
  readonly browserHash: string;
}

export interface SamlLoginServices {
  state: SamlStateStore;
  now(): Date;
  /** The SP decryption key pair, for providers that set `decryptAssertions`. */
  decryptionKey?: () => Promise<SpSigningKey | undefined>;
}

/** The SAML provider of the path, or a 404 (an OIDC provider has no SAML endpoints). */
export function samlProviderOf(config: TvmConfig, id: string): SamlProvider {
  const provider = config.providers.find((candidate) => candidate.id === id);
  if (provider?.type !== 'saml') throw new NotFoundError('unknown_provider');
  return provider;
}

/** The data the core reads: which roles, whether to offer the chooser, how to vend. */
function samlContext(
  provider: SamlProvider,
  fields: {
    target: LoginTarget;
    urls: SpUrls;
    assertionId: string;
    offerChoice: boolean;
    /** Native mode: AssumeRoleWithSAML with this assertion, for the roles it lists. */
    native?: NativeVend;
    cli?: CliLogin;
    portal?: boolean;
    device?: DeviceLogin;
  },
): SamlLoginContext {
  const { native, cli } = fields;
  const context: SamlLoginContext = {
    provider,
    target: fields.target,
    urls: fields.urls,
    assertionId: fields.assertionId,
    offerChoice: fields.offerChoice && provider.ambiguity === 'choose',
    // Native mode reaches only the roles the assertion itself lists.
    roles: native === undefined ? 'any' : native.roles.map((role) => role.roleArn),
    mappings: 'any',
    vend:
      native === undefined
        ? // A role-chained session signs in to the console only without DurationSeconds.
          { kind: 'assume-role', omitDuration: fields.target === 'console', reusable: false }
        : native,
    // A terminal login stops at the guard: the ACS hands out a one-time code, not credentials.
    ...(cli === undefined
      ? {}
      : {
          cli: Object.freeze({ ...cli }),
          admitOnly: 'cli_code_issued' as const,
          offerChoice: false,
        }),
    // A portal login stops at the guard too: the edge opens a login session, nothing is vended.
    ...(fields.portal === true
      ? { portal: true as const, admitOnly: 'portal_session_created' as const, offerChoice: false }
      : {}),
    // A device login stops at the guard: the person confirms on a page before anything is granted.
    ...(fields.device === undefined
      ? {}
      : {
          device: Object.freeze({ ...fields.device }),
          admitOnly: 'device_confirm_offered' as const,
          offerChoice: false,
        }),
  };
  return Object.freeze(context);
}

type NativeVend = Extract<VendMethod, { kind: 'assume-role-with-saml' }>;

function nativeVend(
  samlResponse: string,
  roles: readonly AssertedRole[],
  session: PendingSelection['idpNamedSession'],
): NativeVend {
  return Object.freeze({
    kind: 'assume-role-with-saml',
    samlResponse,
    roles: Object.freeze([...roles]),
    session: Object.freeze({ ...(session ?? {}) }),
  });
}

export interface PostedAssertion {
  providerId: string;
  samlResponse: string;
  relayState: string;
  /** The login cookie of the browser that posts, if it sent one. */
  browser: string | undefined;
  baseUrl: string;
}

/**
 * The ACS: the assertion is valid and addressed to us, not replayed, and answers a login this
 * browser started (or an IdP-initiated one the provider allows).
 */
export async function authenticateAssertion(
  services: SamlLoginServices,
  posted: PostedAssertion,
  config: TvmConfig,
): Promise<Login<SamlLoginContext>> {
  const provider = samlProviderOf(config, posted.providerId);
  const urls = spUrls(posted.baseUrl, provider);
  const native = provider.mode === 'native';
  // Read only for a provider that decrypts; undefined fails closed in validateSamlResponse.
  const decryptionKey = provider.decryptAssertions
    ? (await services.decryptionKey?.())?.privateKey
    : undefined;
  const verified = await validateSamlResponse(posted.samlResponse, provider, {
    // Native mode: the IdP addresses the assertion to AWS, which checks it again.
    acsUrls: native ? [urls.acs, AWS_SAML_ENDPOINT] : [urls.acs],
    audiences: [provider.spEntityId],
    certificates: pinnedCertificates(provider),
    ...(decryptionKey === undefined ? {} : { decryptionKey }),
    now: services.now(),
  });
  // Single use, even for two posts racing: a conditional put of the assertion id.
  const expiresAt = Math.ceil(verified.notOnOrAfter.getTime() / 1000) + provider.clockSkewSeconds;
  if (!(await services.state.claimAssertion(principalIssuer(provider), verified.id, expiresAt))) {
    throw samlRefusal('replayed');
  }
  let target: LoginTarget;
  let cli: CliLogin | undefined;
  let device: DeviceLogin | undefined;
  if (verified.inResponseTo !== undefined) {
    const pending = await services.state.consumeLogin(
      verified.inResponseTo,
      provider.id,
      services.now(),
    );
    if (pending === undefined) throw new AuthenticationError('in_response_to_unknown');
    if (sha256Hex(posted.relayState) !== pending.relayStateHash) {
      throw new AuthenticationError('relay_state_invalid');
    }
    // Login CSRF: only the browser that started this login may finish it.
    if (posted.browser === undefined || sha256Hex(posted.browser) !== pending.browserHash) {
      throw new AuthenticationError('login_not_bound');
    }
    target = pending.target;
    if (target === 'cli') {
      // A login session vends with AssumeRole; native mode has no such path (refused at /login too).
      if (pending.cli === undefined || native) {
        throw new ValidationError('invalid_target', { reason: 'invalid_target' });
      }
      cli = { ...pending.cli, browserHash: pending.browserHash };
    }
    // A portal session vends with AssumeRole; native mode has none (refused at /login too).
    if (target === 'portal' && native) {
      throw new ValidationError('invalid_target', { reason: 'invalid_target' });
    }
    if (target === 'device') {
      // A device session vends with AssumeRole; native mode has none (refused at /login too).
      if (pending.device === undefined || native) {
        throw new ValidationError('invalid_target', { reason: 'invalid_target' });
      }
      device = { ...pending.device };
    }
  } else {
    // IdP-initiated (validateSamlResponse refused it unless allowIdpInitiated).
    if (OPAQUE_TOKEN.test(posted.relayState)) throw new AuthenticationError('relay_state_invalid');
    target = posted.relayState === 'credentials' ? 'credentials' : 'console';
  }
  return {
    identity: samlIdentity(provider, verified),
    context: samlContext(provider, {
      target,
      urls,
      assertionId: verified.id,
      offerChoice: true,
      ...(cli === undefined ? {} : { cli }),
      ...(target === 'portal' ? { portal: true } : {}),
      ...(device === undefined ? {} : { device }),
      ...(native && cli === undefined
        ? {
            native: nativeVend(
              posted.samlResponse,
              assertedRoles(verified),
              nativeSession(verified),
            ),
          }
        : {}),
    }),
  };
}

export interface PostedSelection {
  providerId: string;
  token: string;
  mappingId: string;
  /** Native mode: the assertion the chooser page carried back. */
  samlResponse: string;
  browser: string | undefined;
  baseUrl: string;
}

/** Claims as stored with a pending selection, back into a frozen null-prototype record. */
function restoredClaims(value: unknown): Identity['claims'] {
  return toClaims(
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {},
  );
}

/**
 * The chooser's answer: a single-use token, from the browser it was given to, naming one of the
 * mappings offered. The identity is the one the assertion proved when the choice was offered.
 */
export async function authenticateSelection(
  services: SamlLoginServices,
  posted: PostedSelection,
  config: TvmConfig,
): Promise<Login<SamlLoginContext>> {
  const provider = samlProviderOf(config, posted.providerId);
  const selection = await services.state.consumeSelection(sha256Hex(posted.token), services.now());
  // Also the issuer: a choice offered for another IdP's principal is not this one's.
  if (
    selection === undefined ||
    selection.provider !== provider.id ||
    selection.issuer !== principalIssuer(provider)
  ) {
    throw new AuthenticationError('selection_invalid');
  }
  // Login CSRF: a token lifted from one browser and posted from another is refused.
  if (posted.browser === undefined || sha256Hex(posted.browser) !== selection.browserHash) {
    throw new AuthenticationError('selection_not_bound');
  }
  if (!selection.mappingIds.includes(posted.mappingId)) {
    throw new ForbiddenError('mapping_not_allowed');
  }
  let native: NativeVend | undefined;
  if (provider.mode === 'native') {
    if (sha256Hex(posted.samlResponse) !== selection.samlResponseHash) {
      throw new AuthenticationError('selection_invalid');
    }
    const roles = selection.assertedRoles ?? [];
    native = nativeVend(posted.samlResponse, roles, selection.idpNamedSession);
  }
  return {
    identity: {
      provider: provider.id,
      issuer: selection.issuer,
      subject: selection.subject,
      ...(selection.nameIdFormat === undefined ? {} : { nameIdFormat: selection.nameIdFormat }),
      claims: restoredClaims(selection.claims),
    },
    context: samlContext(provider, {
      target: selection.target,
      urls: spUrls(posted.baseUrl, provider),
      assertionId: selection.assertionId,
      // The choice is made: decide the named mapping.
      offerChoice: false,
      ...(native === undefined ? {} : { native }),
    }),
  };
}
