/**
 * The access portal's action tokens (one table, beside the login sessions):
 *   PORTALPAGE#<sha256(page id)> / PORTALPAGE   one rendered page: the session it was shown to,
 *                                               and a map sha256(action token) → what it may do
 * One write per page shown, one conditional update per action: an action token is removed from
 * its page as it is used, so it works once even when two posts race.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

export interface PortalPage {
  /** SHA-256 of the login session handle the page was shown to. */
  sessionHash: string;
  /** sha256(action token) → a mapping id, or SIGN_OUT. */
  actions: Record<string, string>;
  /** Epoch seconds: the session's own end (the tokens expire with it). */
  expiresAt: number;
}

/** What an action token was minted for; not a mapping id (ids never start with "!"). */
export const SIGN_OUT = '!sign-out';

export interface PortalAction {
  sessionHash: string;
  /** A mapping id, or SIGN_OUT. */
  target: string;
}

export interface PortalStore {
  savePage(pageHash: string, page: PortalPage): Promise<void>;
  /** Removes the token from its page and says what it was for; undefined when unknown or used. */
  consumeAction(pageHash: string, tokenHash: string, now: Date): Promise<PortalAction | undefined>;
}

export function pageKey(pageHash: string) {
  return { pk: `PORTALPAGE#${pageHash}`, sk: 'PORTALPAGE' };
}

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

export class DynamoPortalStore implements PortalStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(client: DynamoDBDocumentClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async savePage(pageHash: string, page: PortalPage): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...pageKey(pageHash), ...page },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async consumeAction(
    pageHash: string,
    tokenHash: string,
    now: Date,
  ): Promise<PortalAction | undefined> {
    try {
      // Remove-if-present is atomic: of two posts racing with one token only one finds it.
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: pageKey(pageHash),
          UpdateExpression: 'REMOVE #actions.#token',
          ConditionExpression: 'attribute_exists(#actions.#token)',
          ExpressionAttributeNames: { '#actions': 'actions', '#token': tokenHash },
          ReturnValues: 'ALL_OLD',
        }),
      );
      if (Attributes === undefined) return undefined;
      const page = Attributes as unknown as PortalPage;
      // TTL deletion is lazy: the clock decides.
      if (typeof page.expiresAt !== 'number' || page.expiresAt * 1000 <= now.getTime()) {
        return undefined;
      }
      const target = page.actions?.[tokenHash];
      return typeof target === 'string' ? { sessionHash: page.sessionHash, target } : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }
}
