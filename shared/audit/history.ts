/**
 * Reading audit records back (the writer is shared/audit/audit.ts): one principal's decisions,
 * and the decision that vended one access key. Every read is a Query on a key, never a Scan:
 * the table also holds every other principal's records, config and counters.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '#shared/store/query.ts';
import { ACCESS_KEY_INDEX } from '#shared/store/table.ts';
import { type AuditRecord, principalPartition, subjectHash } from './audit.ts';

export type AuditOutcome = AuditRecord['outcome'];

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['allowed', 'denied', 'error', 'pending'];

/**
 * The partitions of one principal: `AUDIT#sha256(issuer \0 subject)`, and the legacy ones that
 * TVMs from before the principal change wrote, hashed with a provider id instead of the issuer.
 */
export function principalPartitions(
  issuer: string,
  subject: string,
  legacyProviders: readonly string[],
): string[] {
  const hashes = new Set([
    subjectHash(issuer, subject),
    ...legacyProviders.map((provider) => subjectHash(provider, subject)),
  ]);
  return [...hashes].map(principalPartition);
}

export interface PrincipalQuery {
  issuer: string;
  subject: string;
  /** Provider entries of the issuer, whose legacy partitions are read too. */
  legacyProviders: readonly string[];
  /** Only records at or after this time: a key condition on the sort key. */
  since?: Date;
  outcome?: AuditOutcome;
  /** Read only these attributes (`at` and `requestId` are always read, to order the records). */
  attributes?: readonly (keyof AuditRecord)[];
  /** The newest this many (after the outcome filter); all when absent. */
  limit?: number;
}

export interface AuditLog {
  /** The principal's records, newest first. */
  principalRecords(query: PrincipalQuery): Promise<AuditRecord[]>;
  /**
   * Every record that carries this access key id, oldest first: the vend, then each reuse of
   * the same credentials. Found through the sparse access-key index.
   */
  byAccessKey(accessKeyId: string): Promise<AuditRecord[]>;
}

/** Stored items carry the table's own attributes too; the record is the rest. */
function toRecord(item: Record<string, unknown>): AuditRecord {
  const { pk: _pk, sk: _sk, expiresAt: _expiresAt, ...record } = item;
  return record as unknown as AuditRecord;
}

const newestFirst = (a: AuditRecord, b: AuditRecord) => {
  const left = `${a.at}#${a.requestId}`;
  const right = `${b.at}#${b.requestId}`;
  return left < right ? 1 : left > right ? -1 : 0;
};

export class DynamoAuditLog implements AuditLog {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async principalRecords(query: PrincipalQuery): Promise<AuditRecord[]> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    let keyCondition = 'pk = :pk';
    if (query.since !== undefined) {
      // The sort key starts with the ISO time, so ISO strings order as times do.
      keyCondition += ' AND sk >= :since';
      values[':since'] = query.since.toISOString();
    }
    let filter: string | undefined;
    if (query.outcome !== undefined) {
      names['#outcome'] = 'outcome';
      values[':outcome'] = query.outcome;
      filter = '#outcome = :outcome';
    }
    let projection: string | undefined;
    if (query.attributes !== undefined) {
      const attributes = [...new Set(['at', 'requestId', ...query.attributes])];
      projection = attributes
        .map((attribute, index) => {
          names[`#a${index}`] = attribute;
          return `#a${index}`;
        })
        .join(', ');
    }
    const records: AuditRecord[] = [];
    for (const partition of principalPartitions(
      query.issuer,
      query.subject,
      query.legacyProviders,
    )) {
      const items = await queryAll(
        this.#client,
        {
          TableName: this.#table,
          KeyConditionExpression: keyCondition,
          ...(filter === undefined ? {} : { FilterExpression: filter }),
          ...(projection === undefined ? {} : { ProjectionExpression: projection }),
          ...(Object.keys(names).length === 0 ? {} : { ExpressionAttributeNames: names }),
          ExpressionAttributeValues: { ...values, ':pk': partition },
          ScanIndexForward: false,
          // A decision that finished a moment ago must be seen too (revoke relies on it).
          ConsistentRead: true,
        },
        query.limit,
      );
      records.push(...items.map(toRecord));
    }
    records.sort(newestFirst);
    return query.limit === undefined ? records : records.slice(0, query.limit);
  }

  async byAccessKey(accessKeyId: string): Promise<AuditRecord[]> {
    // Keys only: the index holds pk/sk, and each record is read from the table.
    const keys = await queryAll(this.#client, {
      TableName: this.#table,
      IndexName: ACCESS_KEY_INDEX.name,
      KeyConditionExpression: '#key = :key',
      ExpressionAttributeNames: { '#key': ACCESS_KEY_INDEX.partition },
      ExpressionAttributeValues: { ':key': accessKeyId },
    });
    const records: AuditRecord[] = [];
    for (const key of keys) {
      // Only audit records belong in the answer, whatever else may one day carry the attribute.
      if (typeof key.pk !== 'string' || !key.pk.startsWith(principalPartition(''))) continue;
      const { Item } = await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: key.pk, sk: key.sk },
          ConsistentRead: true,
        }),
      );
      // Gone between the two reads (TTL), or not an audit record: nothing to show.
      if (Item !== undefined && Item.accessKeyId === accessKeyId) records.push(toRecord(Item));
    }
    return records.sort((a, b) => newestFirst(b, a));
  }
}
