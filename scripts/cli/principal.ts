/**
 * The principal that `deny` and `revoke` act on: a provider entry's issuer plus a subject, how
 * the CLI checks what the operator typed, and how it shows stored values.
 */
import { principalIssuer, providersOfIssuer } from '#shared/auth/principal.ts';
import type { ConfigGeneration } from '#shared/config/store.ts';
import { ValidationError } from '#shared/errors.ts';
import type { CommandContext } from './command.ts';

/** OIDC: `sub` is at most 255 ASCII characters (Core 1.0 §2); SAML NameIDs are held to the same. */
const MAX_SUBJECT_CHARS = 255;
const MAX_REASON_CHARS = 1024;
const CONTROL_CHARACTER = /\p{Cc}/u;

export function checkSubject(subject: string): string {
  if (subject === '') throw new ValidationError('--subject must not be empty');
  if (subject.length > MAX_SUBJECT_CHARS) {
    throw new ValidationError(
      `--subject is ${subject.length} characters; a subject has at most ${MAX_SUBJECT_CHARS}`,
    );
  }
  if (CONTROL_CHARACTER.test(subject)) {
    throw new ValidationError('--subject must not contain control characters');
  }
  return subject;
}

export function checkReason(reason: string): string {
  if (reason.length > MAX_REASON_CHARS || CONTROL_CHARACTER.test(reason)) {
    throw new ValidationError(
      `--reason must be at most ${MAX_REASON_CHARS} characters, without control characters`,
    );
  }
  return reason;
}

/** Stored values are shown, never interpreted: control characters become escapes. */
export function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

export function principal(provider: string, subject: string): string {
  return `${provider}/${JSON.stringify(printable(subject))}`;
}

export interface PrincipalScope {
  issuer: string;
  providers: string[];
}

/** The issuer of a provider entry, and every entry sharing it (its controls cover them all). */
export function principalScope(
  current: ConfigGeneration | undefined,
  providerId: string,
): PrincipalScope | undefined {
  const named = current?.config.providers.find((candidate) => candidate.id === providerId);
  if (current === undefined || named === undefined) return undefined;
  const issuer = principalIssuer(named);
  const providers = providersOfIssuer(current.config.providers, issuer).map((p) => p.id);
  return { issuer, providers };
}

/** One line naming the issuer and its entries, when more than the named one shares it. */
export function issuerLine(scope: PrincipalScope): string {
  const entries =
    scope.providers.length === 1
      ? `provider ${scope.providers[0]}`
      : `every provider sharing it: ${scope.providers.join(', ')}`;
  return `  Principal: issuer ${JSON.stringify(printable(scope.issuer))} + subject (${entries}).`;
}

/** False (after saying why) when the provider is not in this generation. */
export function knownProvider(
  { io, options, paint }: CommandContext,
  current: ConfigGeneration,
  provider: string,
): boolean {
  if (current.config.providers.some((candidate) => candidate.id === provider)) return true;
  const known = current.config.providers.map((candidate) => candidate.id).join(', ');
  io.err(
    `${paint.red('error:')} provider ${JSON.stringify(provider)} is not in the current config (generation ${current.generation} of ${options.table}); its providers are: ${known || '(none)'}`,
  );
  return false;
}
