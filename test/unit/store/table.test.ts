import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ACCESS_KEY_INDEX, TABLE_KEYS } from '#shared/store/table.ts';

/**
 * The table as serverless.yml declares it for AWS must match the constants that the code and the
 * local stack (scripts/local/aws-stack.ts ensureTable) use. The packaged template is checked by
 * test/e2e/package-cfn-lint.test.ts; this is the quick check of the source.
 */
describe('the table in serverless.yml', () => {
  const table = (
    parseDocument(
      readFileSync(resolve(import.meta.dirname, '../../../serverless.yml'), 'utf8'),
    ).toJS({}) as {
      resources: { Resources: { TvmTable: { Properties: Record<string, unknown> } } };
    }
  ).resources.Resources.TvmTable.Properties;

  it('declares the access-key index exactly as the local stack creates it', () => {
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: ACCESS_KEY_INDEX.name,
        KeySchema: [
          { AttributeName: ACCESS_KEY_INDEX.partition, KeyType: 'HASH' },
          { AttributeName: ACCESS_KEY_INDEX.sort, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: ACCESS_KEY_INDEX.projection },
      },
    ]);
    expect(table.AttributeDefinitions).toEqual([
      { AttributeName: TABLE_KEYS.partition, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.sort, AttributeType: 'S' },
      { AttributeName: ACCESS_KEY_INDEX.partition, AttributeType: 'S' },
    ]);
  });
});
