import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RateLimitReason } from '#shared/errors.ts';
import { RateLimitedError } from '#shared/errors.ts';

export type { RateLimitReason };

export interface RateLimitRule {
  /** What is counted, e.g. `["principal",<issuer>,<subject>,<window>]`; hashed before it is stored. */
  key: string;
  limit: number;
  windowSeconds: number;
  reason: RateLimitReason;
}

export interface RateLimiter {
  /**
   * Counts one request against every rule at once: each rule with room counts it, even when
   * another is full. Rejects with a store error if any, else RateLimitedError (429) for the
   * first full rule.
   */
  consume(rules: readonly RateLimitRule[], now: Date): Promise<void>;
}

/** The window a request falls in, and the seconds until it ends (the Retry-After). */
export function fixedWindow(
  now: Date,
  windowSeconds: number,
): { start: number; retryAfter: number } {
  const seconds = Math.floor(now.getTime() / 1000);
  const start = seconds - (seconds % windowSeconds);
  return { start, retryAfter: Math.max(1, start + windowSeconds - seconds) };
}

/**
 * Rethrows what a set of counter writes should answer, in rule order: any store error first
 * (the check is incomplete, so fail closed), then the first full window as its 429.
 */
export function throwFirstFailure(settled: readonly PromiseSettledResult<void>[]): void {
  const rejected = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  const error = rejected.find((reason) => !(reason instanceof RateLimitedError));
  if (error !== undefined) throw error;
  if (rejected[0] !== undefined) throw rejected[0];
}

/**
 * Fixed-window counters, one DynamoDB item per key and window, incremented by one conditional
 * UpdateItem. Fixed rather than sliding: a single atomic write per check is exact under any
 * concurrency (50 parallel requests against a limit of 10 admit exactly 10) and costs one WCU;
 * the price is that a client may reach up to twice the limit across a window boundary.
 */
export class DynamoRateLimiter implements RateLimiter {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async consume(rules: readonly RateLimitRule[], now: Date): Promise<void> {
    // Every counter in the same round trip; a full one stays as it is (the write is conditional).
    const settled = await Promise.allSettled(rules.map((rule) => this.#count(rule, now)));
    throwFirstFailure(settled);
  }

  async #count(rule: RateLimitRule, now: Date): Promise<void> {
    const { start, retryAfter } = fixedWindow(now, rule.windowSeconds);
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          // Subjects and IPs are personal data: the counter only needs a stable hash.
          Key: {
            pk: `RATE#${createHash('sha256').update(rule.key).digest('hex')}`,
            sk: String(start),
          },
          UpdateExpression: 'ADD #count :one SET expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(#count) OR #count < :limit',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':limit': rule.limit,
            // Kept one window past its end, then DynamoDB TTL removes it.
            ':expires': start + 2 * rule.windowSeconds,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new RateLimitedError(retryAfter, rule.reason);
      }
      throw error;
    }
  }
}
