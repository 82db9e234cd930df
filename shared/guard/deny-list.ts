import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { queryAll } from '#shared/store/query.ts';

/** A principal the TVM must refuse, whatever its token says. */
export interface DenyEntry {
  provider: string;
  subject: string;
  /** ISO time the entry stops applying; absent means until removed. */
  until?: string;
  reason?: string;
  by: string;
  at: string;
}

export interface DenyList {
  /** The entry in force for this principal at `now`, if any. */
  find(provider: string, subject: string, now: Date): Promise<DenyEntry | undefined>;
  add(entry: DenyEntry): Promise<void>;
  /** True when an entry was removed. */
  remove(provider: string, subject: string): Promise<boolean>;
  list(provider: string): Promise<DenyEntry[]>;
}

export function inForce(entry: DenyEntry, now: Date): boolean {
  return entry.until === undefined || Date.parse(entry.until) > now.getTime();
}

/**
 * `DENY#<provider>` / `<subject>`, with the DynamoDB TTL set to `until` for clean-up. TTL
 * deletion is lazy (up to days), so `find` compares `until` with the clock itself.
 */
export class DynamoDenyList implements DenyList {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async find(provider: string, subject: string, now: Date): Promise<DenyEntry | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: `DENY#${provider}`, sk: subject },
        // Refused at the very next request: no eventually consistent read.
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const entry = toEntry(Item);
    return inForce(entry, now) ? entry : undefined;
  }

  async add(entry: DenyEntry): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: `DENY#${entry.provider}`,
          sk: entry.subject,
          ...entry,
          ...(entry.until === undefined
            ? {}
            : { expiresAt: Math.floor(Date.parse(entry.until) / 1000) }),
        },
      }),
    );
  }

  async remove(provider: string, subject: string): Promise<boolean> {
    const { Attributes } = await this.#client.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: { pk: `DENY#${provider}`, sk: subject },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }

  async list(provider: string): Promise<DenyEntry[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `DENY#${provider}` },
    });
    return items.map(toEntry);
  }
}

function toEntry(item: Record<string, unknown>): DenyEntry {
  return {
    provider: String(item.provider),
    subject: String(item.subject),
    ...(typeof item.until === 'string' ? { until: item.until } : {}),
    ...(typeof item.reason === 'string' ? { reason: item.reason } : {}),
    by: String(item.by ?? ''),
    at: String(item.at ?? ''),
  };
}
