/**
 * The SAML login's server-side state (DESIGN.md §6): AuthnRequest ids for the InResponseTo
 * check, assertion ids against replay, and role-chooser selections. Every item is single use
 * (a conditional write or delete) and carries a TTL; TTL deletion is lazy, so every read also
 * compares the expiry with the clock.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Claims } from '#shared/auth/identity.ts';
import type { DeviceLogin } from '#shared/login/device.ts';
import type { CliStart } from '#shared/login/loopback.ts';
import type { AssertedRole } from './provider.ts';

/** `cli`: a terminal login (`tvm-login`), answered with a one-time code on its loopback. */
export type LoginTarget = 'console' | 'credentials' | 'cli' | 'portal' | 'device';

export interface PendingLogin {
  provider: string;
  target: LoginTarget;
  /** SHA-256 of the opaque RelayState handed to the IdP with this request. */
  relayStateHash: string;
  /**
   * SHA-256 of the login cookie of the browser that started this login: the response is only
   * accepted from that browser (login CSRF: an attacker's own response posted from a victim's).
   */
  browserHash: string;
  /** Target `cli`: where the code goes, the CLI's state, and its PKCE challenge. */
  cli?: CliStart;
  /** Target `device`: the device a typed user code named (RFC 8628), and that code for the page. */
  device?: DeviceLogin;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface PendingSelection {
  provider: string;
  /** The principal's issuer (the IdP entity id) when the choice was offered. */
  issuer: string;
  subject: string;
  nameIdFormat?: string;
  claims: Claims;
  target: LoginTarget;
  /** Mapping ids the user may choose from (all matched the verified assertion). */
  mappingIds: string[];
  /** SHA-256 of the browser-binding cookie value set with the chooser page. */
  browserHash: string;
  /** The assertion this choice was offered for, for the audit trail. */
  assertionId: string;
  /**
   * Native mode: SHA-256 of the SAMLResponse. The chooser form carries the response itself back
   * (the browser already holds it), so no assertion is ever stored (DESIGN.md §7.4).
   */
  samlResponseHash?: string;
  /** Native mode: the roles the assertion listed (ARNs, not secrets). */
  assertedRoles?: AssertedRole[];
  /** Native mode: the session name and SourceIdentity the assertion sets, for the audit record. */
  idpNamedSession?: { roleSessionName?: string; sourceIdentity?: string };
  expiresAt: number;
}

export interface SamlStateStore {
  saveLogin(requestId: string, login: PendingLogin): Promise<void>;
  /** Removes and returns the login; undefined when unknown, used, expired or another provider's. */
  consumeLogin(requestId: string, provider: string, now: Date): Promise<PendingLogin | undefined>;
  /**
   * False when this issuer's assertion id was already presented (a replay). Keyed on the IdP, not
   * the provider entry: two entries sharing an entity id must not each accept the same assertion.
   */
  claimAssertion(issuer: string, assertionId: string, expiresAt: number): Promise<boolean>;
  saveSelection(tokenHash: string, selection: PendingSelection): Promise<void>;
  consumeSelection(tokenHash: string, now: Date): Promise<PendingSelection | undefined>;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

export class DynamoSamlStateStore implements SamlStateStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async saveLogin(requestId: string, login: PendingLogin): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { pk: `AUTHNREQ#${requestId}`, sk: 'AUTHNREQ', ...login },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeLogin(
    requestId: string,
    provider: string,
    now: Date,
  ): Promise<PendingLogin | undefined> {
    try {
      // Delete-and-return is atomic: of two concurrent responses only one gets the item.
      const { Attributes } = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: `AUTHNREQ#${requestId}`, sk: 'AUTHNREQ' },
          ConditionExpression: 'attribute_exists(pk) AND #provider = :provider',
          ExpressionAttributeNames: { '#provider': 'provider' },
          ExpressionAttributeValues: { ':provider': provider },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const login = Attributes as unknown as PendingLogin;
      return login.expiresAt * 1000 > now.getTime() ? login : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async claimAssertion(issuer: string, assertionId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          // Hashed: an entity id may hold `#` and be up to 2,048 characters.
          Item: { pk: `REPLAY#${sha256Hex(issuer)}#${assertionId}`, sk: 'REPLAY', expiresAt },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async saveSelection(tokenHash: string, selection: PendingSelection): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { pk: `SELECT#${tokenHash}`, sk: 'SELECT', ...selection },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeSelection(tokenHash: string, now: Date): Promise<PendingSelection | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: `SELECT#${tokenHash}`, sk: 'SELECT' },
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const { pk: _pk, sk: _sk, ...selection } = Attributes;
      const pending = selection as PendingSelection;
      return pending.expiresAt * 1000 > now.getTime() ? pending : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}
