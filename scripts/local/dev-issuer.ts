/**
 * The development OIDC issuer for `npm start`: oauth2-mock-server (a real issuer with discovery,
 * JWKS and RS256 signing that this project did not write) on loopback. `tvm dev-token` asks its
 * token endpoint for an ID token carrying the subject and claims you choose. Local stage only.
 */
import { Events, OAuth2Server } from 'oauth2-mock-server';

export const DEV_ISSUER_PORT = 9400;

import { CLAIMS_FIELD, DEV_AUDIENCE } from './dev-token.ts';

export { DEV_AUDIENCE };

export interface DevIssuer {
  url: string;
  stop(): Promise<void>;
}

export async function startDevIssuer(
  port = DEV_ISSUER_PORT,
  host = '127.0.0.1',
): Promise<DevIssuer> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  server.service.on(Events.BeforeTokenSigning, (token, req) => {
    const body = (req as { body?: Record<string, unknown> }).body ?? {};
    const raw = body[CLAIMS_FIELD];
    const claims = typeof raw === 'string' ? (JSON.parse(raw) as Record<string, unknown>) : {};
    // Shape the token like an ID token: our audience, no OAuth scope, then the requested claims.
    delete token.payload.scope;
    token.payload.aud = DEV_AUDIENCE;
    Object.assign(token.payload, claims);
  });
  await server.start(port, host);
  // oauth2-mock-server names loopback "localhost"; the config pins the exact issuer string.
  const url = `http://${host}:${port}`;
  server.issuer.url = url;
  return { url, stop: () => server.stop() };
}
