/** `explain`: which mappings match a set of claims and why, with no STS call. */

import { explainDecision } from '#shared/admin/explain.ts';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { principalIssuer } from '#shared/auth/principal.ts';
import { type CommandContext, EXIT } from '../command.ts';
import { configOf } from '../config-source.ts';
import { formatExplanation } from '../explain-format.ts';

export async function explain(
  context: CommandContext,
  input: {
    options: {
      provider: string;
      claims: string;
      mapping: string | undefined;
      duration: number | undefined;
      config: string | undefined;
    };
  },
): Promise<number> {
  const { provider, mapping, duration } = input.options;
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
function readClaims(
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
