/**
 * The credentials route wired like production (shared/runtime.ts): the real DynamoDB adapters
 * (DynamoConfigStore behind CachedConfigStore, DynamoDenyList, DynamoRateLimiter,
 * DynamoAuditSink) over one DynamoDBDocumentClient, the real OIDC authenticator against a real
 * issuer, and STS, all behind the full middy stack. Only the network is fake: the document
 * client and the STS client are answered by aws-sdk-client-mock, and the JWKS fetch goes through
 * a seam that can fail. Each call kind can be made to fail with a throttle, a timeout, a 5xx or
 * a connection reset, so that tests can prove every failure is fail-closed.
 *
 * Why the document client and not `mockClient(DynamoDBClient)`: DynamoDBDocumentClient is its
 * own smithy Client that shares the wrapped client's config and middleware stack but never calls
 * its `send()`, so a stub on `DynamoDBClient.prototype.send` never sees a document-client call.
 * The mock therefore answers at the document-client level, with items as the adapters receive
 * them (unmarshalled). It also bypasses the SDK's own retries: an injected fault is what the
 * adapter sees after the SDK gave up.
 */
import {
  ConditionalCheckFailedException,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  GetCommand,
  type GetCommandInput,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { logger } from '#functions/http/observability.ts';
import type { AuditRecord } from '#shared/audit/audit.ts';
import { DynamoAuditSink } from '#shared/audit/audit.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { createDocumentClient } from '#shared/aws.ts';
import { DynamoConfigStore } from '#shared/config/dynamodb-store.ts';
import type { TvmConfig } from '#shared/config/schema.ts';
import { CachedConfigStore } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import type { IssueDeps } from '#shared/credentials/issue.ts';
import { DynamoDenyList } from '#shared/guard/deny-list.ts';
import { createAccessGuard } from '#shared/guard/guard.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import { createIssueDeps } from '#shared/runtime.ts';
import { fakeContext, httpEvent } from './lambda-fakes.ts';
import { harnessConfig } from './local-config.ts';
import { startTestIssuer, type TestIssuer } from './oidc-issuer.ts';
import type { CallOptions, CallResult } from './vend-harness.ts';

/** Every network call on the vend path that can fail on its own. */
export const CALL_KINDS = [
  'config-pointer',
  'config-query',
  'deny-list',
  'rate-limit',
  'audit-put',
  'assume-role',
  'jwks',
] as const;
export type CallKind = (typeof CALL_KINDS)[number];

export const FAULT_KINDS = ['throttling', 'timeout', 'server-error', 'connection-reset'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Every fault's message carries this marker, so a test can prove that no AWS or network error
 * text reaches a response body.
 */
export const FAULT_MARKER = 'INJECTED-FAULT';

export const TABLE_NAME = 'tvm-fault-test';

/** A fixed epoch for the fake clock (2026-11-29T00:00:00Z): windows and expiry are exact. */
export const CLOCK_START_MS = Date.UTC(2026, 10, 29);

/** Access keys and secrets the fake STS vends carry these, so any leak is easy to spot. */
export const VENDED_KEY_PREFIX = 'ASIAFAULT';
export const VENDED_SECRET_PREFIX = 'fault-harness-secret-';
export const VENDED_TOKEN_PREFIX = 'fault-harness-session-';

export interface FaultOptions {
  /** How many calls fail before the fault clears itself; default: every call until cleared. */
  times?: number;
  /** 1 picks the alternative error (ThrottlingException, AbortError); default 0. */
  variant?: 0 | 1;
}

/** What a client sees when one call kind fails and nothing else is wrong with the request. */
export interface FaultOutcome {
  status: number;
  /** The audit reason; undefined when no audit record can exist (the audit write failed). */
  reason: string | undefined;
  retryAfter: boolean;
  /** Why the status is not the 503 that DESIGN.md §4 asks of an upstream failure. */
  gap?: string;
}

const STS_REASON: Readonly<Record<FaultKind, string>> = {
  throttling: 'sts_throttled',
  timeout: 'sts_timeout',
  'server-error': 'sts_unavailable',
  'connection-reset': 'sts_unavailable',
};

/** The deny list or the rate counters cannot be read: the guard fails closed with a 503. */
const GUARD_STORE_FAILURE: FaultOutcome = {
  status: 503,
  reason: 'guard_unavailable',
  retryAfter: true,
};

/** The outcome of a valid request whose `call` fails with `fault` on every attempt. */
export function faultOutcome(call: CallKind, fault: FaultKind): FaultOutcome {
  switch (call) {
    case 'config-pointer':
    case 'config-query':
      return { status: 503, reason: 'config_unavailable', retryAfter: true };
    case 'deny-list':
    case 'rate-limit':
      return GUARD_STORE_FAILURE;
    case 'audit-put':
      // The credentials were vended but are withheld: no record, no credentials.
      return { status: 503, reason: undefined, retryAfter: true };
    case 'assume-role':
      return { status: 503, reason: STS_REASON[fault], retryAfter: true };
    case 'jwks':
      return { status: 503, reason: 'jwks_unavailable', retryAfter: true };
  }
}

function connectionReset(): Error {
  return Object.assign(new Error(`${FAULT_MARKER}: read ECONNRESET`), {
    code: 'ECONNRESET',
    errno: -104,
    syscall: 'read',
  });
}

function timeoutError(variant: 0 | 1): Error {
  // What the SDK's request handler throws on its requestTimeout, or on an aborted signal.
  const error = new Error(
    variant === 0
      ? `${FAULT_MARKER}: Connection timed out after 2000 ms`
      : `${FAULT_MARKER}: Request aborted`,
  );
  error.name = variant === 0 ? 'TimeoutError' : 'AbortError';
  return error;
}

/** The error a DynamoDB call rejects with, as the SDK would raise it. */
export function dynamoFault(fault: FaultKind, variant: 0 | 1 = 0): Error {
  const $metadata = { httpStatusCode: 400, requestId: 'FAULTREQUEST', attempts: 3 };
  switch (fault) {
    case 'throttling':
      return variant === 0
        ? new ProvisionedThroughputExceededException({
            message: `${FAULT_MARKER}: The level of configured provisioned throughput for the table was exceeded.`,
            $metadata,
          })
        : new ThrottlingException({
            message: `${FAULT_MARKER}: Throughput exceeds the current capacity of your table.`,
            $metadata,
          });
    case 'timeout':
      return timeoutError(variant);
    case 'server-error':
      return new InternalServerError({
        message: `${FAULT_MARKER}: Internal server error`,
        $metadata: { ...$metadata, httpStatusCode: 500 },
      });
    case 'connection-reset':
      return connectionReset();
  }
}

/** The error an AssumeRole call rejects with, as the SDK would raise it. */
export function stsFault(fault: FaultKind, variant: 0 | 1 = 0): Error {
  switch (fault) {
    case 'throttling':
      return new STSServiceException({
        name: 'Throttling',
        $fault: 'client',
        message: `${FAULT_MARKER}: Rate exceeded`,
        $metadata: { httpStatusCode: 400, requestId: 'FAULTREQUEST' },
      });
    case 'timeout':
      // vendCredentials' AbortSignal.timeout surfaces as AbortError first; TimeoutError second.
      return timeoutError(variant === 0 ? 1 : 0);
    case 'server-error':
      return new STSServiceException({
        name: 'InternalServerError',
        $fault: 'server',
        message: `${FAULT_MARKER}: Internal server error`,
        $metadata: { httpStatusCode: 500, requestId: 'FAULTREQUEST' },
      });
    case 'connection-reset':
      return connectionReset();
  }
}

/** The route-test config, with the JWKS and rate-limit settings the fault tests need. */
export function faultHarnessConfig(
  issuer: Pick<TestIssuer, 'issuer' | 'jwksUri'>,
  rateLimits: Record<string, unknown> = {
    perPrincipal: { limit: 10, windowSeconds: 60 },
    perSourceIp: { limit: 1_000, windowSeconds: 60 },
  },
): unknown {
  return harnessConfig(issuer, {
    jwks: { cooldownSeconds: 30, timeoutMs: 2_000, staleMaxAgeSeconds: 3_600 },
    rateLimits,
  });
}

type Item = Record<string, unknown>;

/** An audit item as DynamoAuditSink put it: the record plus its keys and TTL. */
export type AuditItem = AuditRecord & { pk: string; sk: string; expiresAt: number };

/**
 * The one table, in memory, answering exactly the item shapes the adapters write (DESIGN.md §6)
 * and refusing any other, so that an adapter change cannot silently fall through to a default.
 */
class FakeTable {
  readonly items = new Map<string, Item>();
  /** Audit puts that succeeded, in order. Tests drain it with `takeAudits()`. */
  audits: AuditItem[] = [];

  static key(pk: unknown, sk: unknown): string {
    return `${String(pk)}\u0000${String(sk)}`;
  }

  get(pk: unknown, sk: unknown): Item | undefined {
    return this.items.get(FakeTable.key(pk, sk));
  }

  put(item: Item): void {
    this.items.set(FakeTable.key(item.pk, item.sk), item);
  }

  /** DynamoDB TTL: items whose `expiresAt` (epoch seconds) has passed are removed. */
  sweep(nowSeconds: number): void {
    for (const [key, item] of this.items) {
      if (typeof item.expiresAt === 'number' && item.expiresAt <= nowSeconds) {
        this.items.delete(key);
      }
    }
  }
}

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
  });
}

function unsupported(what: string, input: unknown): Error {
  return new Error(`fault-harness table does not model ${what}: ${JSON.stringify(input)}`);
}

export interface FaultCallOptions extends CallOptions {
  sourceIp?: string;
  requestId?: string;
}

export interface FaultCallResult extends CallResult {
  requestId: string;
}

export interface FaultHarness {
  issuer: TestIssuer;
  config: TvmConfig;
  clock: { now(): number; advance(ms: number): void };
  /** Mints a valid ID token for the harness provider at the fake clock (no default claims). */
  mint(claims?: Record<string, unknown>, options?: { expiresIn?: number }): Promise<string>;
  call(options: FaultCallOptions): Promise<FaultCallResult>;
  /** Makes `call` fail with `fault` (every time, or `times` times) until cleared. */
  inject(call: CallKind, fault: FaultKind, options?: FaultOptions): void;
  clearFaults(): void;
  /** Calls of each kind since the last `resetCounters()`, failed ones included. */
  calls(kind: CallKind): number;
  /** Calls of each kind that an injected fault failed, since the last `resetCounters()`. */
  faultHits(kind?: CallKind): number;
  resetCounters(): void;
  /** Audit items written since the last drain; empties the list. */
  takeAudits(): AuditItem[];
  /** Successful AssumeRole answers since the harness started. */
  vendedCount(): number;
  /** A new Lambda container: empty config cache and empty JWKS cache. */
  coldStart(): void;
  deny(subject: string, options?: { until?: string }): Promise<void>;
  /** Drops rate counters, deny entries and audits; clears faults; cold-starts. */
  reset(): void;
  /** DynamoDB TTL at the fake clock. */
  sweepExpired(): void;
  /** Forgets the mocks' call history (sinon keeps every call's arguments). */
  resetMockHistory(): void;
  stop(): Promise<void>;
}

export interface FaultHarnessOptions {
  config?: (issuer: TestIssuer) => unknown;
  /** The config cache TTL, as TVM_CONFIG_CACHE_TTL_SECONDS sets it. Default 60 s. */
  configTtlMs?: number;
}

export async function startFaultHarness(options: FaultHarnessOptions = {}): Promise<FaultHarness> {
  let nowMs = CLOCK_START_MS;
  const clock = {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
  const issuer = await startTestIssuer({ now: clock.now });
  const validated = validateConfig((options.config ?? faultHarnessConfig)(issuer), {
    stage: 'local',
  });
  if (!validated.ok) {
    throw new Error(`fault harness config invalid: ${JSON.stringify(validated.problems)}`);
  }
  const config = validated.config;

  // Faults and counters.
  const faults = new Map<CallKind, { fault: FaultKind; remaining: number; variant: 0 | 1 }>();
  const callCounts = new Map<CallKind, number>();
  const hitCounts = new Map<CallKind, number>();
  /** Counts the call; returns the fault to raise when one is injected for this kind. */
  function enter(kind: CallKind): { fault: FaultKind; variant: 0 | 1 } | undefined {
    callCounts.set(kind, (callCounts.get(kind) ?? 0) + 1);
    const injected = faults.get(kind);
    if (injected === undefined || injected.remaining <= 0) return undefined;
    injected.remaining -= 1;
    hitCounts.set(kind, (hitCounts.get(kind) ?? 0) + 1);
    return injected;
  }
  function failIfInjected(kind: CallKind): void {
    const injected = enter(kind);
    if (injected !== undefined) throw dynamoFault(injected.fault, injected.variant);
  }

  // DynamoDB: one document client, as in runtime.ts, answered by the fake table.
  const table = new FakeTable();
  const documentClient = createDocumentClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const dynamo = mockClient(documentClient);
  dynamo.onAnyCommand().callsFake((input: unknown) => {
    throw unsupported('this command', input);
  });
  dynamo.on(GetCommand).callsFake((input: GetCommandInput) => {
    const { pk, sk } = input.Key ?? {};
    if (pk === 'CONFIG' && sk === 'CURRENT') failIfInjected('config-pointer');
    else if (typeof pk === 'string' && pk.startsWith('DENY#')) failIfInjected('deny-list');
    const item = table.get(pk, sk);
    return { Item: item === undefined ? undefined : structuredClone(item), $metadata: {} };
  });
  dynamo.on(QueryCommand).callsFake((input: QueryCommandInput) => {
    const pk = input.ExpressionAttributeValues?.[':pk'];
    if (input.KeyConditionExpression !== 'pk = :pk' || typeof pk !== 'string') {
      throw unsupported('this Query', input);
    }
    if (pk.startsWith('CONFIG#')) failIfInjected('config-query');
    const items = [...table.items.values()]
      .filter((item) => item.pk === pk)
      .sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1))
      .map((item) => structuredClone(item));
    return { Items: items, Count: items.length, $metadata: {} };
  });
  dynamo.on(UpdateCommand).callsFake((input: UpdateCommandInput) => {
    const { pk, sk } = input.Key ?? {};
    const values = input.ExpressionAttributeValues ?? {};
    if (
      pk === 'CONFIG' &&
      sk === 'SEQUENCE' &&
      input.UpdateExpression === 'ADD lastGeneration :one'
    ) {
      const item = table.get(pk, sk) ?? { pk, sk, lastGeneration: 0 };
      const next = {
        ...item,
        lastGeneration: Number(item.lastGeneration) + Number(values[':one']),
      };
      table.put(next);
      return { Attributes: { lastGeneration: next.lastGeneration }, $metadata: {} };
    }
    if (
      typeof pk === 'string' &&
      pk.startsWith('RATE#') &&
      input.UpdateExpression === 'ADD #count :one SET expiresAt = :expires' &&
      input.ConditionExpression === 'attribute_not_exists(#count) OR #count < :limit'
    ) {
      failIfInjected('rate-limit');
      const item = table.get(pk, sk);
      const count = item?.count;
      // The conditional write: over the limit, DynamoDB rejects it and the count stays.
      if (typeof count === 'number' && count >= Number(values[':limit'])) throw conditionFailed();
      table.put({
        pk,
        sk,
        count: (typeof count === 'number' ? count : 0) + Number(values[':one']),
        expiresAt: values[':expires'],
      });
      return { $metadata: {} };
    }
    throw unsupported('this UpdateItem', input);
  });
  dynamo.on(PutCommand).callsFake((input: PutCommandInput) => {
    const item = input.Item ?? {};
    const isAudit = typeof item.pk === 'string' && item.pk.startsWith('AUDIT#');
    if (isAudit) failIfInjected('audit-put');
    if (input.ConditionExpression === 'attribute_not_exists(pk)') {
      if (table.get(item.pk, item.sk) !== undefined) throw conditionFailed();
    } else if (input.ConditionExpression !== undefined) {
      throw unsupported('this PutItem condition', input);
    }
    const stored = structuredClone(item);
    // Audit items go to their own list: tests drain it, so a long soak keeps memory flat.
    if (isAudit) table.audits.push(stored as AuditItem);
    else table.put(stored);
    return { $metadata: {} };
  });
  dynamo.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => {
    for (const request of input.RequestItems?.[TABLE_NAME] ?? []) {
      if (request.PutRequest?.Item === undefined) throw unsupported('this BatchWrite', input);
      table.put(structuredClone(request.PutRequest.Item));
    }
    return { UnprocessedItems: {}, $metadata: {} };
  });
  dynamo.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
    const puts: Item[] = [];
    for (const action of input.TransactItems ?? []) {
      const target = action.Put?.Item ?? action.ConditionCheck?.Key ?? {};
      const existing = table.get(target.pk, target.sk);
      const condition =
        action.Put?.ConditionExpression ?? action.ConditionCheck?.ConditionExpression;
      const holds =
        condition === undefined ||
        (condition === 'attribute_not_exists(pk)' && existing === undefined) ||
        (condition === 'attribute_exists(pk)' && existing !== undefined) ||
        (condition === '#revision = :expectedRevision' &&
          existing?.revision === action.Put?.ExpressionAttributeValues?.[':expectedRevision']);
      if (!holds) {
        throw new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: { httpStatusCode: 400 },
        });
      }
      if (action.Put?.Item !== undefined) puts.push(structuredClone(action.Put.Item));
    }
    for (const item of puts) table.put(item);
    return { $metadata: {} };
  });

  // The config generation, written by the real apply (as `tvm config apply` would).
  await new DynamoConfigStore(documentClient, TABLE_NAME, {
    now: () => new Date(clock.now()),
  }).apply(config, { appliedBy: 'fault-harness' });

  // STS: unique credentials per call, so a leak is traceable to the call that vended it.
  const sts = new STSClient({ region: 'eu-west-1', maxAttempts: 1 });
  const stsMock = mockClient(sts);
  let vended = 0;
  stsMock.on(AssumeRoleCommand).callsFake(() => {
    const injected = enter('assume-role');
    if (injected !== undefined) throw stsFault(injected.fault, injected.variant);
    vended += 1;
    const serial = String(vended).padStart(8, '0');
    return {
      Credentials: {
        AccessKeyId: `${VENDED_KEY_PREFIX}${serial}`,
        SecretAccessKey: `${VENDED_SECRET_PREFIX}${serial}`,
        SessionToken: `${VENDED_TOKEN_PREFIX}${serial}`,
        Expiration: new Date(clock.now() + 3_600_000),
      },
      AssumedRoleUser: {
        Arn: 'arn:aws:sts::123456789012:assumed-role/reader/session',
        AssumedRoleId: 'AROAFAULT:session',
      },
      $metadata: {},
    };
  });

  /**
   * The JWKS fetch seam. Throttling and 500 are answered here (the test issuer has no such
   * outage); a reset is the issuer dropping the connection for real. A timeout rejects at once
   * with the DOMException AbortSignal.timeout raises: the real wait is covered in jwks.test.ts,
   * and waiting here would cost seconds per fault in the soak.
   */
  const jwksFetch: typeof fetch = async (url, init) => {
    const injected = enter('jwks');
    if (injected === undefined) return fetch(url, init);
    switch (injected.fault) {
      case 'throttling':
        return new Response(`${FAULT_MARKER}: slow down`, { status: 429 });
      case 'server-error':
        return new Response(`${FAULT_MARKER}: internal error`, { status: 500 });
      case 'timeout':
        throw new DOMException(
          `${FAULT_MARKER}: The operation was aborted due to timeout`,
          'TimeoutError',
        );
      case 'connection-reset':
        issuer.setOutage('reset');
        try {
          return await fetch(url, init);
        } finally {
          issuer.setOutage('none');
        }
    }
  };

  const newConfigCache = () =>
    new CachedConfigStore(
      new DynamoConfigStore(documentClient, TABLE_NAME, { now: () => new Date(clock.now()) }),
      { ttlMs: options.configTtlMs ?? 60_000, now: clock.now },
    );
  const newAuthenticator = () =>
    createOidcAuthenticator({ stage: 'local', now: clock.now, fetch: jwksFetch });

  // The production adapters on the faulty client; only the clock and the vend backoff differ.
  const deps: IssueDeps = createIssueDeps({
    logger: logger,
    env: { TVM_TABLE_NAME: TABLE_NAME },
    documentClient,
    overrides: {
      config: newConfigCache(),
      sts,
      audit: new DynamoAuditSink(documentClient, TABLE_NAME, { retentionDays: 90, logger }),
      reuse: undefined,
      // As runtime.ts, with no backoff so that retried faults cost no wall time.
      vend: { timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 0 },
      logger,
      now: () => new Date(clock.now()),
    },
  });
  // A cold start replaces it (and its JWKS cache); the route reads the current one.
  let authenticator = newAuthenticator();
  const handler = withHttpStack(
    credentialsRoute(deps, {
      authenticate: (token, providers, hint) => authenticator.authenticate(token, providers, hint),
    }),
  );
  const denyList = new DynamoDenyList(documentClient, TABLE_NAME);

  let counter = 0;
  const harness: FaultHarness = {
    issuer,
    config,
    clock,
    mint: (claims = {}, mintOptions = {}) =>
      issuer.mint(
        { token_use: 'id', ...claims },
        mintOptions.expiresIn === undefined ? {} : { expiresIn: mintOptions.expiresIn },
      ),
    async call(call) {
      counter += 1;
      const requestId = call.requestId ?? `fault-req-${counter}`;
      const headers: Record<string, string> = {};
      if (call.authorization !== undefined) headers.authorization = call.authorization;
      else if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
      // Like a real client: a JSON body comes with its media type (a missing one is a 415).
      const contentType =
        call.contentType === undefined && call.body !== undefined
          ? 'application/json'
          : call.contentType;
      if (typeof contentType === 'string') headers['content-type'] = contentType;
      const event = httpEvent({
        method: call.method ?? 'POST',
        path: '/v1/credentials',
        headers,
        requestId,
        ...(call.body === undefined ? {} : { body: call.body }),
        ...(call.query === undefined ? {} : { query: call.query }),
      });
      if (call.sourceIp !== undefined) event.requestContext.http.sourceIp = call.sourceIp;
      const result = await handler(event, fakeContext({ awsRequestId: requestId }));
      const raw = typeof result === 'string' ? result : (result.body ?? '');
      return {
        requestId,
        status: typeof result === 'string' ? 200 : (result.statusCode ?? 200),
        headers: (typeof result === 'string' ? {} : (result.headers ?? {})) as Record<
          string,
          string
        >,
        body: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>),
        raw,
      };
    },
    inject(call, fault, faultOptions = {}) {
      faults.set(call, {
        fault,
        remaining: faultOptions.times ?? Number.POSITIVE_INFINITY,
        variant: faultOptions.variant ?? 0,
      });
    },
    clearFaults() {
      faults.clear();
      issuer.setOutage('none');
    },
    calls: (kind) => callCounts.get(kind) ?? 0,
    faultHits: (kind) =>
      kind === undefined
        ? [...hitCounts.values()].reduce((a, b) => a + b, 0)
        : (hitCounts.get(kind) ?? 0),
    resetCounters() {
      callCounts.clear();
      hitCounts.clear();
    },
    takeAudits() {
      const taken = table.audits;
      table.audits = [];
      return taken;
    },
    vendedCount: () => vended,
    coldStart() {
      deps.config = newConfigCache();
      authenticator = newAuthenticator();
    },
    async deny(subject, denyOptions = {}) {
      await denyList.add({
        issuer: issuer.issuer,
        provider: 'mobile',
        subject,
        ...(denyOptions.until === undefined ? {} : { until: denyOptions.until }),
        reason: 'fault-harness',
        by: 'ops',
        at: new Date(clock.now()).toISOString(),
      });
    },
    reset() {
      for (const [key, item] of table.items) {
        if (!String(item.pk).startsWith('CONFIG')) table.items.delete(key);
      }
      table.audits = [];
      harness.clearFaults();
      harness.resetCounters();
      harness.resetMockHistory();
      harness.coldStart();
    },
    sweepExpired() {
      table.sweep(Math.floor(clock.now() / 1000));
    },
    resetMockHistory() {
      dynamo.resetHistory();
      stsMock.resetHistory();
    },
    async stop() {
      dynamo.restore();
      stsMock.restore();
      documentClient.destroy();
      await issuer.stop();
    },
  };
  return harness;
}
