/**
 * The browser side of the Amplify e2e test: a tiny app, bundled by esbuild (see amplify-harness.ts)
 * with the real `aws-amplify` package, that a test drives through `globalThis.tvmAmplify`.
 *
 * Sign-in without a Cognito user pool: a custom TokenProvider hands Amplify an OIDC ID token the
 * test minted (what an app does with any OIDC library); Amplify builds the Logins key from `iss`.
 */
import { Amplify } from 'aws-amplify';
import { decodeJWT, fetchAuthSession, type TokenProvider } from 'aws-amplify/auth';
import { cognitoCredentialsProvider } from 'aws-amplify/auth/cognito';

export interface AmplifyPageConfig {
  identityPoolId: string;
  identityPoolEndpoint: string;
  allowGuestAccess: boolean;
  /** With our TokenProvider (sign-in through OIDC), or Amplify's defaults (guests only). */
  customTokens: boolean;
}

/** What a fetchAuthSession() gave: the credentials, or the error's name and message. */
export type AmplifyPageSession =
  | {
      ok: true;
      identityId: string | undefined;
      /** Amplify's own: `userSub` comes from the access token, i.e. ours. */
      userSub: string | undefined;
      credentials:
        | {
            accessKeyId: string;
            secretAccessKey: string;
            sessionToken?: string;
            expiration?: string;
          }
        | undefined;
    }
  | { ok: false; name: string; message: string };

export interface AmplifyPageApi {
  configure(config: AmplifyPageConfig): void;
  /** From now on the TokenProvider returns this ID token (and it as the access token). */
  signIn(idToken: string): void;
  signOut(): void;
  session(options?: { forceRefresh?: boolean }): Promise<AmplifyPageSession>;
  /** Amplify's own reset: forgets the credentials and the stored IdentityId. */
  clearCredentials(): Promise<void>;
}

let idToken: string | undefined;

const tokenProvider: TokenProvider = {
  async getTokens() {
    if (idToken === undefined) return null;
    const jwt = decodeJWT(idToken);
    return { idToken: jwt, accessToken: jwt };
  },
};

const api: AmplifyPageApi = {
  configure(config) {
    const resources = {
      Auth: {
        Cognito: {
          identityPoolId: config.identityPoolId,
          identityPoolEndpoint: config.identityPoolEndpoint,
          allowGuestAccess: config.allowGuestAccess,
        },
      },
    };
    if (config.customTokens) {
      // Library options replace Amplify's default providers, so the credentials provider is named too.
      Amplify.configure(resources, {
        Auth: { tokenProvider, credentialsProvider: cognitoCredentialsProvider },
      });
    } else {
      Amplify.configure(resources);
    }
  },
  signIn(token) {
    idToken = token;
  },
  signOut() {
    idToken = undefined;
  },
  async session(options = {}) {
    try {
      const session = await fetchAuthSession(options);
      const c = session.credentials;
      return {
        ok: true,
        identityId: session.identityId,
        userSub: session.userSub,
        credentials:
          c === undefined
            ? undefined
            : {
                accessKeyId: c.accessKeyId,
                secretAccessKey: c.secretAccessKey,
                ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken }),
                ...(c.expiration === undefined
                  ? {}
                  : { expiration: new Date(c.expiration).toISOString() }),
              },
      };
    } catch (error) {
      const { name, message } = error as Error;
      return { ok: false, name, message };
    }
  },
  clearCredentials: () => Amplify.clearCredentials(),
};

(globalThis as unknown as { tvmAmplify: AmplifyPageApi }).tvmAmplify = api;
