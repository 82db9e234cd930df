import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SUBJECT, type TestIssuer } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  harnessConfig,
  STS_ANSWER,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

/** The harness config with `reuse` switched on for both mappings. */
function withReuse(issuer: TestIssuer): unknown {
  const config = harnessConfig(issuer) as { mappings: Record<string, unknown>[] };
  for (const mapping of config.mappings) mapping.reuse = { minRemainingSeconds: 300 };
  return config;
}

const assumeRoleCalls = () => stsMock.commandCalls(AssumeRoleCommand).length;

describe('credential reuse (opt-in per mapping)', () => {
  let harness: Harness;
  afterEach(async () => {
    await harness.stop();
  });

  it('hands back the same credentials to the same principal, with one STS call and an audit record per request', async () => {
    harness = await startHarness({ config: withReuse, reuseCache: true });
    const token = await harness.mint();

    const first = await harness.call({ token });
    const second = await harness.call({ token });

    expect(first.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(assumeRoleCalls()).toBe(1);
    expect(harness.audits.map((a) => [a.reason, a.accessKeyId])).toEqual([
      ['ok', 'ASIATESTACCESSKEY'],
      ['reused', 'ASIATESTACCESSKEY'],
    ]);
  });

  it('never reuses across subjects, tags or mappings', async () => {
    harness = await startHarness({ config: withReuse, reuseCache: true });
    await harness.call({ token: await harness.mint({ tenant: 'acme' }) });
    // Another subject; the same subject with another tenant tag (other tags and policy);
    // the same subject asking for another mapping it matches.
    await harness.call({ token: await harness.mint({ sub: 'bob', tenant: 'acme' }) });
    await harness.call({ token: await harness.mint({ tenant: 'globex' }) });
    const admin = await harness.mint({ tenant: 'acme', groups: ['admins'] });
    await harness.call({ token: admin, body: JSON.stringify({ mapping: 'admin' }) });
    expect(assumeRoleCalls()).toBe(4);
    expect(harness.audits.every((a) => a.reason === 'ok')).toBe(true);
  });

  it('never reuses across subjects of the same tenant (same tags, policy and SourceIdentity)', async () => {
    // SourceIdentity from the tenant only; the session name still carries a per-subject hash,
    // and the cache key names the subject as well (defence in depth).
    harness = await startHarness({
      reuseCache: true,
      config: (issuer) => {
        const config = withReuse(issuer) as { mappings: Record<string, unknown>[] };
        for (const mapping of config.mappings) {
          mapping.roleSessionName = 'tenant-{{claims.tenant}}';
          mapping.sourceIdentity = 'tenant-{{claims.tenant}}';
        }
        return config;
      },
    });
    await harness.call({ token: await harness.mint({ sub: 'alice', tenant: 'acme' }) });
    await harness.call({ token: await harness.mint({ sub: 'bob', tenant: 'acme' }) });
    const inputs = stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]?.SourceIdentity).toBe(inputs[1]?.SourceIdentity);
  });

  it('never reuses for a mapping that did not opt in, or without a cache', async () => {
    harness = await startHarness({ reuseCache: true });
    const token = await harness.mint();
    await harness.call({ token });
    await harness.call({ token });
    expect(assumeRoleCalls()).toBe(2);
  });

  it('never reuses credentials with less than minRemainingSeconds left', async () => {
    harness = await startHarness({ config: withReuse, reuseCache: true });
    stsMock.on(AssumeRoleCommand).resolves({
      ...STS_ANSWER,
      Credentials: { ...STS_ANSWER.Credentials, Expiration: new Date(Date.now() + 200_000) },
    });
    const token = await harness.mint();
    await harness.call({ token });
    await harness.call({ token });
    expect(assumeRoleCalls()).toBe(2);
  });

  it('never reuses after the principal is denied: the deny list is checked first', async () => {
    harness = await startHarness({ config: withReuse, reuseCache: true });
    const token = await harness.mint();
    expect((await harness.call({ token })).status).toBe(200);
    await harness.denyList.add({
      issuer: harness.issuer.issuer,
      provider: 'mobile',
      subject: TEST_SUBJECT,
      by: 'ops',
      at: new Date().toISOString(),
    });
    stsMock.resetHistory();
    harness.audits.length = 0;

    const result = await harness.call({ token });

    expectRejection(harness, result, { status: 403, reason: 'denied_principal' });
    expect(result.raw).not.toContain('ASIATESTACCESSKEY');
  });

  it('never caches credentials whose audit record could not be written', async () => {
    harness = await startHarness({ config: withReuse, reuseCache: true });
    const token = await harness.mint();
    harness.failAudits(true);
    expect((await harness.call({ token })).status).toBe(503);
    harness.failAudits(false);
    await harness.call({ token });
    expect(assumeRoleCalls()).toBe(2);
    expect(harness.audits.map((a) => a.reason)).toEqual(['ok']);
  });
});
