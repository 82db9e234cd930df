import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createDocumentClient } from '#shared/aws.ts';
import { ensureTable, LOCAL_REGION, localAwsEnv } from '../../scripts/local/aws-stack.ts';

/** A fresh table in the shared moto, so test files never see each other's items. */
export async function freshTable(prefix = 'tvm-test'): Promise<{
  endpoint: string;
  tableName: string;
  env: Record<string, string>;
  documentClient: ReturnType<typeof createDocumentClient>;
}> {
  const endpoint = inject('motoEndpoint');
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  await ensureTable(endpoint, tableName);
  const documentClient = createDocumentClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return { endpoint, tableName, env: localAwsEnv(endpoint, tableName), documentClient };
}
