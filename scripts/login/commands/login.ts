/**
 * `tvm-login login`: the loopback flow (RFC 8252 with PKCE S256). The browser signs in at the
 * IdP, the TVM sends it back to 127.0.0.1 with a single-use code, and the code plus our
 * verifier buy a login session, which is stored in the cache.
 */
import type { CommandSpec } from '../command.ts';
import { LoginError, usageError } from '../errors.ts';
import { startLoopback } from '../loopback.ts';
import { newPkce, newState } from '../pkce.ts';
import type { SessionGrant } from '../tvm-api.ts';
import { apiFor, openCache, targetOf } from './shared.ts';

export const login: CommandSpec = {
  name: 'login',
  summary: 'Sign in through your browser and keep a login session',
  options: {
    'no-browser': { type: 'boolean', help: 'Print the sign-in URL instead of opening a browser' },
    timeout: {
      type: 'string',
      value: '<seconds>',
      help: 'How long to wait for the browser (default 300)',
    },
  },
  async run(context) {
    const { io, deps, values } = context;
    const target = targetOf(context);
    const timeout = values.timeout === undefined ? '300' : String(values.timeout);
    if (!/^[1-9]\d{0,4}$/.test(timeout)) throw usageError('--timeout must be a number of seconds');
    // Fail before the browser opens if the cache cannot be used.
    const cache = openCache(context);
    const api = apiFor(context, target);
    const pkce = newPkce();
    const state = newState();
    let redirectUri = '';
    const loopback = await startLoopback<SessionGrant>({
      state,
      timeoutMs: Number(timeout) * 1000,
      exchange: (code) => api.exchangeCode({ code, verifier: pkce.verifier, redirectUri }),
      warn: (message) => io.err(`tvm-login: ${message}`),
    });
    redirectUri = loopback.redirectUri;
    const url = api.loginUrl({ redirectUri, state, codeChallenge: pkce.challenge });

    if (values['no-browser'] === true) {
      io.err(
        `To sign in to ${target.provider} at ${target.url}, open this URL in a browser on this machine:`,
      );
      io.err(`  ${url}`);
    } else {
      try {
        await deps.openBrowser(url);
        io.err(`Opening your browser to sign in to ${target.provider} at ${target.url}.`);
        io.err('If it does not open, open this URL in a browser on this machine:');
      } catch {
        io.err('tvm-login: could not start a browser; open this URL in a browser on this machine:');
      }
      io.err(`  ${url}`);
    }
    io.err(`Waiting for the sign-in on ${redirectUri} ...`);

    let grant: SessionGrant;
    try {
      grant = await loopback.result;
    } catch (error) {
      loopback.close();
      throw error instanceof LoginError
        ? error
        : new LoginError('login_failed', 'the sign-in failed', { cause: error });
    }
    // A new sign-in may be another person: the old session and its cached credentials go.
    cache.removeTarget(target);
    cache.writeSession(target, grant, deps.now());
    io.err(
      `Signed in to ${target.provider} at ${target.url}; the session lasts until ${grant.expiresAt}.`,
    );
    io.err(`Next: tvm-login configure --url ${target.url} --provider ${target.provider}`);
  },
};
