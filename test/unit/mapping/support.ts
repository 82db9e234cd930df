/** Configs and identities for the mapping tests. */
import { expect } from 'vitest';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { ConfigFileSchema, type TvmConfig } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { ForbiddenError } from '#shared/errors.ts';
import {
  CERTIFICATE_VALID_AT,
  type Fields,
  oidcProvider,
  samlProvider,
} from '../../fixtures/config/documents.ts';

export { oidcProvider, samlProvider };

/** `$` + `{aws:username}`, built so no linter mistakes it for a JS template. */
export const IAM_USERNAME_VARIABLE = ['$', '{aws:username}'].join('');

export function mappingOf(id: string, priority: number, fields: Fields = {}): Fields {
  return {
    id,
    provider: 'mobile',
    priority,
    match: { claim: 'groups', op: 'contains', value: 'users' },
    roleArn: `arn:aws:iam::123456789012:role/tvm/${id}`,
    ...fields,
  };
}

/** A config that passed the same validation `config apply` runs. */
export function validConfig(mappings: Fields[], providers: Fields[] = [oidcProvider()]): TvmConfig {
  const result = validateConfig(
    { version: 1, providers, mappings },
    { stage: 'prod', now: CERTIFICATE_VALID_AT },
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
  return result.config;
}

/** Shape only: for runtime checks that a validated config can never reach (size re-checks). */
export function unvalidatedConfig(
  mappings: Fields[],
  providers: Fields[] = [oidcProvider()],
): TvmConfig {
  return ConfigFileSchema.parse({ version: 1, providers, mappings });
}

/** The issuer of the fixtures' providers: `mobile` and `corp` as in documents.ts, else made up. */
export function issuerOf(provider: string): string {
  if (provider === 'mobile') return oidcProvider().issuer as string;
  if (provider === 'corp') return samlProvider().entityId as string;
  return `https://${provider}.example.com`;
}

/** An identity typed exactly as the token verifiers type it (null-prototype claims). */
export function identityOf(
  claims: Record<string, unknown>,
  provider = 'mobile',
  issuer = issuerOf(provider),
): Identity {
  const typed = toClaims(claims);
  const sub = typed.sub;
  return { provider, issuer, subject: typeof sub === 'string' ? sub : '', claims: typed };
}

/** Runs `act` and returns the ForbiddenError it must throw. */
export function forbidden(act: () => unknown): ForbiddenError {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ForbiddenError);
  return thrown as ForbiddenError;
}
