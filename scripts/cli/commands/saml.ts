/** `saml sp-metadata`: what to give the IdP's admin for one SAML provider. */
import { defaultSamlKeyParameter } from '#shared/admin/doctor.ts';
import type { SamlProvider } from '#shared/config/schema.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { parseSigningKey } from '#shared/saml/signing-key.ts';
import { type SpSigningKey, spMetadataXml } from '#shared/saml/sp.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';

/** How long the CLI waits for Parameter Store before saying it cannot know. */
const KEY_READ_TIMEOUT_MS = 5_000;

type KeyState =
  | { kind: 'unsigned' }
  | { kind: 'signed'; key: SpSigningKey; parameter: string }
  | { kind: 'missing'; parameter: string }
  | { kind: 'unusable'; parameter: string; why: string }
  | { kind: 'unknown'; parameter: string; why: string };

/**
 * What the served metadata says about signing: it signs only when the provider sets
 * `signAuthnRequests` AND the functions find the key in SSM, so read the same parameter.
 */
async function keyState(
  context: CommandContext,
  provider: SamlProvider,
  parameterOption: string | undefined,
): Promise<KeyState> {
  if (!provider.signAuthnRequests) return { kind: 'unsigned' };
  const { deps, options } = context;
  const parameter =
    parameterOption ??
    deps.env.TVM_SAML_SIGNING_KEY_PARAMETER ??
    defaultSamlKeyParameter(options.stage);
  let value: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${KEY_READ_TIMEOUT_MS / 1000} s`)),
        KEY_READ_TIMEOUT_MS,
      );
    });
    value = await Promise.race([deps.openDoctor(options).aws.getParameter(parameter), timeout]);
  } catch (error) {
    return { kind: 'unknown', parameter, why: (error as Error).message.split('\n')[0] ?? '' };
  } finally {
    clearTimeout(timer);
  }
  if (value === undefined) return { kind: 'missing', parameter };
  try {
    return { kind: 'signed', key: parseSigningKey(value), parameter };
  } catch (error) {
    return { kind: 'unusable', parameter, why: (error as Error).message };
  }
}

export async function spMetadata(
  context: CommandContext,
  input: {
    args: [provider: string];
    options: {
      'base-url': string | undefined;
      config: string | undefined;
      'saml-key-parameter': string | undefined;
    };
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
  const state = await keyState(context, provider, input.options['saml-key-parameter']);
  switch (state.kind) {
    case 'unsigned':
      io.err('AuthnRequestsSigned:       false (the provider does not set signAuthnRequests)');
      io.out(spMetadataXml(provider, urls));
      return EXIT.ok;
    case 'signed':
      io.err(`AuthnRequestsSigned:       true (the key pair in ${state.parameter})`);
      io.out(spMetadataXml(provider, urls, state.key));
      return EXIT.ok;
    case 'missing':
      io.err(
        `${paint.yellow('!')} AuthnRequestsSigned: false: signAuthnRequests is set but ${state.parameter} does not exist, so the served metadata says false and signed logins fail closed (503) until it is created (docs/saml.md#creating-the-key-pair-and-the-parameter); the functions see it within 30 s`,
      );
      io.out(spMetadataXml(provider, urls));
      return EXIT.ok;
    case 'unusable':
      io.err(
        `${paint.red('error:')} ${state.parameter} is unusable (${state.why}): the served metadata and signed logins fail until it holds a matching key pair (docs/saml.md)`,
      );
      return EXIT.invalid;
    case 'unknown': {
      // Printing "false" as if it were known would send the IdP admin the wrong metadata.
      const why = `cannot know AuthnRequestsSigned: ${state.parameter} could not be read here (${state.why}). The served metadata says "true", with the SP certificate, when the functions find that parameter, and "false" otherwise: take it from ${urls.metadata}, or run this with credentials that may read the parameter`;
      io.err(`${paint.yellow('!')} ${why}`);
      const xml = spMetadataXml(provider, urls);
      io.out(xml.replace(/^(<\?xml[^>]*\?>\n)/, `$1<!-- ${why.replaceAll('--', '- -')} -->\n`));
      return EXIT.ok;
    }
  }
}
