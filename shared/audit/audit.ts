import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Log } from '#shared/log.ts';
import type { Metrics } from '#shared/metrics.ts';

/**
 * One record per decision, allowed or denied (DESIGN.md §6). It holds ids and hashes only:
 * never a token, an assertion, a secret key, a session token or a sign-in URL.
 */
export interface AuditRecord {
  requestId: string;
  /** ISO time of the decision. */
  at: string;
  route: string;
  outcome: 'allowed' | 'denied' | 'error' | 'pending';
  /** `ok`, or why it was refused: an authentication, decision, STS or input reason code. */
  reason: string;
  provider?: string;
  /** The principal's issuer (OIDC `iss`, SAML IdP entity id): config, not personal data. */
  issuer?: string;
  /**
   * SHA-256 of issuer + subject (the principal, whichever provider entry matched): lets an
   * operator find one user's records without storing who.
   */
  subjectHash?: string;
  /** SAML: the NameID Format, recorded only; the principal key ignores it. */
  nameIdFormat?: string;
  mappingId?: string;
  roleArn?: string;
  /**
   * `assertion` (SAML native mode): roleSessionName and sourceIdentity are what the IdP's
   * assertion set, the values the session really carries; absent ones were not set. Otherwise
   * the TVM set both.
   */
  sessionNamedBy?: 'assertion';
  roleSessionName?: string;
  sourceIdentity?: string;
  tagKeys?: string[];
  policySha256?: string;
  durationSeconds?: number;
  /** The access key id identifies the session in CloudTrail; the secret never leaves STS's answer. */
  accessKeyId?: string;
  expiration?: string;
  sourceIp?: string;
  /** The Cognito-compatible IdentityId (POST /v1/cognito-identity): an id, not personal data. */
  identityId?: string;
}

export interface AuditSink {
  write(record: AuditRecord): Promise<void>;
}

/** SHA-256 of `issuer \0 subject`. Records written before principals were issuer-keyed used the provider id. */
export function subjectHash(issuer: string, subject: string): string {
  return createHash('sha256').update(`${issuer}\u0000${subject}`).digest('hex');
}

/** Every record of one principal (by its subject hash), oldest first by sort key. */
export function principalPartition(hash: string): string {
  return `AUDIT#${hash}`;
}

/** The sort key: ISO time first, so a time range is a key condition (`sk >= <time>`). */
export function auditSortKey(record: Pick<AuditRecord, 'at' | 'requestId'>): string {
  return `${record.at}#${record.requestId}`;
}

/** Records of requests that never authenticated share one partition per hour. */
function partitionOf(record: AuditRecord): string {
  return record.subjectHash === undefined
    ? `AUDIT#unauthenticated#${record.at.slice(0, 13)}`
    : principalPartition(record.subjectHash);
}

/**
 * Writes the record to DynamoDB (with a TTL for retention) and as one structured log line.
 * A failed write throws: the caller must not hand out credentials it could not audit.
 */
export class DynamoAuditSink implements AuditSink {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;
  readonly #logger: Pick<Log, 'info'>;
  readonly #metrics: Metrics | undefined;

  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    options: { retentionDays: number; logger: Pick<Log, 'info'>; metrics?: Metrics },
  ) {
    this.#client = client;
    this.#table = tableName;
    this.#retentionSeconds = options.retentionDays * 86_400;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  async write(record: AuditRecord): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            pk: partitionOf(record),
            sk: auditSortKey(record),
            // accessKeyId, present only on records of vended keys, is the access-key index's key.
            ...record,
            expiresAt: Math.floor(Date.parse(record.at) / 1000) + this.#retentionSeconds,
          },
          // Exactly one record per request: a retried write must not add a second.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      // The SDK retried a write that had landed: the one record exists, which is the goal.
      if (!(error instanceof ConditionalCheckFailedException)) {
        this.#metrics?.count('AuditWriteFailed', {});
        throw error;
      }
    }
    this.#logger.info('audit', { audit: record });
  }
}
