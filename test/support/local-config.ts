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
        claims: { tenant: { maxLength: 32 } },
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
