import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { TEST_AUDIENCE, type TestIssuer } from './oidc-issuer.ts';

/** The tenant-scoped mapping most vend tests use: a tag and a policy from `claims.tenant`. */
export const TENANT_READER = {
  id: 'tenant-reader',
  provider: 'mobile',
  priority: 100,
  match: { claim: 'tenant', op: 'exists' },
  roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-reader',
  sessionTags: { tenant: '{{claims.tenant}}' },
  sessionPolicy: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::data/{{claims.tenant}}/*',
      },
    ],
  },
  durationSeconds: 900,
};

/** A mapping every authenticated subject matches. */
export const EVERYONE = {
  id: 'everyone',
  provider: 'mobile',
  priority: 1,
  match: { claim: 'sub', op: 'exists' },
  roleArn: 'arn:aws:iam::123456789012:role/tvm/everyone',
  durationSeconds: 900,
};

/** The guests of one identity pool (a `type: guest` provider serves exactly one pool). */
export const SHOP_GUESTS = { id: 'shop-guests', type: 'guest' };

/**
 * Every guest of SHOP_GUESTS: its own role, and only its own prefix, through the session tag every
 * identity-pool session carries (the IdentityId).
 */
export const GUEST_READER = {
  id: 'guest-reader',
  provider: SHOP_GUESTS.id,
  priority: 10,
  match: { claim: 'sub', op: 'exists' },
  roleArn: 'arn:aws:iam::123456789012:role/tvm/guest-reader',
  sessionPolicy: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, on purpose
        Resource: 'arn:aws:s3:::shop-assets/guests/${aws:PrincipalTag/cognito-identity-id}/*',
      },
    ],
  },
  durationSeconds: 900,
};

/**
 * An identity pool that signs in `mobile` (TENANT_READER, EVERYONE) and takes SHOP_GUESTS
 * (GUEST_READER). A guest's claims would match EVERYONE (`sub` exists): only the provider keeps it out.
 */
export function guestPool(id: string): Record<string, unknown> {
  return {
    id,
    providers: [{ provider: 'mobile' }],
    guests: { provider: SHOP_GUESTS.id },
    mappings: [TENANT_READER.id, EVERYONE.id, GUEST_READER.id],
  };
}

/** A config document with one OIDC provider `mobile` for `issuer`, in the file format. */
export function oidcConfig(
  issuer: Pick<TestIssuer, 'issuer'>,
  options: { mappings?: unknown[]; provider?: Record<string, unknown> } = {},
): unknown {
  return {
    version: 1,
    providers: [
      {
        id: 'mobile',
        type: 'oidc',
        issuer: issuer.issuer,
        audiences: [TEST_AUDIENCE],
        claims: { tenant: { type: 'string', maxLength: 32 }, groups: { type: 'list' } },
        ...options.provider,
      },
    ],
    mappings: options.mappings ?? [TENANT_READER],
  };
}

/** Validates a document for the local stage and applies it as the current generation. */
export async function applyConfig(
  client: DynamoDBDocumentClient,
  tableName: string,
  document: unknown,
): Promise<TvmConfig> {
  const result = validateConfig(document, { stage: 'local' });
  if (!result.ok) throw new Error(`test config invalid: ${JSON.stringify(result.problems)}`);
  await new DynamoConfigStore(client, tableName).apply(result.config, { appliedBy: 'test' });
  return result.config;
}

/**
 * The route-test config: a Cognito-style provider (two audiences, azp, rate limits) and two
 * mappings: everyone with a tenant reads their prefix; admins get more. `provider` overrides provider fields.
 */
export function harnessConfig(
  issuer: Pick<TestIssuer, 'issuer' | 'jwksUri'>,
  provider: Record<string, unknown> = {},
): unknown {
  return {
    version: 1,
    providers: [
      {
        id: 'mobile',
        type: 'oidc',
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        audiences: [TEST_AUDIENCE, 'second-client'],
        authorizedParties: [TEST_AUDIENCE],
        preset: 'cognito',
        claims: { tenant: { type: 'string', maxLength: 32 }, groups: { type: 'list' } },
        jwks: { cooldownSeconds: 30 },
        rateLimits: {
          perPrincipal: { limit: 10, windowSeconds: 60 },
          perSourceIp: { limit: 25, windowSeconds: 60 },
        },
        ...provider,
      },
    ],
    mappings: [
      {
        id: 'admin',
        provider: 'mobile',
        priority: 200,
        match: { claim: 'groups', op: 'contains', value: 'admins' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/admin',
        durationSeconds: 3600,
      },
      {
        id: 'reader',
        provider: 'mobile',
        priority: 100,
        match: { claim: 'tenant', op: 'exists' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/reader',
        sessionTags: { tenant: '{{claims.tenant}}' },
        transitiveTagKeys: ['tenant'],
        sessionPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['s3:GetObject'],
              Resource: ['arn:aws:s3:::tenant-data/{{claims.tenant}}/*'],
            },
          ],
        },
        durationSeconds: 1800,
      },
    ],
  };
}
