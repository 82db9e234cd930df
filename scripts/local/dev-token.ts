/**
 * `tvm dev-token`: asks the running development issuer (scripts/local/dev-issuer.ts) for an ID
 * token. Kept apart from the issuer so that the CLI does not load oauth2-mock-server.
 */
export const DEV_AUDIENCE = 'tvm-demo-app';
/** The form field through which dev-token passes its claims to the issuer's signing hook. */
export const CLAIMS_FIELD = 'tvm_claims';
export const DEFAULT_DEV_ISSUER = 'http://127.0.0.1:9400';

export interface DevTokenRequest {
  issuer: string;
  subject: string;
  claims: Record<string, string | string[]>;
  /** Seconds until `exp`. */
  expiresIn?: number;
}

/** An ID token from the running development issuer's token endpoint. */
export async function mintDevToken(request: DevTokenRequest): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: DEV_AUDIENCE,
    [CLAIMS_FIELD]: JSON.stringify({ ...request.claims, sub: request.subject }),
  });
  if (request.expiresIn !== undefined) form.set('expires_in', String(request.expiresIn));
  const response = await fetch(`${request.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) {
    throw new Error(`the development issuer answered ${response.status}`);
  }
  const body = (await response.json()) as { access_token?: unknown };
  if (typeof body.access_token !== 'string')
    throw new Error('the development issuer sent no token');
  return body.access_token;
}
