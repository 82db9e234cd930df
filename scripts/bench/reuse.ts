/**
 * How many STS AssumeRole calls opt-in reuse saves on a realistic request mix. A simulation
 * with a virtual clock over the real CredentialReuseCache: many users, each refreshing every
 * few minutes, spread at random over several warm Lambda instances (reuse is per instance).
 *
 *   npx tsx scripts/bench/reuse.ts        writes bench/results/reuse.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Identity } from '#shared/auth/identity.ts';
import type { Mapping } from '#shared/config/schema.ts';
import { CredentialReuseCache } from '#shared/credentials/reuse.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import { mulberry32 } from '../../test/support/prng.ts';
import { PROJECT_ROOT } from '../local/aws-stack.ts';
import { toJson } from './stats.ts';

interface Scenario {
  name: string;
  users: number;
  instances: number;
  /** Each user asks again after a uniform random pause in this range (seconds). */
  refreshSeconds: [number, number];
  durationSeconds: number;
  minRemainingSeconds: number;
  hours: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'asks every 2-6 min, 1 instance',
    users: 2_000,
    instances: 1,
    refreshSeconds: [120, 360],
    durationSeconds: 3600,
    minRemainingSeconds: 300,
    hours: 8,
  },
  {
    name: 'asks every 2-6 min, 10 instances',
    users: 2_000,
    instances: 10,
    refreshSeconds: [120, 360],
    durationSeconds: 3600,
    minRemainingSeconds: 300,
    hours: 8,
  },
  {
    name: 'asks every 30-60 s, 10 instances',
    users: 500,
    instances: 10,
    refreshSeconds: [30, 60],
    durationSeconds: 3600,
    minRemainingSeconds: 300,
    hours: 8,
  },
  {
    name: '15-min sessions, 2-6 min, 4 instances',
    users: 2_000,
    instances: 4,
    refreshSeconds: [120, 360],
    durationSeconds: 900,
    minRemainingSeconds: 300,
    hours: 8,
  },
];

function decisionFor(user: number, durationSeconds: number): Decision {
  return {
    mapping: { id: 'tenant-reader' } as Mapping,
    roleArn: 'arn:aws:iam::123456789012:role/tvm/tenant-reader',
    roleSessionName: `user-${user}`,
    sourceIdentity: `user-${user}`,
    tags: [{ Key: 'tenant', Value: `t${user % 50}` }],
    transitiveTagKeys: [],
    policy: undefined,
    policySha256: undefined,
    policyArns: [],
    durationSeconds,
    externalId: undefined,
    matched: ['tenant-reader'],
  };
}

function simulate(scenario: Scenario, seed: number) {
  const random = mulberry32(seed);
  const caches = Array.from(
    { length: scenario.instances },
    () => new CredentialReuseCache({ maxEntries: 5_000 }),
  );
  const end = scenario.hours * 3600;
  const [low, high] = scenario.refreshSeconds;
  // Each user's next request time; processed in time order with a simple scan per step.
  const next = Array.from({ length: scenario.users }, () => random() * high);
  let requests = 0;
  let stsCalls = 0;
  for (;;) {
    let user = -1;
    let at = Number.POSITIVE_INFINITY;
    for (let u = 0; u < next.length; u += 1) {
      const t = next[u] ?? Number.POSITIVE_INFINITY;
      if (t < at) {
        at = t;
        user = u;
      }
    }
    if (user === -1 || at > end) break;
    requests += 1;
    const now = new Date(at * 1000);
    const identity: Identity = {
      provider: 'mobile',
      issuer: 'https://issuer.example.com',
      subject: `user-${user}`,
      claims: {},
    };
    const decision = decisionFor(user, scenario.durationSeconds);
    const cache = caches[Math.floor(random() * caches.length)] as CredentialReuseCache;
    const key = CredentialReuseCache.key(identity, decision);
    if (cache.find(key, now, scenario.minRemainingSeconds) === undefined) {
      stsCalls += 1;
      cache.store(key, {
        accessKeyId: `ASIA${requests}`,
        secretAccessKey: 'x',
        sessionToken: 'x',
        expiration: new Date((at + scenario.durationSeconds) * 1000),
        assumedRoleArn: '',
      });
    }
    next[user] = at + low + random() * (high - low);
  }
  return {
    scenario: scenario.name,
    users: scenario.users,
    instances: scenario.instances,
    durationSeconds: scenario.durationSeconds,
    minRemainingSeconds: scenario.minRemainingSeconds,
    requests,
    stsCallsWithoutReuse: requests,
    stsCallsWithReuse: stsCalls,
    saved: 1 - stsCalls / requests,
  };
}

export function runReuseBenchmark(seed = 20_261_128) {
  const results = SCENARIOS.map((scenario) => simulate(scenario, seed));
  const out = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'reuse.json'),
    `${toJson({ date: new Date().toISOString(), seed, results })}\n`,
  );
  console.log('reuse: STS AssumeRole calls with and without opt-in reuse (simulated 8 h)');
  console.log('scenario                                   requests  STS without  STS with  saved');
  for (const r of results) {
    console.log(
      `${r.scenario.padEnd(42)} ${String(r.requests).padStart(8)}  ${String(r.stsCallsWithoutReuse).padStart(11)}  ${String(r.stsCallsWithReuse).padStart(8)}  ${(r.saved * 100).toFixed(1).padStart(5)} %`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) runReuseBenchmark();
