/**
 * Amplify v6 (`aws-amplify`) in Debian's Chromium against serverless-offline's cognitoIdentity
 * function and moto: `Auth.Cognito.identityPoolEndpoint` set to the TVM, and nothing else changed.
 * A signed-in user's ID token comes from a real OIDC issuer through a custom TokenProvider (there
 * is no Cognito user pool); guests use Amplify's defaults. Every call crosses CORS for real.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { type AmplifyBrowser, startAmplifyBrowser } from '../support/amplify-harness.ts';
import type { AmplifyPageConfig, AmplifyPageSession } from '../support/amplify-page.ts';
import {
  EVERYONE,
  GUEST_READER,
  guestPool,
  oidcConfig,
  SHOP_GUESTS,
  TENANT_READER,
} from '../support/local-config.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';

/** Takes guests (SHOP_GUESTS) and `mobile` sign-ins. */
const GUEST_POOL_ID = `${LOCAL_REGION}:6a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d`;
/** `mobile` sign-ins only: a guest is refused. */
const SIGNED_IN_POOL_ID = `${LOCAL_REGION}:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab`;
const IDENTITY_ID = new RegExp(
  `^${LOCAL_REGION}:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`,
);
const assumed = (role: string) =>
  new RegExp(`^arn:aws:sts::123456789012:assumed-role/${role}/[A-Za-z0-9+=,.@_-]+$`);

/** The audit log lines serverless-offline printed, parsed. */
function audits(logs: string): Record<string, unknown>[] {
  return logs
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"message":"audit"'))
    .map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit);
}

type Credentials = NonNullable<Extract<AmplifyPageSession, { ok: true }>['credentials']>;

describe('Amplify v6 in Chromium against the TVM (serverless-offline + moto)', () => {
  let tvm: LocalTvm;
  let browser: AmplifyBrowser;
  const secrets: string[] = [];

  beforeAll(async () => {
    // The bundle and the browser start while serverless-offline does.
    const [started, tvmStarted] = await Promise.allSettled([
      startAmplifyBrowser(),
      startLocalTvm({
        offline: true,
        config: (issuer) => {
          const document = oidcConfig(issuer) as { providers: unknown[]; mappings: unknown[] };
          return {
            ...document,
            providers: [...document.providers, SHOP_GUESTS],
            mappings: [...document.mappings, EVERYONE, GUEST_READER],
            identityPools: [
              guestPool(GUEST_POOL_ID),
              { id: SIGNED_IN_POOL_ID, providers: [{ provider: 'mobile' }] },
            ],
          };
        },
      }),
    ]);
    if (started.status === 'fulfilled') browser = started.value;
    if (tvmStarted.status === 'fulfilled') tvm = tvmStarted.value;
    for (const result of [started, tvmStarted])
      if (result.status === 'rejected') throw result.reason;
  });

  afterAll(async () => {
    await browser?.stop();
    await tvm?.stop();
  });

  const endpoint = () => `${tvm.baseUrl}/v1/cognito-identity`;
  const configure = (config: Omit<AmplifyPageConfig, 'identityPoolEndpoint'>) =>
    browser.call('configure', { ...config, identityPoolEndpoint: endpoint() });
  const auditCount = () => audits(tvm.offline?.output() ?? '').length;
  /** The audit records after the first `before`, once `count` of them have been printed. */
  const auditsSince = async (before: number, count: number) => {
    const since = () => audits(tvm.offline?.output() ?? '').slice(before);
    await expect.poll(() => since().length, { timeout: 5_000 }).toBeGreaterThanOrEqual(count);
    return since();
  };
  const mint = async (sub: string) => {
    const token = await tvm.issuer.mint({ sub, tenant: 'acme' });
    secrets.push(token);
    return token;
  };
  /** The session's credentials (kept for the log check), or the failure as an assertion error. */
  const credentialsOf = (session: AmplifyPageSession): Credentials & { identityId: string } => {
    if (!session.ok)
      throw new Error(`fetchAuthSession failed: ${session.name}: ${session.message}`);
    const { credentials, identityId } = session;
    if (credentials === undefined || identityId === undefined) throw new Error('no credentials');
    secrets.push(credentials.secretAccessKey, credentials.sessionToken ?? '');
    return { ...credentials, identityId };
  };
  const callerArn = async (c: Credentials) => {
    const sts = new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken }),
      },
    });
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    return Arn;
  };

  it('signed in with an OIDC ID token: credentials that work as the mapped role, cached, then refreshed without GetId', async () => {
    // Prepare
    await browser.reload();
    await configure({
      identityPoolId: SIGNED_IN_POOL_ID,
      allowGuestAccess: false,
      customTokens: true,
    });
    await browser.call('signIn', await mint('amplify-alice'));
    const before = auditCount();

    // Act
    const first = credentialsOf(await browser.call('session'));
    const made = await auditsSince(before, 2);
    const cached = credentialsOf(await browser.call('session'));
    const afterCached = auditCount();
    const refreshed = credentialsOf(await browser.call('session', { forceRefresh: true }));
    const refresh = await auditsSince(afterCached, 1);

    // Assess
    expect(first.identityId).toMatch(IDENTITY_ID);
    expect(Date.parse(first.expiration ?? '')).toBeGreaterThan(Date.now() + 60_000);
    expect(await callerArn(first)).toMatch(assumed('tenant-reader'));
    // Amplify derived the Logins key from `iss` (no scheme); the pool's default key is the same.
    expect(made).toMatchObject([
      { route: 'POST /v1/cognito-identity GetId', outcome: 'allowed', provider: 'mobile' },
      {
        route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
        outcome: 'allowed',
        identityId: first.identityId,
        mappingId: TENANT_READER.id,
        accessKeyId: first.accessKeyId,
      },
    ]);
    // The second call was answered from Amplify's memory: no request, no record.
    expect(cached.accessKeyId).toBe(first.accessKeyId);
    expect(afterCached).toBe(before + 2);
    // forceRefresh: new keys for the same IdentityId, and GetCredentialsForIdentity only.
    expect(refreshed.identityId).toBe(first.identityId);
    expect(refreshed.accessKeyId).not.toBe(first.accessKeyId);
    expect(refresh).toHaveLength(1);
    expect(refresh[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      identityId: first.identityId,
      accessKeyId: refreshed.accessKeyId,
    });
    expect(await callerArn(refreshed)).toMatch(assumed('tenant-reader'));
  });

  it('Amplify keeps credentials 50 minutes whatever their Expiration: a 15-minute mapping is served expired', async () => {
    // Prepare
    await browser.reload();
    await browser.page.clock.install();
    await configure({
      identityPoolId: SIGNED_IN_POOL_ID,
      allowGuestAccess: false,
      customTokens: true,
    });
    await browser.call('signIn', await mint('amplify-carol'));
    const first = credentialsOf(await browser.call('session'));
    const before = auditCount();

    // Act: past the credentials' Expiration (TENANT_READER: 900 s), then past Amplify's 50 minutes.
    await browser.page.clock.fastForward(`${Math.ceil(TENANT_READER.durationSeconds / 60) + 1}:00`);
    const stale = credentialsOf(await browser.call('session'));
    const afterStale = auditCount();
    await browser.page.clock.fastForward('35:00');
    const renewed = credentialsOf(await browser.call('session'));
    const made = await auditsSince(afterStale, 1);

    // Assess
    const pageNow = await browser.page.evaluate(() => Date.now());
    expect(stale.accessKeyId).toBe(first.accessKeyId);
    expect(Date.parse(stale.expiration ?? '')).toBeLessThan(pageNow);
    expect(afterStale).toBe(before);
    expect(renewed.accessKeyId).not.toBe(first.accessKeyId);
    expect(made[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      identityId: first.identityId,
    });
  });

  it('a refusal reaches the app under its Cognito name, through CORS, with nothing vended', async () => {
    // Prepare: a guest of a pool that takes none.
    await browser.reload();
    await configure({
      identityPoolId: SIGNED_IN_POOL_ID,
      allowGuestAccess: true,
      customTokens: false,
    });
    const before = auditCount();

    // Act
    const session = await browser.call('session');
    const made = await auditsSince(before, 1);

    // Assess
    expect(session).toMatchObject({ ok: false, name: 'NotAuthorizedException' });
    // Amplify retries only what it deems transient: one call, one record.
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetId',
      outcome: 'denied',
      reason: 'unauthenticated_not_allowed',
    });
    expect(made[0]).not.toHaveProperty('accessKeyId');
  });

  it('a guest with Amplify defaults: guest credentials as the guest role, tagged with the IdentityId, which survives a reload', async () => {
    // Prepare
    await browser.reload();
    const config = { identityPoolId: GUEST_POOL_ID, allowGuestAccess: true, customTokens: false };
    await configure(config);
    const before = auditCount();

    // Act
    const guest = credentialsOf(await browser.call('session'));
    const made = await auditsSince(before, 2);
    // The same visitor comes back: Amplify reads the IdentityId from localStorage and skips GetId.
    await browser.page.reload();
    await browser.page.waitForFunction(() => 'tvmAmplify' in globalThis);
    await configure(config);
    const afterReload = auditCount();
    const again = credentialsOf(await browser.call('session'));
    const returned = await auditsSince(afterReload, 1);

    // Assess
    expect(guest.identityId).toMatch(IDENTITY_ID);
    expect(await callerArn(guest)).toMatch(assumed('guest-reader'));
    expect(made).toMatchObject([
      {
        route: 'POST /v1/cognito-identity GetId',
        outcome: 'allowed',
        identityId: guest.identityId,
      },
      {
        route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
        outcome: 'allowed',
        provider: SHOP_GUESTS.id,
        mappingId: GUEST_READER.id,
        identityId: guest.identityId,
        // STS forbids ":" in SourceIdentity.
        sourceIdentity: guest.identityId.replace(':', '.'),
        accessKeyId: guest.accessKeyId,
      },
    ]);
    expect(made[1]?.tagKeys).toContain('cognito-identity-id');
    expect(again.identityId).toBe(guest.identityId);
    expect(returned).toHaveLength(1);
    expect(returned[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      identityId: guest.identityId,
    });
    expect(await callerArn(again)).toMatch(assumed('guest-reader'));
  });

  it("a guest who signs in: Amplify sends the guest IdentityId with Logins and gets the user's own identity", async () => {
    // Prepare: a visitor browses as a guest first (Amplify keeps the IdentityId in localStorage).
    await browser.reload();
    await configure({ identityPoolId: GUEST_POOL_ID, allowGuestAccess: true, customTokens: false });
    const guestId = credentialsOf(await browser.call('session')).identityId;
    await configure({ identityPoolId: GUEST_POOL_ID, allowGuestAccess: true, customTokens: true });
    await browser.call('signIn', await mint('amplify-guest-bob'));
    const before = auditCount();

    // Act: no clearCredentials(), no GetId: Amplify's own sign-in path.
    const signedIn = credentialsOf(await browser.call('session'));
    const made = await auditsSince(before, 1);
    await browser.call('clearCredentials');
    const afterClear = auditCount();
    const fresh = credentialsOf(await browser.call('session'));
    const remade = await auditsSince(afterClear, 2);

    // Assess: never a link (the guest id's holder would get the user's roles, or the user the
    // guest's data); Amplify stores the IdentityId the answer names, the user's own.
    expect(signedIn.identityId).toMatch(IDENTITY_ID);
    expect(signedIn.identityId).not.toBe(guestId);
    expect(made[0]).toMatchObject({
      route: 'POST /v1/cognito-identity GetCredentialsForIdentity',
      outcome: 'allowed',
      identityId: signedIn.identityId,
      provider: 'mobile',
    });
    expect(await callerArn(signedIn)).toMatch(assumed('tenant-reader'));
    // The id is the user's for good: GetId with the same Logins names it too.
    expect(fresh.identityId).toBe(signedIn.identityId);
    expect(remade.map((a) => a.route)).toEqual([
      'POST /v1/cognito-identity GetId',
      'POST /v1/cognito-identity GetCredentialsForIdentity',
    ]);
  });

  it('never writes a token, a secret key or a session token to the function logs', () => {
    const logs = tvm.offline?.output() ?? '';
    expect(logs).toContain('"message":"audit"');
    expect(secrets.filter(Boolean).length).toBeGreaterThan(8);
    for (const secret of secrets.filter(Boolean)) expect(logs).not.toContain(secret);
  });
});
