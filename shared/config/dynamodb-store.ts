import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConfigConflictError, ConfigInvalidError, ValidationError } from '#shared/errors.ts';
import { queryAll } from '#shared/store/query.ts';
import type { TvmConfig } from './schema.ts';
import {
  type ApplyOptions,
  type ApplyResult,
  type ConfigAdmin,
  type ConfigGeneration,
  type ConfigPointer,
  configHash,
  type HistoryEntry,
} from './store.ts';

/*
 * Item layout (DESIGN.md §6):
 *   CONFIG / CURRENT             the pointer: generation, hash, revision, previousGeneration
 *   CONFIG / SEQUENCE            last allocated generation number (atomic counter)
 *   CONFIG / EVENT#<revision>    one per pointer flip, written in the same transaction
 *   CONFIG#<gen> / PROVIDER#<id>, MAPPING#<priority>#<id>, POOL#<id>, and META (written last)
 * Generations are immutable once written; the pointer is the only thing that ever changes.
 */
const CONFIG_PK = 'CONFIG';
const CURRENT_SK = 'CURRENT';
const SEQUENCE_SK = 'SEQUENCE';
const META_SK = 'META';
const BATCH_SIZE = 25; // BatchWriteItem's per-call limit.
const MAX_PRIORITY_DIGITS = 7;

const generationPk = (generation: number) => `CONFIG#${generation}`;
const eventSk = (revision: number) => `EVENT#${String(revision).padStart(10, '0')}`;
// Higher priority sorts first in a plain ascending Query.
const mappingSk = (priority: number, id: string) =>
  `MAPPING#${String(10 ** MAX_PRIORITY_DIGITS - 1 - priority).padStart(MAX_PRIORITY_DIGITS, '0')}#${id}`;

interface GenerationItem {
  pk: string;
  sk: string;
  kind: 'provider' | 'mapping' | 'pool' | 'meta';
  order?: number;
  data?: unknown;
  [key: string]: unknown;
}

export class DynamoConfigStore implements ConfigAdmin {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => Date;
  readonly #parse: ((stored: unknown) => TvmConfig) | undefined;

  /**
   * `parse` re-checks each loaded generation against the schema and fills defaults added since
   * it was applied (the admin CLI passes the zod schema). The Lambda passes none: a generation
   * was validated when applied and its hash is checked on every load, and leaving zod out of
   * the function bundle saves ~450 KB and its load time at every cold start.
   */
  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    options: { now?: () => Date; parse?: (stored: unknown) => TvmConfig } = {},
  ) {
    this.#client = client;
    this.#table = tableName;
    this.#now = options.now ?? (() => new Date());
    this.#parse = options.parse;
  }

  async pointer(): Promise<ConfigPointer | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: CONFIG_PK, sk: CURRENT_SK },
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    return {
      generation: Item.generation as number,
      hash: Item.hash as string,
      revision: Item.revision as number,
      previousGeneration: (Item.previousGeneration as number | null | undefined) ?? null,
      updatedAt: Item.updatedAt as string,
      updatedBy: Item.updatedBy as string,
      action: Item.action as 'apply' | 'rollback',
    };
  }

  async current(): Promise<ConfigGeneration | undefined> {
    const pointer = await this.pointer();
    return pointer === undefined ? undefined : this.load(pointer.generation);
  }

  /**
   * One Query loads a whole generation (paginated only past 1 MB). Its hash is checked against
   * META (and it is re-parsed when a parser was given), so a damaged or partial generation fails
   * closed.
   */
  async load(generation: number): Promise<ConfigGeneration> {
    const items = (await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': generationPk(generation) },
      ConsistentRead: true,
    })) as GenerationItem[];

    const meta = items.find((item) => item.sk === META_SK);
    const broken = (message: string) =>
      new ConfigInvalidError([{ path: `generation ${generation}`, message }]);
    if (meta === undefined) throw broken('is incomplete: it has no META item');
    const providers = items.filter((item) => item.kind === 'provider');
    const mappings = items.filter((item) => item.kind === 'mapping');
    const pools = items.filter((item) => item.kind === 'pool');
    const count = providers.length + mappings.length + pools.length;
    if (count !== meta.itemCount) {
      throw broken(`has ${count} items, META says ${meta.itemCount}`);
    }
    const byOrder = (a: GenerationItem, b: GenerationItem) => (a.order ?? 0) - (b.order ?? 0);
    const stored = {
      version: meta.version,
      providers: providers.sort(byOrder).map((item) => item.data),
      mappings: mappings.sort(byOrder).map((item) => item.data),
      identityPools: pools.sort(byOrder).map((item) => item.data),
      // The account aliases are small: they travel on META (absent before they existed).
      accounts: meta.accounts ?? {},
    };
    // The hash covers the bytes as applied, before parsing: a newer schema that fills in new
    // defaults must not make every older generation look tampered with.
    const hash = configHash(stored as TvmConfig);
    if (hash !== meta.hash) throw broken(`hash ${hash} does not match META ${meta.hash as string}`);
    let config: TvmConfig;
    try {
      config = this.#parse === undefined ? (stored as TvmConfig) : this.#parse(stored);
    } catch (error) {
      throw broken(`does not match the schema: ${(error as Error).message}`);
    }
    return {
      generation,
      hash,
      createdAt: meta.createdAt as string,
      createdBy: meta.createdBy as string,
      config,
    };
  }

  /**
   * Writes the config as a new generation under its own keys, then flips CURRENT with a
   * conditional transaction. Until the flip nothing a reader sees has changed; if two applies
   * race, the flip of the second fails on the revision condition and it changes nothing.
   */
  async apply(config: TvmConfig, options: ApplyOptions): Promise<ApplyResult> {
    const hash = configHash(config);
    const before = await this.pointer();
    if (before?.hash === hash) return { status: 'unchanged', pointer: before };

    const generation = await this.#allocateGeneration();
    await this.#writeGeneration(generation, config, hash, options.appliedBy);
    await options.beforeFlip?.();
    const pointer = await this.#flip({
      generation,
      hash,
      expected: before,
      by: options.appliedBy,
      action: 'apply',
    });
    return { status: 'applied', pointer, previous: before ?? null };
  }

  /**
   * Points CURRENT back at an earlier generation (by default the one before the current one,
   * like `kubectl rollout undo`: rolling back twice returns to where you started).
   */
  async rollback(options: { appliedBy: string; toGeneration?: number }): Promise<ConfigPointer> {
    const before = await this.pointer();
    if (before === undefined) {
      throw new ValidationError('nothing to roll back: no config has been applied');
    }
    const target = options.toGeneration ?? before.previousGeneration;
    if (target === null) {
      throw new ValidationError(
        `nothing to roll back to: generation ${before.generation} is the first one applied`,
      );
    }
    if (target === before.generation) {
      throw new ValidationError(`generation ${target} is already current`);
    }
    // Loading checks the target is complete and intact before anything points at it.
    const loaded = await this.load(target);
    return this.#flip({
      generation: target,
      hash: loaded.hash,
      expected: before,
      by: options.appliedBy,
      action: 'rollback',
    });
  }

  async history(limit = 20): Promise<HistoryEntry[]> {
    const { Items = [] } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
        ExpressionAttributeValues: { ':pk': CONFIG_PK, ':event': 'EVENT#' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return Items.map((item) => ({
      revision: item.revision as number,
      action: item.action as 'apply' | 'rollback',
      generation: item.generation as number,
      fromGeneration: (item.fromGeneration as number | null | undefined) ?? null,
      hash: item.hash as string,
      at: item.at as string,
      by: item.by as string,
    }));
  }

  async #allocateGeneration(): Promise<number> {
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: CONFIG_PK, sk: SEQUENCE_SK },
        UpdateExpression: 'ADD lastGeneration :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Attributes?.lastGeneration as number;
  }

  async #writeGeneration(
    generation: number,
    config: TvmConfig,
    hash: string,
    createdBy: string,
  ): Promise<void> {
    const pk = generationPk(generation);
    const items: GenerationItem[] = [
      ...config.providers.map((provider, order) => ({
        pk,
        sk: `PROVIDER#${provider.id}`,
        kind: 'provider' as const,
        order,
        data: provider,
      })),
      ...config.mappings.map((mapping, order) => ({
        pk,
        sk: mappingSk(mapping.priority, mapping.id),
        kind: 'mapping' as const,
        order,
        data: mapping,
      })),
      ...(config.identityPools ?? []).map((pool, order) => ({
        pk,
        sk: `POOL#${pool.id}`,
        kind: 'pool' as const,
        order,
        data: pool,
      })),
    ];
    for (let start = 0; start < items.length; start += BATCH_SIZE) {
      await this.#batchPut(items.slice(start, start + BATCH_SIZE));
    }
    // META last: a generation without it is incomplete and can never be loaded or pointed at.
    await this.#batchPut([
      {
        pk,
        sk: META_SK,
        kind: 'meta',
        version: config.version,
        hash,
        itemCount: items.length,
        ...(Object.keys(config.accounts ?? {}).length === 0 ? {} : { accounts: config.accounts }),
        createdAt: this.#now().toISOString(),
        createdBy,
      },
    ]);
  }

  async #batchPut(items: GenerationItem[]): Promise<void> {
    let pending = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > 0) {
        if (attempt > 8) throw new Error('DynamoDB kept returning unprocessed items');
        await new Promise((r) => setTimeout(r, Math.random() * 50 * 2 ** attempt));
      }
      const { UnprocessedItems } = await this.#client.send(
        new BatchWriteCommand({ RequestItems: { [this.#table]: pending } }),
      );
      pending = (UnprocessedItems?.[this.#table] ?? []) as typeof pending;
    }
  }

  async #flip(flip: {
    generation: number;
    hash: string;
    expected: ConfigPointer | undefined;
    by: string;
    action: 'apply' | 'rollback';
  }): Promise<ConfigPointer> {
    const revision = (flip.expected?.revision ?? 0) + 1;
    const pointer: ConfigPointer = {
      generation: flip.generation,
      hash: flip.hash,
      revision,
      previousGeneration: flip.expected?.generation ?? null,
      updatedAt: this.#now().toISOString(),
      updatedBy: flip.by,
      action: flip.action,
    };
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: { pk: CONFIG_PK, sk: CURRENT_SK, ...pointer },
                ConditionExpression:
                  flip.expected === undefined
                    ? 'attribute_not_exists(pk)'
                    : '#revision = :expectedRevision',
                ...(flip.expected === undefined
                  ? {}
                  : {
                      ExpressionAttributeNames: { '#revision': 'revision' },
                      ExpressionAttributeValues: { ':expectedRevision': flip.expected.revision },
                    }),
              },
            },
            {
              ConditionCheck: {
                TableName: this.#table,
                Key: { pk: generationPk(flip.generation), sk: META_SK },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.#table,
                Item: {
                  pk: CONFIG_PK,
                  sk: eventSk(revision),
                  revision,
                  action: flip.action,
                  generation: flip.generation,
                  fromGeneration: flip.expected?.generation ?? null,
                  hash: flip.hash,
                  at: pointer.updatedAt,
                  by: flip.by,
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (
        error instanceof TransactionCanceledException ||
        error instanceof ConditionalCheckFailedException
      ) {
        const now = await this.pointer();
        const who =
          now === undefined
            ? ''
            : ` (now generation ${now.generation}, revision ${now.revision}, by ${now.updatedBy} at ${now.updatedAt})`;
        throw new ConfigConflictError(
          `conflict: the config changed while this ${flip.action} was running${who}; this ${flip.action} changed nothing. Review with "config diff" and run it again.`,
        );
      }
      throw error;
    }
    return pointer;
  }
}
