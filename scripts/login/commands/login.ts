/**
 * `tvm-login login`: the loopback flow (RFC 8252 with PKCE S256). The browser signs in at the
 * IdP, the TVM sends it back to 127.0.0.1 with a single-use code, and the code plus our
 * verifier buy a login session, which is stored in the cache.
 */
import type { LoginCache } from '../cache.ts';
import type { CommandContext, CommandSpec } from '../command.ts';
import { LoginError, usageError } from '../errors.ts';
import { startLoopback } from '../loopback.ts';
import { newPkce, newState } from '../pkce.ts';
import { loginCommand, type Target } from '../target.ts';
import type { SessionGrant, TvmApi } from '../tvm-api.ts';
import { apiFor, openCache, targetOf } from './shared.ts';

export const login: CommandSpec = {
  name: 'login',
  summary: 'Sign in through your browser and keep a login session',
  options: {
    'no-browser': { type: 'boolean', help: 'Print the sign-in URL instead of opening a browser' },
    device: {
      type: 'boolean',
      help: 'Sign in from a browser on any device (SSH, containers): prints a code to enter',
    },
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
    if (values.device === true) {
      const grant = await deviceLogin(context, api, {
        ...(values.timeout === undefined ? {} : { timeoutSeconds: Number(timeout) }),
      });
      signedIn(context, cache, target, grant);
      return;
    }
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
    signedIn(context, cache, target, grant);
  },
};

function signedIn(
  context: CommandContext,
  cache: LoginCache,
  target: Target,
  grant: SessionGrant,
): void {
  const { io, deps } = context;
  // A new sign-in may be another person: the old session and its cached credentials go.
  cache.removeTarget(target);
  cache.writeSession(target, grant, deps.now());
  io.err(
    `Signed in to ${target.provider} at ${target.url}; the session lasts until ${grant.expiresAt}.`,
  );
  io.err(`Next: tvm-login configure --url ${target.url} --provider ${target.provider}`);
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The device flow (RFC 8628): print where to go and the code, then poll at the interval the TVM
 * set (5 s more after each slow_down) until it is approved, denied or expired.
 */
async function deviceLogin(
  context: CommandContext,
  api: TvmApi,
  options: { timeoutSeconds?: number },
): Promise<SessionGrant> {
  const { io, deps } = context;
  const { target } = api;
  const sleep = deps.sleep ?? sleepFor;
  const started = await api.startDevice();
  io.err(`To sign in to ${target.provider} at ${target.url}, open this page in any browser:`);
  io.err(`  ${started.verificationUri}`);
  io.err(`and enter the code: ${started.userCode}`);
  io.err(`(or open ${started.verificationUriComplete} and check that it shows the same code)`);
  io.err('Approve only if you started this yourself. Never enter a code someone sent you.');
  const limit = Math.min(started.expiresIn, options.timeoutSeconds ?? started.expiresIn);
  const deadline = deps.now().getTime() + limit * 1000;
  let interval = started.interval;
  while (true) {
    await sleep(interval * 1000);
    if (deps.now().getTime() > deadline) {
      throw new LoginError(
        'login_timeout',
        `nobody approved the code in ${limit} s; run: ${loginCommand(target)} --device`,
      );
    }
    const polled = await api.pollDevice(started.deviceCode);
    if (polled.kind === 'issued') return polled.grant;
    // RFC 8628 §3.5: every slow_down adds 5 s, for the rest of this login.
    if (polled.kind === 'slow_down') interval += 5;
    if (polled.kind === 'unavailable') {
      await sleep(Math.max(0, (polled.retryAfter ?? interval) - interval) * 1000);
    }
  }
}
