/**
 * The Cognito-compatible route (POST /v1/cognito-identity: GetId, GetCredentialsForIdentity)
 * beside POST /v1/credentials, in one run, on loopback in this process: the loopback benchmark's
 * node:http adapter, autocannon and stub AWS (a DynamoDB document client stub whose every call
 * answers after a set delay, STS by aws-sdk-client-mock), the real middy stack, routes, OIDC
 * authenticator (warm JWKS from a real issuer on loopback), core and DynamoIdentityStore.
 *
 * Identity ids are created before the measured runs, so GetId measures a returning user (one
 * GetItem), as a cached app mostly is. Rows at 0 ms stubs for 1 and 8 connections, then one
 * connection at the delay, where p50 counts the AWS round trips each call waits for.
 *
 *   npx tsx scripts/bench/cognito.ts [--stub-delay-ms 20]   writes bench/results/cognito.json
 *   npm run bench -- cognito [--stub-delay-ms 20]
 *
 * Numbers are reported, never asserted; what is asserted: every answer was 2xx, and each made
 * at least the identity reads and audit writes its operation must make.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type autocannon from 'autocannon';
import { COGNITO_CONTENT_TYPE, cognitoIdentityRoute } from '#functions/cognito-identity/route.ts';
import { credentialsRoute } from '#functions/credentials/route.ts';
import { withHttpStack } from '#functions/http/middleware.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import { DynamoIdentityStore } from '#shared/cognito/identity-store.ts';
import { defaultLoginsKey } from '#shared/cognito/pools.ts';
import { DynamoRateLimiter } from '#shared/guard/rate-limit.ts';
import { startTestIssuer } from '../../test/support/oidc-issuer.ts';
import { harnessConfig, stsMock } from '../../test/support/vend-harness.ts';
import {
  after,
  benchIssueDeps,
  cannon,
  type LoopbackOptions,
  loopbackOptions,
  StubDynamo,
  silenceStdout,
  startAdapter,
  stubAssumeRole,
} from './loopback.ts';
import { machineInfo, quantile, round, toJson, UNREACHED_RATE_LIMITS } from './stats.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'bench/results');

const DEFAULT_STUB_DELAY_MS = 20;
const CONNECTIONS = [1, 8] as const;
const WARMUP_SECONDS = 0.5;
const DURATION_SECONDS = 1.5;
const TOKENS = 16;
const TABLE = 'tvm-bench-cognito';
const POOL_ID = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';

type Variant = 'credentials' | 'getId' | 'getCredentialsForIdentity' | 'pair';

const VARIANTS: readonly { variant: Variant; label: string; requestsPerUnit: number }[] = [
  { variant: 'credentials', label: 'POST /v1/credentials', requestsPerUnit: 1 },
  { variant: 'getId', label: 'GetId', requestsPerUnit: 1 },
  { variant: 'getCredentialsForIdentity', label: 'GetCredentialsForIdentity', requestsPerUnit: 1 },
  // What fromCognitoIdentityPool does without a cache: one GetId, then the credentials.
  { variant: 'pair', label: 'GetId + GetCredentialsForIdentity', requestsPerUnit: 2 },
];

/** Stubbed AWS calls, as the loopback stub counts them, plus the identity items. */
interface Calls {
  denyGet: number;
  rateUpdate: number;
  auditPut: number;
  assumeRole: number;
  identityGet: number;
  identityCreate: number;
}

/**
 * The loopback stub, plus the identity items in memory: GetItem of either key, and the
 * two-item conditional create (a repeated create answers as the cancelled transaction would).
 */
class CognitoStub extends StubDynamo {
  readonly items = new Map<string, Record<string, unknown>>();
  identityGet = 0;
  identityCreate = 0;

  override async send(command: object): Promise<object> {
    if (command instanceof GetCommand && String(command.input.Key?.pk).startsWith('COGNITO#')) {
      await after(this.delayMs);
      this.identityGet += 1;
      const item = this.items.get(String(command.input.Key?.pk));
      return item === undefined ? { $metadata: {} } : { Item: item, $metadata: {} };
    }
    if (command instanceof TransactWriteCommand) {
      await after(this.delayMs);
      this.identityCreate += 1;
      const puts = (command.input.TransactItems ?? []).map((entry) => entry.Put?.Item ?? {});
      if (puts.some((item) => this.items.has(String(item.pk)))) {
        throw new Error('the bench creates each identity once, in the warm-up');
      }
      for (const item of puts) this.items.set(String(item.pk), item);
      return { $metadata: {} };
    }
    return super.send(command);
  }

  snapshot(): Calls {
    return { ...this.calls, identityGet: this.identityGet, identityCreate: this.identityCreate };
  }
}

export interface CognitoRow {
  variant: Variant;
  label: string;
  stubDelayMs: number;
  connections: number;
  /** HTTP requests answered in the measured run. */
  requests: number;
  requestsPerSecMean: number;
  /** Whole operations per second: requests/s for one call, pairs/s for the pair. */
  operationsPerSecMean: number;
  durationSeconds: number;
  /** Per HTTP request (the pair: each of its two requests). */
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  /** Stubbed AWS calls per HTTP request answered. */
  awsCallsPerRequest: Calls;
}

export interface CognitoResults {
  benchmark: 'cognito';
  method: Record<string, string | number>;
  rows: CognitoRow[];
}

function build(issuer: Awaited<ReturnType<typeof startTestIssuer>>, stub: CognitoStub) {
  const raw = harnessConfig(issuer, { rateLimits: UNREACHED_RATE_LIMITS }) as Record<
    string,
    unknown
  >;
  raw.identityPools = [{ id: POOL_ID, providers: [{ provider: 'mobile' }] }];
  const deps = benchIssueDeps(raw, stub.client);
  // One authenticator, as one container has: both routes share its warm JWKS.
  const authenticator = createOidcAuthenticator({ stage: 'local' });
  return {
    credentials: withHttpStack(credentialsRoute(deps, authenticator)),
    cognito: withHttpStack(
      cognitoIdentityRoute({
        issue: deps,
        identities: new DynamoIdentityStore(stub.client, TABLE),
        authenticator,
        limiter: new DynamoRateLimiter(stub.client, TABLE),
      }),
    ),
  };
}

const cognitoRequest = (operation: string, body: unknown): autocannon.Request => ({
  method: 'POST',
  // The JS SDK's path; boto3's has no trailing slash.
  path: '/v1/cognito-identity/',
  headers: {
    'content-type': COGNITO_CONTENT_TYPE,
    'x-amz-target': `AWSCognitoIdentityService.${operation}`,
  },
  body: JSON.stringify(body),
});

export async function runCognitoBench(
  log: (line: string) => void,
  options: LoopbackOptions = {},
): Promise<CognitoResults> {
  const stubDelayMs = options.stubDelayMs ?? DEFAULT_STUB_DELAY_MS;
  const machine = machineInfo();
  const stub = new CognitoStub();
  stubAssumeRole(stub);
  const issuer = await startTestIssuer();
  const handlers = build(issuer, stub);
  const restoreStdout = silenceStdout();
  // One server, routed by path, so the JWKS and the port stay warm across the variants.
  const server = await startAdapter((event, context) =>
    event.rawPath.startsWith('/v1/cognito-identity')
      ? handlers.cognito(event, context)
      : handlers.credentials(event, context),
  );
  const rows: CognitoRow[] = [];
  try {
    const { port } = server.address() as AddressInfo;
    const url = `http://127.0.0.1:${port}`;
    const loginsKey = defaultLoginsKey(issuer.issuer);
    const perVariant: Record<Variant, autocannon.Request[]> = {
      credentials: [],
      getId: [],
      getCredentialsForIdentity: [],
      pair: [],
    };
    for (let i = 0; i < TOKENS; i += 1) {
      const token = await issuer.mint({ token_use: 'id', tenant: 'acme', sub: `user-${i}` });
      const Logins = { [loginsKey]: token };
      // The first GetId of each user creates its identity id (and warms the JWKS).
      const first = cognitoRequest('GetId', { IdentityPoolId: POOL_ID, Logins });
      const answer = await fetch(`${url}${first.path}`, {
        method: 'POST',
        headers: first.headers as Record<string, string>,
        body: first.body as string,
      });
      const { IdentityId } = (await answer.json()) as { IdentityId?: string };
      if (answer.status !== 200 || IdentityId === undefined) {
        throw new Error(`GetId answered ${answer.status}`);
      }
      const getId = cognitoRequest('GetId', { IdentityPoolId: POOL_ID, Logins });
      const credentials = cognitoRequest('GetCredentialsForIdentity', { IdentityId, Logins });
      perVariant.credentials.push({
        method: 'POST',
        path: '/v1/credentials',
        headers: { authorization: `Bearer ${token}` },
      });
      perVariant.getId.push(getId);
      perVariant.getCredentialsForIdentity.push(credentials);
      perVariant.pair.push(getId, credentials);
    }

    const measure = async (
      variant: (typeof VARIANTS)[number],
      d: number,
      connections: number,
    ): Promise<CognitoRow> => {
      stub.delayMs = d;
      const base = { url, connections, requests: perVariant[variant.variant], timeout: 10 };
      await cannon({ ...base, duration: WARMUP_SECONDS });
      const before = stub.snapshot();
      const { result: r, latenciesMs } = await cannon({ ...base, duration: DURATION_SECONDS });
      const made = stub.snapshot();
      stsMock.resetHistory();
      if (r.non2xx !== 0 || r.errors !== 0 || r.timeouts !== 0) {
        throw new Error(
          `cognito ${variant.label} ${d} ms × ${connections}: non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`,
        );
      }
      const answers = r.requests.total;
      const perRequest = {} as Calls;
      for (const key of Object.keys(made) as (keyof Calls)[]) {
        perRequest[key] = round((made[key] - before[key]) / answers, 3);
      }
      // Correctness, not timing: every answer was audited, and every Cognito call read its id.
      if (perRequest.auditPut < 0.99 || perRequest.identityCreate !== 0) {
        throw new Error(`cognito ${variant.label}: calls ${JSON.stringify(perRequest)}`);
      }
      if (variant.variant !== 'credentials' && perRequest.identityGet < 0.99) {
        throw new Error(`cognito ${variant.label}: no identity read per request`);
      }
      return {
        variant: variant.variant,
        label: variant.label,
        stubDelayMs: d,
        connections,
        requests: answers,
        requestsPerSecMean: round(answers / r.duration, 0),
        operationsPerSecMean: round(answers / variant.requestsPerUnit / r.duration, 0),
        durationSeconds: r.duration,
        latencyP50Ms: round(quantile(latenciesMs, 0.5), 2),
        latencyP99Ms: round(quantile(latenciesMs, 0.99), 2),
        latencyMeanMs: round(latenciesMs.reduce((a, b) => a + b, 0) / latenciesMs.length, 2),
        awsCallsPerRequest: perRequest,
      };
    };

    for (const [d, connectionCounts] of [
      [0, CONNECTIONS],
      [stubDelayMs, [1]],
    ] as const) {
      for (const connections of connectionCounts) {
        for (const variant of VARIANTS) {
          const row = await measure(variant, d, connections);
          rows.push(row);
          log(
            `cognito: ${variant.label}, stubs ${d} ms, ${connections} conn: ${row.operationsPerSecMean} op/s, p50 ${row.latencyP50Ms} ms, p99 ${row.latencyP99Ms} ms`,
          );
        }
      }
    }
  } finally {
    // Closed first: a request still in flight would log its audit line after stdout is back.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    restoreStdout();
    await issuer.stop();
    stsMock.reset();
  }

  const results: CognitoResults = {
    benchmark: 'cognito',
    method: {
      adapter:
        'node:http on 127.0.0.1 → API Gateway v2 event → cognitoIdentity or credentials handler (same process)',
      client: 'autocannon 9 programmatic API, in the same process and event loop as the server',
      latency: "client-side, per HTTP request, from autocannon's 'response' event",
      operationsPerSec:
        'operations answered (all 2xx) / measured duration; the pair row counts one GetId plus one GetCredentialsForIdentity as one operation',
      routes: 'POST /v1/cognito-identity/ (GetId, GetCredentialsForIdentity), POST /v1/credentials',
      identities: `${TOKENS} users, each identity id created before the measured runs: GetId is a returning user's (one GetItem)`,
      warmupSeconds: WARMUP_SECONDS,
      durationSeconds: DURATION_SECONDS,
      wiring:
        'createIssueDeps and DynamoIdentityStore over a stub DynamoDB document client (the loopback stub plus identity items in memory); config from memory; one OIDC authenticator shared by both routes; STS by aws-sdk-client-mock; no credential reuse',
      stubs:
        'every AWS call answers after the delay (0 ms: an already-resolved promise): deny-list GetItem, rate-counter UpdateItem, identity GetItem, STS AssumeRole, audit PutItem',
      rateLimits: 'raised so they never trigger; every counter is still written',
    },
    rows,
  };
  await mkdir(outDir, { recursive: true });
  const loadAverageAtEnd = os.loadavg().map((x) => round(x, 2));
  await writeFile(
    path.join(outDir, 'cognito.json'),
    `${toJson({ machine: { ...machine, loadAverageAtEnd }, ...results })}\n`,
  );
  log('cognito: wrote bench/results/cognito.json');
  return results;
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await runCognitoBench(
    (line) => process.stderr.write(`${line}\n`),
    loopbackOptions(process.argv.slice(2)),
  );
}
