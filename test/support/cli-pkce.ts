import { createHash, randomBytes } from 'node:crypto';

/** What the CLI holds while it waits on its loopback (no side effects: moto tests import it). */
export interface CliPkce {
  verifier: string;
  challenge: string;
  state: string;
  redirectUri: string;
}

export function cliPkce(redirectUri = 'http://127.0.0.1:49152/callback'): CliPkce {
  const verifier = randomBytes(48).toString('base64url');
  return {
    verifier,
    challenge: createHash('sha256').update(verifier).digest('base64url'),
    state: randomBytes(16).toString('base64url'),
    redirectUri,
  };
}
