/**
 * `saml check`: what TVM would refuse about an IdP (its metadata, and a response a user captured),
 * with the IdP setting to change. Offline but for the metadata URL; it never vends.
 */
import { Buffer } from 'node:buffer';
import type { SamlProvider } from '#shared/config/schema.ts';
import { checkSaml, type Finding, type SamlCheckInput } from '#shared/saml/check.ts';
import { type CommandContext, EXIT, UsageError } from '../command.ts';
import { configOf } from '../config-source.ts';

/** IdP metadata with a few hundred certificates or entities is still far below this. */
const MAX_METADATA_BYTES = 2 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;

async function readMetadata(context: CommandContext, source: string): Promise<string> {
  if (!/^https?:\/\//i.test(source)) return context.deps.readFile(source);
  const { fetch } = context.deps.openDoctor(context.options);
  const response = await fetch(source, {
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
  });
  if (!response.ok) throw new Error(`${source} answered ${response.status}`);
  const text = await response.text();
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES) throw new Error(`${source} is too large`);
  return text;
}

/**
 * The SAMLResponse as a user copies it: the base64 form value, possibly url-encoded or prefixed
 * with `SAMLResponse=`, or the decoded XML itself.
 */
export function samlResponseOf(text: string): string {
  let value = text.trim();
  if (value.startsWith('<')) return Buffer.from(value, 'utf8').toString('base64');
  value = value.replace(/^SAMLResponse=/, '').replace(/&.*$/s, '');
  if (value.includes('%')) value = decodeURIComponent(value);
  return value;
}

const MARK: Record<Finding['level'], string> = { refused: '✗', warning: '!', note: '·' };

export async function samlCheck(
  context: CommandContext,
  input: {
    options: {
      metadata: string;
      response: string | undefined;
      provider: string | undefined;
      config: string | undefined;
      'base-url': string | undefined;
      'posted-at': string | undefined;
      'idp-initiated': boolean;
      format: 'text' | 'json';
    };
  },
): Promise<number> {
  const { io, deps, paint: p } = context;
  const { options } = input;
  if (options.config !== undefined && options.provider === undefined) {
    throw new UsageError('--config needs --provider <id> (the SAML provider to check against)');
  }
  let postedAt: Date | undefined;
  if (options['posted-at'] !== undefined) {
    postedAt = new Date(options['posted-at']);
    if (Number.isNaN(postedAt.getTime())) {
      throw new UsageError('--posted-at takes an ISO 8601 time, e.g. 2026-12-03T10:15:00Z');
    }
  }
  let metadataXml: string;
  try {
    metadataXml = await readMetadata(context, options.metadata);
  } catch (error) {
    io.err(`${p.red('error:')} cannot read the metadata: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  let samlResponse: string | undefined;
  if (options.response !== undefined) {
    try {
      samlResponse = samlResponseOf(deps.readFile(options.response));
    } catch (error) {
      io.err(`${p.red('error:')} cannot read the response: ${(error as Error).message}`);
      return EXIT.invalid;
    }
  }
  const checkInput: SamlCheckInput = {
    metadataXml,
    now: deps.now(),
    ...(samlResponse === undefined ? {} : { samlResponse }),
    ...(postedAt === undefined ? {} : { postedAt }),
    ...(options['idp-initiated'] ? { idpInitiated: true } : {}),
  };
  if (options.provider !== undefined) {
    const loaded = await configOf(context, options.config);
    if (loaded === undefined) return EXIT.invalid;
    const provider = loaded.config.providers.find((entry) => entry.id === options.provider);
    if (provider?.type !== 'saml') {
      const known = loaded.config.providers.filter((entry) => entry.type === 'saml');
      io.err(
        `${p.red('error:')} no SAML provider "${options.provider}" (SAML providers: ${known.map((entry) => entry.id).join(', ') || 'none'})`,
      );
      return EXIT.invalid;
    }
    checkInput.provider = provider as SamlProvider;
    checkInput.config = loaded.config;
    const baseUrl = options['base-url'] ?? deps.env.TVM_PUBLIC_BASE_URL;
    if (baseUrl !== undefined && baseUrl !== '') checkInput.baseUrl = baseUrl;
  }
  const report = await checkSaml(checkInput);
  const refused = report.findings.filter((finding) => finding.level === 'refused').length;
  if (options.format === 'json') {
    io.out(JSON.stringify({ ok: refused === 0, ...report }, null, 2));
    return refused === 0 ? EXIT.ok : EXIT.invalid;
  }
  const certificates = `${report.signingCertificates} signing certificate${report.signingCertificates === 1 ? '' : 's'}`;
  io.out(`IdP ${p.bold(report.idpEntityId ?? '(unknown)')}: ${certificates}`);
  for (const finding of report.findings) {
    const paint =
      finding.level === 'refused' ? p.red : finding.level === 'warning' ? p.yellow : p.dim;
    io.out(`${paint(MARK[finding.level])} ${p.cyan(finding.reason)}: ${finding.message}`);
    io.out(`    ${p.dim('→')} ${finding.advice}`);
  }
  if (report.attributeNames !== undefined) {
    io.out(`NameID format: ${report.nameIdFormat ?? '(none given: unspecified)'}`);
    io.out(`Attributes (names only): ${report.attributeNames.join(', ') || 'none'}`);
  }
  if (report.matchedMappings !== undefined && report.matchedMappings.length > 0) {
    io.out(`Mappings this user matches: ${report.matchedMappings.join(', ')}`);
  }
  const warnings = report.findings.filter((finding) => finding.level === 'warning').length;
  io.out(
    refused === 0
      ? p.green(`nothing TVM would refuse (${warnings} warning${warnings === 1 ? '' : 's'})`)
      : p.red(`${refused} thing${refused === 1 ? '' : 's'} TVM would refuse`),
  );
  return refused === 0 ? EXIT.ok : EXIT.invalid;
}
