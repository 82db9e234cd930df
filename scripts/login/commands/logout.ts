/** `tvm-login logout`: ends the login session at the TVM and deletes it and its credentials here. */
import type { CommandSpec } from '../command.ts';
import { LoginError } from '../errors.ts';
import { apiFor, openCache, targetOf } from './shared.ts';

export const logout: CommandSpec = {
  name: 'logout',
  summary: 'End the login session and delete its cached credentials',
  options: {},
  async run(context) {
    const { io } = context;
    const target = targetOf(context);
    const cache = openCache(context);
    const session = cache.readSession(target);
    let ended = true;
    if (session !== undefined) {
      try {
        await apiFor(context, target).endSession(session.session);
      } catch (error) {
        if (!(error instanceof LoginError)) throw error;
        ended = false;
        io.err(
          `tvm-login: could not end the session at the TVM (${error.message}); it ends by itself at ${session.expiresAt}`,
        );
      }
    }
    const removed = cache.removeTarget(target);
    io.err(
      session === undefined
        ? `Not signed in to ${target.provider} at ${target.url}; removed ${removed} cached file(s).`
        : `Signed out of ${target.provider} at ${target.url}${ended ? '' : ' here'}; removed ${removed} cached file(s).`,
    );
  },
};
