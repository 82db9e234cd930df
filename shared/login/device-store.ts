/**
 * The device flow's state (RFC 8628), in the login table beside codes and sessions:
 *   DEVICE#<sha256(device_code)>     / DEVICE         the grant: pending ▸ approved|denied ▸ used
 *   USERCODE#<sha256(user code)>     / USERCODE       the user code's lookup, to the device hash
 *   DEVICEREF#<sha256(ref)>          / DEVICEREF      a typed code on its way through the SAML login
 *   DEVICECONFIRM#<sha256(token)>    / DEVICECONFIRM  the confirm page's single-use form token
 * Only hashes are keys; no item holds a device code, a session handle or a confirm token. Every
 * transition is one conditional write, so two tabs or two pollers racing change it once.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoredPrincipal } from './store.ts';

export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'used';

export interface DeviceGrant {
  provider: string;
  status: DeviceStatus;
  createdAt: string;
  /** Epoch seconds: createdAt + expires_in. */
  expiresAt: number;
  /** Seconds between polls; grows by 5 at each slow_down (RFC 8628 §3.5). */
  interval: number;
  /** Epoch ms of the last poll the token route counted. */
  lastPollAt?: number;
  /** The address that started it: the confirm page shows it (not a secret; the audit has it too). */
  requestedFrom?: string;
  /** Set by Approve: who the session will be for. */
  principal?: StoredPrincipal;
}

/** A user code typed on the verification page, carried through the SAML login by an opaque ref. */
export interface DeviceRef {
  deviceHash: string;
  provider: string;
  /** XXXX-XXXX: shown again on the confirm page, so the user can compare it with the device. */
  userCode: string;
  expiresAt: number;
}

/** What the confirm page's form token stands for: the signed-in user and the device. */
export interface DeviceConfirm extends StoredPrincipal {
  deviceHash: string;
  userCode: string;
  /** SHA-256 of the cookie set with the confirm page: only that browser may answer it. */
  browserHash: string;
  expiresAt: number;
}

export interface DeviceStore {
  /** False when the user code is taken (the caller draws another); the device code is new. */
  createDevice(deviceHash: string, userCodeHash: string, grant: DeviceGrant): Promise<boolean>;
  /** The pending device a typed user code names, while it lives. */
  findByUserCode(
    userCodeHash: string,
    now: Date,
  ): Promise<{ deviceHash: string; grant: DeviceGrant } | undefined>;
  /** The grant, expired or not (the token route answers expired_token). */
  getDevice(deviceHash: string): Promise<DeviceGrant | undefined>;
  /** Counts a poll if no other poll was counted since `seen`; sets the interval. */
  recordPoll(
    deviceHash: string,
    seen: number | undefined,
    at: number,
    interval: number,
  ): Promise<boolean>;
  /** pending ▸ approved (with the principal) or denied, while it lives; false otherwise. */
  decide(
    deviceHash: string,
    decision: { status: 'approved'; principal: StoredPrincipal } | { status: 'denied' },
    now: Date,
  ): Promise<boolean>;
  /** approved ▸ used, once: the grant when this call made the change. */
  redeem(deviceHash: string): Promise<DeviceGrant | undefined>;
  saveRef(refHash: string, ref: DeviceRef): Promise<void>;
  consumeRef(refHash: string, now: Date): Promise<DeviceRef | undefined>;
  saveConfirm(tokenHash: string, confirm: DeviceConfirm): Promise<void>;
  consumeConfirm(tokenHash: string, now: Date): Promise<DeviceConfirm | undefined>;
}

const key = (kind: string, hash: string) => ({ pk: `${kind}#${hash}`, sk: kind });

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

export class DynamoDeviceStore implements DeviceStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async createDevice(deviceHash: string, userCodeHash: string, grant: DeviceGrant) {
    // The user code first: an expired holder of the same code is replaced, a live one is not.
    const claimed = await conditional(() =>
      this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...key('USERCODE', userCodeHash), deviceHash, expiresAt: grant.expiresAt },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': Math.floor(Date.parse(grant.createdAt) / 1000) },
        }),
      ),
    );
    if (!claimed) return false;
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...key('DEVICE', deviceHash), ...grant },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  }

  async findByUserCode(userCodeHash: string, now: Date) {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: key('USERCODE', userCodeHash),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined || typeof Item.deviceHash !== 'string') return undefined;
    const grant = await this.getDevice(Item.deviceHash);
    if (grant === undefined || grant.status !== 'pending') return undefined;
    if (grant.expiresAt * 1000 <= now.getTime()) return undefined;
    return { deviceHash: Item.deviceHash, grant };
  }

  async getDevice(deviceHash: string) {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: key('DEVICE', deviceHash),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, ...grant } = Item;
    return grant as DeviceGrant;
  }

  async recordPoll(deviceHash: string, seen: number | undefined, at: number, interval: number) {
    return conditional(() =>
      this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key('DEVICE', deviceHash),
          UpdateExpression: 'SET lastPollAt = :at, #interval = :interval',
          ConditionExpression:
            seen === undefined
              ? 'attribute_exists(pk) AND attribute_not_exists(lastPollAt)'
              : 'attribute_exists(pk) AND lastPollAt = :seen',
          ExpressionAttributeNames: { '#interval': 'interval' },
          ExpressionAttributeValues: {
            ':at': at,
            ':interval': interval,
            ...(seen === undefined ? {} : { ':seen': seen }),
          },
        }),
      ),
    );
  }

  async decide(
    deviceHash: string,
    decision: { status: 'approved'; principal: StoredPrincipal } | { status: 'denied' },
    now: Date,
  ) {
    return conditional(() =>
      this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key('DEVICE', deviceHash),
          UpdateExpression:
            decision.status === 'approved'
              ? 'SET #status = :status, principal = :principal'
              : 'SET #status = :status',
          ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND expiresAt > :now',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': decision.status,
            ':pending': 'pending',
            ':now': Math.floor(now.getTime() / 1000),
            ...(decision.status === 'approved' ? { ':principal': decision.principal } : {}),
          },
        }),
      ),
    );
  }

  async redeem(deviceHash: string) {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key('DEVICE', deviceHash),
          // The principal goes with the change: a used grant keeps only that it was used.
          UpdateExpression: 'SET #status = :used REMOVE principal',
          ConditionExpression: 'attribute_exists(pk) AND #status = :approved',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':used': 'used', ':approved': 'approved' },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const { pk: _pk, sk: _sk, ...grant } = Attributes;
      return grant as DeviceGrant;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async saveRef(refHash: string, ref: DeviceRef) {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...key('DEVICEREF', refHash), ...ref },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeRef(refHash: string, now: Date) {
    return this.#consume<DeviceRef>(key('DEVICEREF', refHash), now);
  }

  async saveConfirm(tokenHash: string, confirm: DeviceConfirm) {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...key('DEVICECONFIRM', tokenHash), ...confirm },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeConfirm(tokenHash: string, now: Date) {
    return this.#consume<DeviceConfirm>(key('DEVICECONFIRM', tokenHash), now);
  }

  /** Delete-and-return: single use even under a race; an expired item is gone and refused. */
  async #consume<T extends { expiresAt: number }>(
    itemKey: { pk: string; sk: string },
    now: Date,
  ): Promise<T | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: itemKey,
          ConditionExpression: 'attribute_exists(pk)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const { pk: _pk, sk: _sk, ...item } = Attributes;
      const value = item as T;
      return value.expiresAt * 1000 > now.getTime() ? value : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}
