/**
 * A loopback stand-in for signin.aws.amazon.com/federation: it answers getSigninToken (keeping
 * the session it was given, so a test can check those keys on moto) and the login with a page.
 */
import { createServer, type Server } from 'node:http';

export interface FederationSession {
  sessionId: string;
  sessionKey: string;
  sessionToken: string;
}

export interface FederationStandIn {
  url: string;
  sessions: FederationSession[];
  logins: URL[];
  stop(): Promise<void>;
}

export const STAND_IN_HEADING = 'AWS console (stand-in)';

export async function startFederationStandIn(): Promise<FederationStandIn> {
  const sessions: FederationSession[] = [];
  const logins: URL[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.searchParams.get('Action') === 'getSigninToken') {
      sessions.push(JSON.parse(url.searchParams.get('Session') ?? '{}') as FederationSession);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ SigninToken: `stand-in-token-${sessions.length}` }));
      return;
    }
    logins.push(url);
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(`<h1>${STAND_IN_HEADING}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/federation`,
    sessions,
    logins,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
