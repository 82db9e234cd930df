/**
 * The one DynamoDB table (DESIGN.md §6). serverless.yml declares the same keys for AWS, and the
 * local stack creates it from these constants; a test checks that the two agree.
 */
export const TABLE_KEYS = { partition: 'pk', sort: 'sk' } as const;
export const TTL_ATTRIBUTE = 'expiresAt';

export function tableNameFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.TVM_TABLE_NAME;
  if (name === undefined || name === '') {
    throw new Error('TVM_TABLE_NAME is not set');
  }
  return name;
}
