/** `dev-token`: an ID token from the development issuer that `npm start` runs. */
import { mintDevToken } from '../../local/dev-token.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';

export async function devToken(
  { io, paint }: CommandContext,
  input: {
    options: {
      sub: string;
      claim: string[];
      issuer: string;
      'expires-in': number | undefined;
    };
  },
): Promise<number> {
  const { sub, issuer } = input.options;
  const expiresIn = input.options['expires-in'];
  const claims: Record<string, string | string[]> = {};
  for (const pair of input.options.claim) {
    const match = /^([^=]+)=(.*)$/s.exec(pair);
    if (match?.[1] === undefined) throw new UsageError(`--claim must be key=value, got "${pair}"`);
    const [key, value] = [match[1], match[2] ?? ''];
    const previous = claims[key];
    // A repeated key makes a list claim.
    claims[key] = previous === undefined ? value : [...[previous].flat(), value];
  }
  try {
    io.out(
      await mintDevToken({
        issuer,
        subject: sub,
        claims,
        ...(expiresIn === undefined ? {} : { expiresIn }),
      }),
    );
    return EXIT.ok;
  } catch (error) {
    io.err(
      `${paint.red('error:')} no token from the development issuer at ${issuer} (${(error as Error).message}); is \`npm start\` running?`,
    );
    return EXIT.upstream;
  }
}
