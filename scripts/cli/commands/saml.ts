/** `saml sp-metadata`: what to give the IdP's admin for one SAML provider. */
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';

export async function spMetadata(
  context: CommandContext,
  input: {
    args: [provider: string];
    options: { 'base-url': string | undefined; config: string | undefined };
  },
): Promise<number> {
  const { io, deps, paint } = context;
  const [providerId] = input.args;
  const baseUrl = input.options['base-url'] ?? deps.env.TVM_PUBLIC_BASE_URL;
  if (baseUrl === undefined || !/^https?:\/\/[^/]+/.test(baseUrl)) {
    throw new UsageError(
      '"saml sp-metadata" needs --base-url <https://your-api-domain> (or $TVM_PUBLIC_BASE_URL)',
    );
  }
  const loaded = await configOf(context, input.options.config);
  if (loaded === undefined) return EXIT.invalid;
  const { config } = loaded;
  const provider = config.providers.find((candidate) => candidate.id === providerId);
  if (provider?.type !== 'saml') {
    const known = config.providers.filter((p) => p.type === 'saml').map((p) => p.id);
    io.err(
      `${paint.red('error:')} no SAML provider "${providerId}" (SAML providers: ${known.join(', ') || 'none'})`,
    );
    return EXIT.invalid;
  }
  const urls = spUrls(baseUrl, provider);
  io.err(`SP entity id (Audience):   ${provider.spEntityId}`);
  io.err(`ACS URL (HTTP-POST):       ${urls.acs}`);
  io.err(`Metadata URL:              ${urls.metadata}`);
  io.err(`SP-initiated login:        ${urls.login}?target=console|credentials`);
  io.out(spMetadataXml(provider, urls));
  return EXIT.ok;
}
