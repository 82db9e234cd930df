/**
 * A loopback stand-in for the AWS federation endpoint (signin.aws.amazon.com/federation), for
 * `npm start`: there is no AWS console offline, so the SAML console login ends on a small page of
 * ours that names the role the session belongs to.
 *
 *   GET /federation?Action=getSigninToken&Session=<json>   → {"SigninToken": "<random>"}
 *   GET /federation?Action=login&SigninToken=…&Destination=…  → "This is where the AWS console would open"
 *
 * Sessions are kept in memory only, for 15 minutes, and each token works once. The login page asks
 * the local STS (moto) GetCallerIdentity with the session's credentials and prints the ARN; it
 * never shows or logs a secret.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { LOCAL_REGION } from './aws-stack.ts';

export const CONSOLE_STANDIN_PORT = 9600;

const TOKEN_TTL_MS = 15 * 60_000;
const MAX_SESSIONS = 1_000;

export interface ConsoleStandInOptions {
  /** Where moto answers STS. */
  stsEndpoint: string;
  port?: number;
  host?: string;
}

export interface ConsoleStandIn {
  /** The federation URL to give the TVM (TVM_FEDERATION_URL). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface Session {
  sessionId: string;
  sessionKey: string;
  sessionToken: string;
}

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function parseSession(raw: string | null): Session | undefined {
  if (raw === null) return undefined;
  try {
    const value = JSON.parse(raw) as Record<string, unknown>;
    const { sessionId, sessionKey, sessionToken } = value;
    if (
      typeof sessionId === 'string' &&
      typeof sessionKey === 'string' &&
      typeof sessionToken === 'string' &&
      sessionId !== '' &&
      sessionKey !== ''
    ) {
      return { sessionId, sessionKey, sessionToken };
    }
  } catch {
    // Not JSON.
  }
  return undefined;
}

function page(response: ServerResponse, status: number, title: string, body: string): void {
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  });
  response.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
      '<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}</style>' +
      `</head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`,
  );
}

async function callerArn(stsEndpoint: string, session: Session): Promise<string> {
  const sts = new STSClient({
    endpoint: stsEndpoint,
    region: LOCAL_REGION,
    credentials: {
      accessKeyId: session.sessionId,
      secretAccessKey: session.sessionKey,
      sessionToken: session.sessionToken,
    },
    maxAttempts: 1,
  });
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    if (identity.Arn === undefined) throw new Error('GetCallerIdentity returned no Arn');
    return identity.Arn;
  } finally {
    sts.destroy();
  }
}

export async function startConsoleStandIn(options: ConsoleStandInOptions): Promise<ConsoleStandIn> {
  const host = options.host ?? '127.0.0.1';
  const wanted = options.port ?? CONSOLE_STANDIN_PORT;
  const sessions = new Map<string, { session: Session; expires: number }>();

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', `http://${host}`);
      if (url.pathname !== '/federation') {
        page(response, 404, 'Not found', '<p>Only <code>/federation</code> is here.</p>');
        return;
      }
      if (request.method !== 'GET') {
        page(response, 405, 'Method not allowed', '<p>The federation endpoint takes GET.</p>');
        return;
      }
      const now = Date.now();
      for (const [token, entry] of sessions) if (entry.expires <= now) sessions.delete(token);

      const action = url.searchParams.get('Action');
      if (action === 'getSigninToken') {
        const session = parseSession(url.searchParams.get('Session'));
        if (session === undefined) {
          response.writeHead(400, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ error: 'Session must be {sessionId,sessionKey,sessionToken}' }),
          );
          return;
        }
        // Oldest first: a Map iterates in insertion order.
        while (sessions.size >= MAX_SESSIONS) {
          const oldest = sessions.keys().next().value;
          if (oldest === undefined) break;
          sessions.delete(oldest);
        }
        const token = randomBytes(32).toString('base64url');
        sessions.set(token, { session, expires: now + TOKEN_TTL_MS });
        response.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
        });
        response.end(JSON.stringify({ SigninToken: token }));
        return;
      }
      if (action === 'login') {
        const token = url.searchParams.get('SigninToken') ?? '';
        const entry = sessions.get(token);
        sessions.delete(token);
        if (entry === undefined) {
          page(
            response,
            400,
            'Sign-in link not valid',
            '<p>This sign-in token is unknown, expired or already used (each works once). Sign in again.</p>',
          );
          return;
        }
        const destination = url.searchParams.get('Destination') ?? '';
        let who: string;
        let status = 200;
        try {
          who = `<p>Signed in as <code>${escapeHtml(await callerArn(options.stsEndpoint, entry.session))}</code></p>`;
        } catch (error) {
          status = 502;
          who = `<p>The session could not be checked with the local STS (${escapeHtml((error as { name?: string }).name ?? 'Error')}).</p>`;
        }
        page(
          response,
          status,
          'AWS console (local stand-in)',
          '<p>This is where the AWS console would open. <code>npm start</code> runs offline, so this local page stands in for it.</p>' +
            who +
            (destination === ''
              ? ''
              : `<p>Destination: <code>${escapeHtml(destination)}</code></p>`),
        );
        return;
      }
      page(
        response,
        400,
        'Unknown action',
        '<p>Action must be <code>getSigninToken</code> or <code>login</code>.</p>',
      );
    })().catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `the console stand-in cannot listen on ${host}:${wanted} (${error.code ?? error.message})`,
        ),
      ),
    );
    server.listen({ host, port: wanted }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });

  return {
    url: `http://${host}:${port}/federation`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        sessions.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
