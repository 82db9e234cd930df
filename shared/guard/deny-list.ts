import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { queryAll } from '#shared/store/query.ts';

/** A principal (issuer + subject) the TVM must refuse, whatever its token says. */
export interface DenyEntry {
  /** The principal's issuer. Absent on a legacy entry (written under a provider id). */
  issuer?: string;
  /** The provider entry the operator named; for a legacy entry, the one it is keyed under. */
  provider: string;
  subject: string;
  /** ISO time the entry stops applying; absent means until removed. */
  until?: string;
  reason?: string;
  by: string;
  at: string;
}

export interface DenyList {
  /**
   * The entry in force for this principal at `now`: under its issuer, or a legacy entry under the
   * id of one of `legacyProviders` (the config's provider entries that share the issuer).
   */
  find(
    issuer: string,
    subject: string,
    legacyProviders: readonly string[],
    now: Date,
  ): Promise<DenyEntry | undefined>;
  add(entry: DenyEntry & { issuer: string }): Promise<void>;
  /**
   * Removes the principal's entry and its legacy ones; true when any was removed. Without an
   * issuer (a provider that left the config) only the legacy entries.
   */
  remove(
    issuer: string | undefined,
    subject: string,
    legacyProviders: readonly string[],
  ): Promise<boolean>;
  /** The issuer's entries, then the legacy entries of `legacyProviders`. */
  list(issuer: string | undefined, legacyProviders: readonly string[]): Promise<DenyEntry[]>;
}

export function inForce(entry: DenyEntry, now: Date): boolean {
  return entry.until === undefined || Date.parse(entry.until) > now.getTime();
}

/** `DENY#ISS#<issuer>`: provider ids match [a-z0-9-], so no id can name this partition. */
export function denyPartition(issuer: string): string {
  return `DENY#ISS#${issuer}`;
}

/** Where entries lived before they keyed on the issuer; still read, so an upgrade lifts none. */
export function legacyDenyPartition(providerId: string): string {
  return `DENY#${providerId}`;
}

function partitions(issuer: string | undefined, legacyProviders: readonly string[]): string[] {
  return [
    ...(issuer === undefined ? [] : [denyPartition(issuer)]),
    ...legacyProviders.map(legacyDenyPartition),
  ];
}

/**
 * `DENY#ISS#<issuer>` / `<subject>`, with the DynamoDB TTL set to `until` for clean-up. TTL
 * deletion is lazy (up to days), so `find` compares `until` with the clock itself. Legacy
 * entries (`DENY#<provider id>` / `<subject>`) keep applying to every entry sharing the issuer.
 */
export class DynamoDenyList implements DenyList {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async find(
    issuer: string,
    subject: string,
    legacyProviders: readonly string[],
    now: Date,
  ): Promise<DenyEntry | undefined> {
    // In parallel, and any failed read rejects the whole check: the guard then fails closed.
    const items = await Promise.all(
      partitions(issuer, legacyProviders).map(async (pk) => {
        const { Item } = await this.#client.send(
          new GetCommand({
            TableName: this.#table,
            Key: { pk, sk: subject },
            // Refused at the very next request: no eventually consistent read.
            ConsistentRead: true,
          }),
        );
        return Item;
      }),
    );
    return items
      .flatMap((item) => (item === undefined ? [] : [toEntry(item)]))
      .find((entry) => inForce(entry, now));
  }

  async add(entry: DenyEntry & { issuer: string }): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: denyPartition(entry.issuer),
          sk: entry.subject,
          ...entry,
          ...(entry.until === undefined
            ? {}
            : { expiresAt: Math.floor(Date.parse(entry.until) / 1000) }),
        },
      }),
    );
  }

  async remove(
    issuer: string | undefined,
    subject: string,
    legacyProviders: readonly string[],
  ): Promise<boolean> {
    const removed = await Promise.all(
      partitions(issuer, legacyProviders).map(async (pk) => {
        const { Attributes } = await this.#client.send(
          new DeleteCommand({
            TableName: this.#table,
            Key: { pk, sk: subject },
            ReturnValues: 'ALL_OLD',
          }),
        );
        return Attributes !== undefined;
      }),
    );
    return removed.some(Boolean);
  }

  async list(issuer: string | undefined, legacyProviders: readonly string[]): Promise<DenyEntry[]> {
    const lists = await Promise.all(
      partitions(issuer, legacyProviders).map((pk) =>
        queryAll(this.#client, {
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk },
        }),
      ),
    );
    return lists.flat().map(toEntry);
  }
}

function toEntry(item: Record<string, unknown>): DenyEntry {
  return {
    ...(typeof item.issuer === 'string' ? { issuer: item.issuer } : {}),
    provider: String(item.provider),
    subject: String(item.subject),
    ...(typeof item.until === 'string' ? { until: item.until } : {}),
    ...(typeof item.reason === 'string' ? { reason: item.reason } : {}),
    by: String(item.by ?? ''),
    at: String(item.at ?? ''),
  };
}
