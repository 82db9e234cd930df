/**
 * Terminal logins' server-side state (one table, docs/operations.md "Login sessions"):
 *   LOGINCODE#<sha256(code)>          / LOGINCODE     the one-time code, 60 s, deleted on use
 *   LOGINSESSION#<sha256(handle)>     / LOGINSESSION  the login session (only the hash is a key)
 *   LOGINSESSIONS#<sha256(iss\0sub)>  / <hash>        one index item per session of a principal,
 *                                                      so deny and revoke can end them all
 * Every item carries the TTL attribute; TTL deletion is lazy, so every read compares the clock.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import { subjectHash } from '#shared/audit/audit.ts';
import { type Identity, toClaims } from '#shared/auth/identity.ts';
import { queryAll } from '#shared/store/query.ts';

/** A code lives this long between the ACS and the exchange (the CLI is waiting for it). */
export const CODE_TTL_SECONDS = 60;
/** `tvms_` + 32 random bytes base64url: the prefix lets secret scanners spot a leaked handle. */
export const SESSION_HANDLE = /^tvms_[A-Za-z0-9_-]{43}$/;
export const CODE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Who a code or a session is for, as the assertion proved it. */
export interface StoredPrincipal {
  provider: string;
  issuer: string;
  subject: string;
  nameIdFormat?: string;
  claims: Record<string, unknown>;
}

export interface PendingCode extends StoredPrincipal {
  redirectUri: string;
  codeChallenge: string;
  /** SHA-256 of the login cookie of the browser that finished the login (audit trail). */
  browserHash: string;
  createdAt: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface LoginSession extends StoredPrincipal {
  createdAt: string;
  /** Epoch seconds: createdAt + the provider's loginSessionMaxSeconds. */
  expiresAt: number;
}

export interface LoginStore {
  saveCode(codeHash: string, code: PendingCode): Promise<void>;
  /** Removes and returns the code; undefined when unknown or already used (single use, atomic). */
  consumeCode(codeHash: string): Promise<PendingCode | undefined>;
  createSession(sessionHash: string, session: LoginSession): Promise<void>;
  /** The live session; undefined when unknown, ended or expired. */
  findSession(sessionHash: string, now: Date): Promise<LoginSession | undefined>;
  /** Ends one session; false when there was no live one. */
  endSession(sessionHash: string, now: Date): Promise<boolean>;
}

/** What the admin CLI needs: every session of a principal, through every provider entry. */
export interface LoginSessionAdmin {
  /** Ends every session of the principal; answers how many were live. */
  endPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number>;
  countPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number>;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function newCode(): string {
  return randomBytes(32).toString('base64url');
}

export function newSessionHandle(): string {
  return `tvms_${randomBytes(32).toString('base64url')}`;
}

export function codeKey(codeHash: string) {
  return { pk: `LOGINCODE#${codeHash}`, sk: 'LOGINCODE' };
}

export function sessionKey(sessionHash: string) {
  return { pk: `LOGINSESSION#${sessionHash}`, sk: 'LOGINSESSION' };
}

/** The principal's index partition: the audit records' subject hash, under its own prefix. */
export function principalSessionsPartition(issuer: string, subject: string): string {
  return `LOGINSESSIONS#${subjectHash(issuer, subject)}`;
}

/** The stored principal as an Identity again: claims back into a frozen null-prototype record. */
export function storedIdentity(stored: StoredPrincipal): Identity {
  return {
    provider: stored.provider,
    issuer: stored.issuer,
    subject: stored.subject,
    ...(stored.nameIdFormat === undefined ? {} : { nameIdFormat: stored.nameIdFormat }),
    claims: toClaims(
      typeof stored.claims === 'object' && stored.claims !== null ? stored.claims : {},
    ),
  };
}

/** The principal as stored: plain data (claims copied out of their null-prototype record). */
export function principalOf(identity: Identity): StoredPrincipal {
  return {
    provider: identity.provider,
    issuer: identity.issuer,
    subject: identity.subject,
    ...(identity.nameIdFormat === undefined ? {} : { nameIdFormat: identity.nameIdFormat }),
    claims: { ...identity.claims },
  };
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

function live(expiresAt: unknown, now: Date): boolean {
  return typeof expiresAt === 'number' && expiresAt * 1000 > now.getTime();
}

export class DynamoLoginStore implements LoginStore, LoginSessionAdmin {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async saveCode(codeHash: string, code: PendingCode): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...codeKey(codeHash), ...code },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeCode(codeHash: string): Promise<PendingCode | undefined> {
    try {
      // Delete-and-return is atomic: of two exchanges racing for one code only one gets it.
      const { Attributes } = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: codeKey(codeHash),
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const { pk: _pk, sk: _sk, ...code } = Attributes;
      return code as PendingCode;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async createSession(sessionHash: string, session: LoginSession): Promise<void> {
    // The index item first: a session that exists is always one deny and revoke can find.
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          pk: principalSessionsPartition(session.issuer, session.subject),
          sk: sessionHash,
          provider: session.provider,
          createdAt: session.createdAt,
          expiresAt: session.expiresAt,
        },
      }),
    );
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...sessionKey(sessionHash), ...session },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async findSession(sessionHash: string, now: Date): Promise<LoginSession | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: sessionKey(sessionHash),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined || !live(Item.expiresAt, now)) return undefined;
    const { pk: _pk, sk: _sk, ...session } = Item;
    return session as LoginSession;
  }

  async endSession(sessionHash: string, now: Date): Promise<boolean> {
    const { Attributes } = await this.#client.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: sessionKey(sessionHash),
        ReturnValues: 'ALL_OLD',
      }),
    );
    if (Attributes === undefined) return false;
    const session = Attributes as unknown as LoginSession;
    await this.#client.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: { pk: principalSessionsPartition(session.issuer, session.subject), sk: sessionHash },
      }),
    );
    return live(session.expiresAt, now);
  }

  async #indexItems(issuer: string, subject: string): Promise<Record<string, unknown>[]> {
    return queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': principalSessionsPartition(issuer, subject) },
      ConsistentRead: true,
    });
  }

  async countPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number> {
    const items = await this.#indexItems(issuer, subject);
    return items.filter((item) => live(item.expiresAt, now)).length;
  }

  async endPrincipalSessions(issuer: string, subject: string, now: Date): Promise<number> {
    const items = await this.#indexItems(issuer, subject);
    let ended = 0;
    for (const item of items) {
      const sessionHash = String(item.sk);
      const { Attributes } = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: sessionKey(sessionHash),
          ReturnValues: 'ALL_OLD',
        }),
      );
      await this.#client.send(
        new DeleteCommand({ TableName: this.#table, Key: { pk: item.pk, sk: item.sk } }),
      );
      if (Attributes !== undefined && live(Attributes.expiresAt, now)) ended += 1;
    }
    return ended;
  }
}
