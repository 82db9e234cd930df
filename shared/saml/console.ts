/**
 * The AWS console target: exchange session credentials for a sign-in token at the federation
 * endpoint, then send the browser to the console with it. The resulting URL is a bearer
 * credential: it is returned in a Location header and never logged or stored.
 */
import type { VendedCredentials } from '#shared/sts/vend.ts';

export const AWS_FEDERATION_URL = 'https://signin.aws.amazon.com/federation';

/** Only the AWS console, of any region, may be the Destination. */
const CONSOLE_DESTINATION = /^https:\/\/([a-z0-9-]+\.)?console\.aws\.amazon\.com\//;

export class FederationError extends Error {
  readonly reason = 'federation_unavailable';
}

/** The console landing page for a region (or the global one). */
export function consoleDestination(region: string | undefined): string {
  return region === undefined
    ? 'https://console.aws.amazon.com/console/home'
    : `https://${region}.console.aws.amazon.com/console/home?region=${region}`;
}

export interface ConsoleSignIn {
  /** The federation endpoint; a local stand-in in tests. */
  federationUrl: string;
  /** Where the console sends the user when the session ends (our login URL). */
  issuer: string;
  destination: string;
  timeoutMs: number;
  /** Native mode only: a role-chained session may not ask for one (AWS refuses it). */
  sessionDurationSeconds?: number;
  fetch?: typeof fetch;
}

export async function consoleSignInUrl(
  credentials: VendedCredentials,
  options: ConsoleSignIn,
): Promise<string> {
  if (!CONSOLE_DESTINATION.test(options.destination)) {
    throw new FederationError('the console Destination is not an AWS console URL');
  }
  const session = JSON.stringify({
    sessionId: credentials.accessKeyId,
    sessionKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
  });
  const tokenUrl = new URL(options.federationUrl);
  tokenUrl.searchParams.set('Action', 'getSigninToken');
  if (options.sessionDurationSeconds !== undefined) {
    tokenUrl.searchParams.set('SessionDuration', String(options.sessionDurationSeconds));
  }
  tokenUrl.searchParams.set('Session', session);
  let signinToken: unknown;
  try {
    const answer = await (options.fetch ?? fetch)(tokenUrl, {
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
    if (!answer.ok) throw new Error(`getSigninToken answered ${answer.status}`);
    signinToken = ((await answer.json()) as { SigninToken?: unknown }).SigninToken;
  } catch (error) {
    // The message may not carry the URL: it holds the session credentials.
    throw new FederationError('getSigninToken failed', {
      cause: (error as { name?: string }).name ?? 'Error',
    });
  }
  if (typeof signinToken !== 'string' || signinToken === '') {
    throw new FederationError('getSigninToken answered without a SigninToken');
  }
  const login = new URL(options.federationUrl);
  login.searchParams.set('Action', 'login');
  login.searchParams.set('Issuer', options.issuer);
  login.searchParams.set('Destination', options.destination);
  login.searchParams.set('SigninToken', signinToken);
  return login.toString();
}
