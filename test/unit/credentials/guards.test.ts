import { createHash } from 'node:crypto';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_AUDIENCE, TEST_SUBJECT, type TestIssuer } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('deny list and rate limits on the credentials route', () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.stop();
  });

  it('refuses a denied principal at the next request, whatever its token says (403)', async () => {
    // Prepare: a valid token, then the principal is denied.
    harness = await startHarness();
    const token = await harness.mint({ groups: ['admins'] });
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
    expect(harness.rateLimiter.counts.size).toBe(0);
  });

  it('a deny entry past its `until` no longer applies', async () => {
    harness = await startHarness();
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      until: new Date(Date.now() - 1_000).toISOString(),
      by: 'ops',
      at: new Date().toISOString(),
    });
    expect((await harness.call({ token: await harness.mint() })).status).toBe(200);
  });

  it('answers 429 with Retry-After once a principal used up its window, audited, no STS call', async () => {
    // Prepare: the harness allows 10 per principal per 60 s.
    harness = await startHarness();
    const token = await harness.mint();
    for (let i = 0; i < 10; i += 1) expect((await harness.call({ token })).status).toBe(200);
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act
    const result = await harness.call({ token });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_principal' });
    const retryAfter = Number(result.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('limits one source IP across many principals', async () => {
    harness = await startHarness();
    let last: Awaited<ReturnType<Harness['call']>> | undefined;
    for (let i = 0; i < 26; i += 1) {
      last = await harness.call({ token: await harness.mint({ sub: `user-${i}` }) });
      if (i < 25) expect(last.status).toBe(200);
    }
    expect(last?.status).toBe(429);
    expect(harness.audits.at(-1)).toMatchObject({ reason: 'rate_limited_ip', outcome: 'denied' });
  });
});

/**
 * Two provider entries for one issuer and audience (two app clients of one user pool): the
 * client picks the entry with `{"provider": ...}`. Controls belong to the principal (issuer +
 * subject), so switching entries must escape none of them.
 */
describe('one principal through two provider entries of one issuer', () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.stop();
  });

  const entry = (id: string, issuer: TestIssuer, extra: Record<string, unknown> = {}) => ({
    id,
    type: 'oidc',
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audiences: [TEST_AUDIENCE],
    ...extra,
  });
  const everyone = (provider: string) => ({
    id: `${provider}-everyone`,
    provider,
    priority: 1,
    match: { claim: 'sub', op: 'exists' },
    roleArn: `arn:aws:iam::123456789012:role/tvm/${provider}`,
    durationSeconds: 900,
  });
  /** `dev` carries the limits; `dev2` has none; `other` is another issuer (a made-up one). */
  const twoEntries =
    (limits: Record<string, unknown> = {}) =>
    (issuer: TestIssuer) => ({
      version: 1,
      providers: [
        entry('dev', issuer, { rateLimits: limits }),
        entry('dev2', issuer),
        entry('other', issuer, { issuer: 'https://other.example.com' }),
      ],
      mappings: [everyone('dev'), everyone('dev2'), everyone('other')],
    });
  const via = (provider: string) => JSON.stringify({ provider });

  it('a principal denied under dev is refused under dev2 (403, audited under its principal)', async () => {
    // Prepare
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint();
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'dev',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
    expect(harness.audits[0]).toMatchObject({
      provider: 'dev2',
      issuer: harness.issuer.issuer,
      subjectHash: sha256(`${harness.issuer.issuer}\u0000${TEST_SUBJECT}`),
    });
  });

  it('a legacy entry under DENY#dev still denies the principal under dev2 (upgrade keeps denies)', async () => {
    // Prepare: written by a TVM from before deny keys moved to the issuer.
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint();
    harness.denyList.addLegacy({
      provider: 'dev',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
  });

  it('a legacy entry of a provider with another issuer denies nothing here', async () => {
    // Prepare: `other` has the same subject name under another issuer: another principal.
    harness = await startHarness({ config: twoEntries() });
    harness.denyList.addLegacy({ provider: 'other', subject: TEST_SUBJECT, by: 'ops', at: '' });
    await harness.denyList.add({
      issuer: 'https://other.example.com',
      provider: 'other',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: '',
    });

    // Act
    const result = await harness.call({ token: await harness.mint(), body: via('dev2') });

    // Assess
    expect(result.status).toBe(200);
  });

  it('the perPrincipal limit of dev also counts and refuses requests through dev2 (429)', async () => {
    // Prepare: 3 per minute under dev; dev2 sets no limit at all.
    harness = await startHarness({
      config: twoEntries({ perPrincipal: { limit: 3, windowSeconds: 60 } }),
    });
    const token = await harness.mint();
    expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    expect((await harness.call({ token, body: via('dev2') })).status).toBe(200);
    expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act
    const result = await harness.call({ token, body: via('dev2') });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_principal' });
    expect(result.headers['retry-after']).toBeDefined();
  });

  it('the perSourceIp limit of dev also applies through dev2 (429)', async () => {
    // Prepare
    harness = await startHarness({
      config: twoEntries({ perSourceIp: { limit: 2, windowSeconds: 60 } }),
    });
    for (const sub of ['u1', 'u2']) {
      const token = await harness.mint({ sub });
      expect((await harness.call({ token, body: via('dev') })).status).toBe(200);
    }
    stsMock.resetHistory();
    harness.audits.length = 0;

    // Act: a third user, same address, through the entry without limits.
    const result = await harness.call({
      token: await harness.mint({ sub: 'u3' }),
      body: via('dev2'),
    });

    // Assess
    expectRejection(harness, result, { status: 429, reason: 'rate_limited_ip' });
  });
});
