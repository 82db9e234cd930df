import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_SUBJECT } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

describe('deny list and rate limits on the credentials route', () => {
  let harness: Harness;

  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(async () => {
    await harness.stop();
  });

  it('refuses a denied principal at the next request, whatever its token says (403)', async () => {
    // Prepare: a valid token, then the principal is denied.
    const token = await harness.mint({ groups: ['admins'] });
    await harness.denyList.add({
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
    await harness.denyList.add({
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
    let last: Awaited<ReturnType<Harness['call']>> | undefined;
    for (let i = 0; i < 26; i += 1) {
      last = await harness.call({ token: await harness.mint({ sub: `user-${i}` }) });
      if (i < 25) expect(last.status).toBe(200);
    }
    expect(last?.status).toBe(429);
    expect(harness.audits.at(-1)).toMatchObject({ reason: 'rate_limited_ip', outcome: 'denied' });
  });
});
