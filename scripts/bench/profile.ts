/**
 * A workload to run under `--cpu-prof` when a target is missed (not part of `npm run bench`):
 *   npx node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx scripts/bench/profile.ts jwt|handler
 *   npx tsx scripts/bench/profile-summary.ts /tmp/prof/<file>.cpuprofile 40 \
 *     > bench/results/profile-<jwt|handler>.txt
 * `jwt`: 30,000 warm `authenticate` calls; `handler`: 10,000 warm requests through the harness.
 * The profile includes module loading at start-up (tsx, ESM loader frames): ignore those.
 */
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { providerFor, startTestIssuer } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, startHarness, stsMock } from '../../test/support/vend-harness.ts';
import { UNREACHED_RATE_LIMITS } from './stats.ts';

const which = process.argv[2] ?? 'handler';

if (which === 'jwt') {
  const issuer = await startTestIssuer();
  const provider = providerFor(issuer);
  const authenticator = createOidcAuthenticator({ stage: 'local' });
  const tokens = await Promise.all(
    Array.from({ length: 8 }, (_, i) => issuer.mint({ sub: `user-${i}` })),
  );
  for (let i = 0; i < 30_000; i += 1) {
    await authenticator.authenticate(tokens[i % tokens.length] as string, [provider]);
  }
  await issuer.stop();
} else {
  const harness = await startHarness({
    config: (issuer) => harnessConfig(issuer, { rateLimits: UNREACHED_RATE_LIMITS }),
  });
  const tokens = await Promise.all(
    Array.from({ length: 16 }, (_, i) => harness.mint({ sub: `user-${i}` })),
  );
  for (let i = 0; i < 10_000; i += 1) {
    const result = await harness.call({ token: tokens[i % tokens.length] as string });
    if (result.status !== 200) throw new Error(`status ${result.status}`);
    if (i % 500 === 499) {
      harness.audits.length = 0;
      stsMock.resetHistory();
    }
  }
  await harness.stop();
}
