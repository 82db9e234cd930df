/**
 * A fake TVM for tvm-login's tests: node:http on 127.0.0.1 serving the login routes exactly as
 * the contract describes them (start, token, roles, credentials, session end), with the IdP and
 * the ACS folded into the start route: it "signs the user in" at once and redirects the browser
 * to the loopback with a single-use 60 s code. It records every call and every secret it issued
 * or received, so tests can prove none of them was printed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRole {
  mapping: string;
  roleArn: string;
  accountId: string;
  description?: string;
}

export interface FakeCall {
  route: string;
  status: number;
  /** The query (start) or form (token) parameters, the JSON body (credentials). */
  params: Record<string, string>;
}

type Override = (request: IncomingMessage, response: ServerResponse, body: string) => void;

export interface FakeLoginTvm {
  url: string;
  provider: string;
  calls: FakeCall[];
  count(route: string): number;
  /** Every code, verifier, session handle, secret key and session token seen: never to be printed. */
  secrets: Set<string>;
  roles: FakeRole[];
  credentialSeconds: number;
  sessionSeconds: number;
  /** Holds each credentials answer this long, to widen the window two refreshes could race in. */
  credentialDelayMs: number;
  /** Replaces one route's answer (e.g. with a malformed one); undefined restores the contract. */
  override(route: string, handler: Override | undefined): void;
  /** What `tvm deny add` does to the principal: every login session ends. */
  endAllSessions(): void;
  /** Plays the browser: follows the sign-in URL to the loopback and returns the loopback's page. */
  browse(signInUrl: string): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]):(\d{4,5})(\/[^#?]*)?$/;
const STATE = /^[A-Za-z0-9._~-]{16,256}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const s256 = (value: string) => createHash('sha256').update(value, 'ascii').digest('base64url');

export async function startFakeLoginTvm(
  options: { provider?: string; roles?: FakeRole[] } = {},
): Promise<FakeLoginTvm> {
  const provider = options.provider ?? 'corp';
  const codes = new Map<string, { challenge: string; redirectUri: string; issuedAt: number }>();
  const sessions = new Map<string, { expiresAt: number; ended: boolean }>();
  const overrides = new Map<string, Override>();
  let keyCounter = 0;

  const fake: Omit<FakeLoginTvm, 'url'> & { url: string } = {
    url: '',
    provider,
    calls: [],
    count: (route) => fake.calls.filter((call) => call.route === route).length,
    secrets: new Set(),
    roles: options.roles ?? [
      {
        mapping: 'corp-admin',
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
        accountId: '123456789012',
        description: 'Administrators',
      },
      {
        mapping: 'corp-reader',
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
        accountId: '123456789012',
      },
    ],
    credentialSeconds: 3600,
    sessionSeconds: 8 * 3600,
    credentialDelayMs: 0,
    override: (route, handler) => {
      if (handler === undefined) overrides.delete(route);
      else overrides.set(route, handler);
    },
    endAllSessions: () => {
      for (const session of sessions.values()) session.ended = true;
    },
    async browse(signInUrl) {
      const start = await fetch(signInUrl, { redirect: 'manual' });
      const location = start.headers.get('location');
      if (start.status !== 302 || location === null) {
        return { status: start.status, text: await start.text() };
      }
      const back = await fetch(location);
      return { status: back.status, text: await back.text() };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const send = (
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, {
      'content-type':
        status >= 400 && !('error' in (body as object))
          ? 'application/problem+json'
          : 'application/json',
      'cache-control': 'no-store',
      ...headers,
    });
    response.end(JSON.stringify(body));
  };
  const problem = (status: number, title: string) => ({
    type: 'about:blank',
    title,
    status,
    requestId: `req-${fake.calls.length}`,
  });

  const sessionOf = (request: IncomingMessage) => {
    const handle = /^Bearer (tvms_[A-Za-z0-9_-]{43})$/.exec(
      request.headers.authorization ?? '',
    )?.[1];
    const session = handle === undefined ? undefined : sessions.get(handle);
    return session === undefined || session.ended || session.expiresAt <= Date.now()
      ? undefined
      : { handle, session };
  };
  const invalidToken = (response: ServerResponse) =>
    send(response, 401, problem(401, 'Unauthorized'), {
      'www-authenticate': 'Bearer error="invalid_token"',
    });

  async function route(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    url: URL,
    body: string,
    record: (status: number, params: Record<string, string>) => void,
  ): Promise<void> {
    switch (name) {
      case `GET /v1/saml/${provider}/login`: {
        const params = Object.fromEntries(url.searchParams);
        const redirectUri = params.redirect_uri ?? '';
        const port = Number(LOOPBACK.exec(redirectUri)?.[2] ?? 0);
        if (
          params.target !== 'cli' ||
          port < 1024 ||
          port > 65_535 ||
          !STATE.test(params.state ?? '') ||
          !CHALLENGE.test(params.code_challenge ?? '') ||
          params.code_challenge_method !== 'S256'
        ) {
          record(400, params);
          return send(response, 400, problem(400, 'Bad Request'));
        }
        const code = randomBytes(32).toString('base64url');
        fake.secrets.add(code);
        codes.set(code, {
          challenge: params.code_challenge as string,
          redirectUri,
          issuedAt: Date.now(),
        });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', params.state as string);
        record(302, params);
        response.writeHead(302, { location: back.href });
        return void response.end();
      }
      case 'POST /v1/login/token': {
        const form = Object.fromEntries(new URLSearchParams(body));
        if (form.code_verifier !== undefined) fake.secrets.add(form.code_verifier);
        if (form.grant_type !== 'authorization_code') {
          record(400, form);
          return send(response, 400, { error: 'unsupported_grant_type' });
        }
        const pending = codes.get(form.code ?? '');
        codes.delete(form.code ?? ''); // single use, whatever happens next
        if (
          pending === undefined ||
          Date.now() - pending.issuedAt > 60_000 ||
          s256(form.code_verifier ?? '') !== pending.challenge ||
          form.redirect_uri !== pending.redirectUri
        ) {
          record(400, form);
          return send(response, 400, { error: 'invalid_grant' });
        }
        const handle = `tvms_${randomBytes(32).toString('base64url')}`;
        fake.secrets.add(handle);
        const expiresAt = Date.now() + fake.sessionSeconds * 1000;
        sessions.set(handle, { expiresAt, ended: false });
        record(200, form);
        return send(response, 200, {
          session: handle,
          token_type: 'tvm-session',
          expires_at: new Date(expiresAt).toISOString(),
          provider,
        });
      }
      case 'GET /v1/login/roles': {
        const found = sessionOf(request);
        if (found === undefined) {
          record(401, {});
          return invalidToken(response);
        }
        record(200, {});
        return send(response, 200, {
          roles: fake.roles,
          expires_at: new Date(found.session.expiresAt).toISOString(),
        });
      }
      case 'POST /v1/login/credentials': {
        const found = sessionOf(request);
        if (found === undefined) {
          record(401, {});
          return invalidToken(response);
        }
        const input = JSON.parse(body || '{}') as { mapping?: string; durationSeconds?: number };
        const role = fake.roles.find((candidate) => candidate.mapping === input.mapping);
        const params = {
          mapping: String(input.mapping),
          duration: String(input.durationSeconds ?? ''),
        };
        if (role === undefined) {
          record(403, params);
          return send(response, 403, problem(403, 'Forbidden'));
        }
        if (fake.credentialDelayMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, fake.credentialDelayMs));
        }
        keyCounter += 1;
        const secretAccessKey = randomBytes(30).toString('base64');
        const sessionToken = `FwoGZXIvYXdzE${randomBytes(120).toString('base64')}`;
        fake.secrets.add(secretAccessKey);
        fake.secrets.add(sessionToken);
        record(200, params);
        return send(response, 200, {
          credentials: {
            accessKeyId: `ASIAFAKE${String(keyCounter).padStart(12, '0')}`,
            secretAccessKey,
            sessionToken,
            expiration: new Date(
              Date.now() + (input.durationSeconds ?? fake.credentialSeconds) * 1000,
            ).toISOString(),
          },
          provider,
          mapping: role.mapping,
          roleArn: role.roleArn,
          assumedRoleArn: `${role.roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/user`,
          durationSeconds: input.durationSeconds ?? fake.credentialSeconds,
        });
      }
      case 'DELETE /v1/login/session': {
        const found = sessionOf(request);
        if (found === undefined) {
          record(401, {});
          return invalidToken(response);
        }
        found.session.ended = true;
        record(204, {});
        response.writeHead(204);
        return void response.end();
      }
      default:
        record(404, {});
        return send(response, 404, problem(404, 'Not Found'));
    }
  }

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const name = `${request.method} ${url.pathname}`;
      const body = Buffer.concat(chunks).toString('utf8');
      const record = (status: number, params: Record<string, string>) =>
        fake.calls.push({ route: name, status, params });
      const override = overrides.get(name);
      if (override !== undefined) {
        record(-1, {});
        override(request, response, body);
        return;
      }
      route(request, response, name, url, body, record).catch((error: unknown) => {
        response.writeHead(500);
        response.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
