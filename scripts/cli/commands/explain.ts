/** `explain`: which mappings match a set of claims and why, with no STS call. */

import { explainDecision } from '#shared/admin/explain.ts';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer } from '#shared/auth/principal.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';
import { formatExplanation } from '../explain-format.ts';
import { explainPool, type PoolExplainOptions } from './explain-pool.ts';

export async function explain(
  context: CommandContext,
  input: {
    options: {
      provider: string | undefined;
      claims: string | undefined;
      mapping: string | undefined;
      duration: number | undefined;
      config: string | undefined;
    } & Omit<PoolExplainOptions, 'claims' | 'config' | 'identity-pool'> & {
        'identity-pool': string | undefined;
      };
  },
): Promise<number> {
  const { provider, mapping, duration } = input.options;
  const poolId = input.options['identity-pool'];
  if (poolId !== undefined) {
    // The Cognito-compatible route names neither a provider nor a mapping, and sets no duration.
    for (const [name, value] of Object.entries({ provider, mapping, duration })) {
      if (value !== undefined) {
        throw new UsageError(
          `--${name} does not apply with --identity-pool: ${name === 'mapping' ? 'GetCredentialsForIdentity chooses with --custom-role-arn instead' : name === 'provider' ? 'the pool names the provider through --logins-key or --guest' : 'Cognito sessions take the mapping duration'}`,
        );
      }
    }
    return explainPool(context, { ...input.options, 'identity-pool': poolId });
  }
  for (const name of ['logins-key', 'identity-id', 'custom-role-arn'] as const) {
    if (input.options[name] !== undefined) throw new UsageError(`--${name} needs --identity-pool`);
  }
  if (input.options.guest) throw new UsageError('--guest needs --identity-pool');
  if (provider === undefined) {
    throw new UsageError(
      '"explain" needs --provider <id>, or --identity-pool <id> with --logins-key <key> or --guest',
    );
  }
  if (input.options.claims === undefined)
    throw new UsageError('"explain" needs --claims <file|json>');
  const claims = readClaims(context, input.options.claims);
  if (claims === undefined) return EXIT.invalid;
  const loaded = await configOf(context, input.options.config);
  if (loaded === undefined) return EXIT.invalid;
  const { config, source } = loaded;
  const sub = claims.sub;
  const named = config.providers.find((candidate) => candidate.id === provider);
  const identity: Identity = {
    provider,
    // An unknown provider is refused by explainDecision, naming the known ones.
    issuer: named === undefined ? '' : principalIssuer(named),
    subject: typeof sub === 'string' ? sub : '',
    claims,
  };
  const explanation = explainDecision(identity, config, {
    ...(mapping === undefined ? {} : { mappingId: mapping }),
    ...(duration === undefined ? {} : { durationSeconds: duration }),
  });
  context.io.out(`${context.paint.bold('Config')}   ${source}`);
  for (const line of formatExplanation(explanation, context.paint)) context.io.out(line);
  return explanation.outcome.kind === 'chosen' ? EXIT.ok : EXIT.invalid;
}

/** Claims from inline JSON (starting with `{` or `[`) or a file; undefined after printing why not. */
export function readClaims(
  { io, deps, paint: p }: CommandContext,
  source: string,
): Identity['claims'] | undefined {
  let text = source;
  if (!/^\s*[{[]/.test(source)) {
    try {
      text = deps.readFile(source);
    } catch (error) {
      io.err(`${p.red('✗')} cannot read ${source}: ${(error as Error).message}`);
      return undefined;
    }
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    io.err(`${p.red('✗')} --claims is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    io.err(`${p.red('✗')} --claims must be a JSON object of claim name → value`);
    return undefined;
  }
  // Kept as sent, like the token verifiers do: decide() reads them against the declared types.
  return toClaims(payload as Record<string, unknown>);
}
