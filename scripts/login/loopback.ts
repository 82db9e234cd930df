/**
 * The loopback redirect of RFC 8252 §7.3: an HTTP server on 127.0.0.1, on a port the kernel
 * picks, waiting for the browser to come back with `?code=..&state=..`. It takes the first
 * callback whose `state` is ours, exchanges the code while the browser waits, and answers the
 * browser with a small page saying how it went; every other request gets an error page and
 * changes nothing (a web page can make the browser send one, but cannot know the state).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoginError } from './errors.ts';
import { sameSecret } from './pkce.ts';

export const CALLBACK_PATH = '/callback';
/** The code is 32 random bytes in base64url; allow some slack, never unbounded input. */
const CODE = /^[A-Za-z0-9_-]{20,256}$/;

export interface LoopbackOptions<T> {
  state: string;
  timeoutMs: number;
  /** Turns the code into the result (the token exchange); its error message reaches the page. */
  exchange(code: string): Promise<T>;
  /** Told about callbacks that were refused (wrong state, malformed), without their values. */
  warn(message: string): void;
}

export interface Loopback<T> {
  redirectUri: string;
  /** Settles once: the exchange's result, or its error, or a timeout. The server is then closed. */
  result: Promise<T>;
  close(): void;
}

export async function startLoopback<T>(options: LoopbackOptions<T>): Promise<Loopback<T>> {
  let settle!: { resolve(value: T): void; reject(error: unknown): void };
  const result = new Promise<T>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // It may fail before anyone awaits it (while the browser is still being started).
  result.catch(() => undefined);
  let busy = false;
  let done = false;
  let timer: NodeJS.Timeout | undefined;

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const finish = (outcome: { value: T } | { error: unknown }) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    server.close();
    // Also the browser's idle keep-alive and speculative connections, or the process would wait for them.
    server.closeAllConnections();
    if ('value' in outcome) settle.resolve(outcome.value);
    else settle.reject(outcome.error);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  const redirectUri = `http://${host}${CALLBACK_PATH}`;
  timer = setTimeout(() => {
    finish({
      error: new LoginError(
        'login_timeout',
        `no sign-in came back within ${Math.round(options.timeoutMs / 1000)} s; run the login again`,
      ),
    });
  }, options.timeoutMs);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // A DNS-rebound name pointing here would carry its own Host: only the literal address is ours.
    if (request.headers.host !== host)
      return page(response, 400, 'Wrong address', 'This page is for tvm-login only.');
    const url = new URL(request.url ?? '/', `http://${host}`);
    if (url.pathname !== CALLBACK_PATH) return page(response, 404, 'Not found', 'Nothing here.');
    if (request.method !== 'GET') return page(response, 405, 'Method not allowed', 'Only GET.');
    if (done || busy) {
      return page(
        response,
        409,
        'Already finished',
        'This sign-in has already completed. You can close this tab.',
      );
    }
    const state = url.searchParams.get('state') ?? '';
    if (!sameSecret(state, options.state)) {
      options.warn('ignored a sign-in callback whose state was not this login’s');
      return page(
        response,
        400,
        'Sign-in not recognised',
        'This sign-in was not started by the tvm-login waiting here. Nothing was changed.',
      );
    }
    const error = url.searchParams.get('error');
    const code = url.searchParams.get('code') ?? '';
    if (error !== null || !CODE.test(code)) {
      // Our state, so this is the real sign-in coming back without a code: stop waiting for it.
      await page(
        response,
        400,
        'Sign-in incomplete',
        'The sign-in came back without a code. Run tvm-login login again.',
      );
      return finish({
        error: new LoginError(
          'login_failed',
          'the sign-in came back to tvm-login without a code; run the login again',
        ),
      });
    }
    busy = true;
    try {
      const value = await options.exchange(code);
      await page(
        response,
        200,
        'Signed in',
        'tvm-login is signed in. You can close this tab and return to the terminal.',
      );
      finish({ value });
    } catch (failure) {
      const message =
        failure instanceof LoginError ? failure.message : 'the sign-in could not be completed';
      await page(response, 400, 'Sign-in failed', `tvm-login: ${message}`);
      finish({ error: failure });
    }
  }

  return {
    redirectUri,
    result,
    close: () => finish({ error: new LoginError('login_failed', 'the login was cancelled') }),
  };
}

/** Settles once the page is handed to the kernel, so closing the server cannot cut it short. */
function page(
  response: ServerResponse,
  status: number,
  title: string,
  text: string,
): Promise<void> {
  const html = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No script, no subresource, no referrer: the code in this URL goes nowhere else.
    'content-security-policy': "default-src 'none'",
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    connection: 'close',
  });
  return new Promise((resolve) => {
    response.end(
      `<!doctype html><html lang="en"><meta charset="utf-8"><title>${html(title)}</title><h1>${html(title)}</h1><p>${html(text)}</p></html>\n`,
      () => resolve(),
    );
    response.once('close', () => resolve());
  });
}
