/** `explain --identity-pool`: an identity-pool login explained as GetCredentialsForIdentity sees it. */
import { explainPoolLogin, type PoolLogin } from '#shared/admin/explain-pool.ts';
import { regionOf } from '#shared/cognito/pools.ts';
import { IDENTITY_ID_PATTERN } from '#shared/config/limits.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';
import { formatPoolExplanation } from '../explain-pool-format.ts';
import { readClaims } from './explain.ts';

export interface PoolExplainOptions {
  'identity-pool': string;
  'logins-key': string | undefined;
  guest: boolean;
  'identity-id': string | undefined;
  'custom-role-arn': string | undefined;
  claims: string | undefined;
  config: string | undefined;
}

/** An IdentityId in the pool's region when none is given: only the session stamp shows it. */
function exampleIdentityId(poolId: string): string {
  return `${regionOf(poolId)}:00000000-0000-4000-8000-000000000000`;
}

export async function explainPool(
  context: CommandContext,
  options: PoolExplainOptions,
): Promise<number> {
  const poolId = options['identity-pool'];
  const loginsKey = options['logins-key'];
  if ((loginsKey === undefined) === !options.guest) {
    throw new UsageError(
      '--identity-pool needs either --logins-key <key> (with --claims) or --guest',
    );
  }
  if (options.guest && options.claims !== undefined) {
    throw new UsageError(
      'a guest has no token and no claims: its only claim, sub, is its IdentityId (--identity-id)',
    );
  }
  if (loginsKey !== undefined && options.claims === undefined) {
    throw new UsageError(
      '--logins-key needs --claims: the claims of the ID token sent under that key',
    );
  }
  const identityId = options['identity-id'] ?? exampleIdentityId(poolId);
  if (!IDENTITY_ID_PATTERN.test(identityId)) {
    throw new UsageError(`--identity-id must be an identity id "<region>:<uuid>" in lowercase`);
  }
  let login: PoolLogin;
  if (loginsKey === undefined) login = { kind: 'guest' };
  else {
    const claims = readClaims(context, options.claims as string);
    if (claims === undefined) return EXIT.invalid;
    login = { kind: 'logins', loginsKey, claims };
  }
  const loaded = await configOf(context, options.config);
  if (loaded === undefined) return EXIT.invalid;
  const customRoleArn = options['custom-role-arn'];
  const result = explainPoolLogin(loaded.config, {
    poolId,
    login,
    identityId,
    ...(customRoleArn === undefined ? {} : { customRoleArn }),
  });
  context.io.out(`${context.paint.bold('Config'.padEnd(14))}${loaded.source}`);
  if (options['identity-id'] === undefined && result.kind === 'explained') {
    context.io.out(
      context.paint.dim(`(no --identity-id: ${identityId} stands in for the session stamp)`),
    );
  }
  for (const line of formatPoolExplanation(result, context.paint)) context.io.out(line);
  return result.kind === 'explained' && result.explanation.outcome.kind === 'chosen'
    ? EXIT.ok
    : EXIT.invalid;
}
