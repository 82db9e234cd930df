/**
 * The one DynamoDB table (DESIGN.md §6). serverless.yml declares the same keys for AWS, and the
 * local stack creates it from these constants; a test checks that the two agree.
 */
export const TABLE_KEYS = { partition: 'pk', sort: 'sk' } as const;
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * The sparse index behind `tvm audit key`: keyed on the audit record's own `accessKeyId`, which
 * only records of vended (or reused) credentials carry, so refusals never reach the index. Keys
 * only: the command reads the few records it finds from the table, and every vend pays for the
 * smallest possible index entry (docs/operations.md, "The access key index").
 */
export const ACCESS_KEY_INDEX = {
  name: 'byAccessKeyId',
  partition: 'accessKeyId',
  sort: TABLE_KEYS.sort,
  projection: 'KEYS_ONLY',
} as const;

export function tableNameFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.TVM_TABLE_NAME;
  if (name === undefined || name === '') {
    throw new Error('TVM_TABLE_NAME is not set');
  }
  return name;
}
