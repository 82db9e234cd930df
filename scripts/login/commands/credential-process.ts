/**
 * `tvm-login credential-process`: what `credential_process` in ~/.aws/config runs. It prints the
 * AWS CLI's JSON from the cache while the credentials have more than 5 minutes left, and
 * otherwise gets new ones through the login session, one process at a time.
 */
import type { StoredCredentials } from '../cache.ts';
import type { CommandSpec } from '../command.ts';
import { usageError } from '../errors.ts';
import { parseId, targetKey } from '../target.ts';
import { apiFor, liveSession, openCache, targetOf, text, withSession } from './shared.ts';

/**
 * The SDKs refresh 5 minutes before expiry. Not botocore's 15: a mapping may vend 15-minute
 * credentials, and a 15-minute margin would then call the TVM on every AWS call.
 */
export const REFRESH_MARGIN_MS = 5 * 60_000;

export const credentialProcess: CommandSpec = {
  name: 'credential-process',
  summary: 'Print credentials for one role in the AWS credential_process format',
  options: {
    role: { type: 'string', value: '<mapping>', required: true, help: 'The role (TVM mapping id)' },
    duration: {
      type: 'string',
      value: '<seconds>',
      help: 'Ask for this session length (900-43200; the TVM may cap it)',
    },
  },
  async run(context) {
    const { io, deps, values } = context;
    const target = targetOf(context);
    const mapping = parseId('--role', text(context, 'role'));
    let durationSeconds: number | undefined;
    if (values.duration !== undefined) {
      durationSeconds = Number(values.duration);
      if (
        !/^\d{3,5}$/.test(String(values.duration)) ||
        durationSeconds < 900 ||
        durationSeconds > 43_200
      ) {
        throw usageError('--duration must be a number of seconds from 900 to 43200');
      }
    }
    const cache = openCache(context);
    const fresh = (stored: StoredCredentials | undefined): stored is StoredCredentials =>
      stored !== undefined &&
      Date.parse(stored.expiration) - deps.now().getTime() > REFRESH_MARGIN_MS;

    let credentials = cache.readCredentials(target, mapping);
    if (!fresh(credentials)) {
      credentials = await cache.withLock(
        `${targetKey(target)}.${mapping}`,
        async () => {
          // Whoever held the lock before us may have refreshed already.
          const again = cache.readCredentials(target, mapping);
          if (fresh(again)) return again;
          const session = liveSession(cache, target, deps.now());
          const vended = await withSession(cache, target, session, (handle) =>
            apiFor(context, target).credentials(handle, mapping, durationSeconds),
          );
          cache.writeCredentials(target, mapping, vended);
          return { version: 1, url: target.url, provider: target.provider, mapping, ...vended };
        },
        deps.lockTiming,
      );
    }
    io.out(
      JSON.stringify({
        Version: 1,
        AccessKeyId: credentials.accessKeyId,
        SecretAccessKey: credentials.secretAccessKey,
        SessionToken: credentials.sessionToken,
        Expiration: credentials.expiration,
      }),
    );
  },
};
