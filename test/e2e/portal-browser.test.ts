/**
 * The access portal end to end: a real SimpleSAMLphp IdP, Debian's Chromium (playwright-core),
 * the bundled SAML function in serverless-offline, moto for DynamoDB and STS, and the loopback
 * federation stand-in. Sign in with target=portal, filter, Access keys (checked on moto),
 * Console (a real session behind the stand-in's sign-in), a replayed action, Sign out.
 * Screenshots go to docs/images/ when TVM_UPDATE_SCREENSHOTS=1 (else .local/screenshots/).
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SamlProvider } from '#shared/config/schema.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import { LOCAL_REGION, type RunningMoto } from '../../scripts/local/aws-stack.ts';
import { launchChromium } from '../support/browser.ts';
import {
  type FederationSession,
  type FederationStandIn,
  STAND_IN_HEADING,
  startFederationStandIn,
} from '../support/federation-stand-in.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { freePort, type GroupProcess, repoRoot } from '../support/process.ts';
import {
  type SimpleSamlIdp,
  signInAtSimpleSamlIdp,
  startSimpleSamlIdp,
} from '../support/saml-idp.ts';

const SCREENSHOTS =
  process.env.TVM_UPDATE_SCREENSHOTS === '1'
    ? path.join(repoRoot, 'docs', 'images')
    : path.join(repoRoot, '.local', 'screenshots');

describe('access portal in a real browser against SimpleSAMLphp', () => {
  let idp: SimpleSamlIdp;
  let tvm: LocalTvm;
  let moto: RunningMoto;
  let offline: GroupProcess;
  let federation: FederationStandIn;
  let browser: Browser;
  let stopBrowser: () => Promise<void>;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const httpPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    const spEntityId = `${base}/v1/saml/corp/metadata`;
    const metadata = spMetadataXml(
      { spEntityId, signAuthnRequests: false } as SamlProvider,
      spUrls(base, { id: 'corp' }),
    );
    idp = await startSimpleSamlIdp({
      spEntityId,
      acsUrl: `${base}/v1/saml/corp/acs`,
      spMetadataXml: metadata,
    });
    federation = await startFederationStandIn();
    const idpMetadata = await idp.metadataXml();
    tvm = await startLocalTvm({
      offline: true,
      httpPort,
      config: () => ({
        version: 1,
        providers: [
          {
            id: 'corp',
            type: 'saml',
            entityId: idp.entityId,
            ssoUrl: idp.ssoUrl,
            metadataXml: idpMetadata,
            spEntityId,
            attributeMap: { groups: 'groups', email: 'email' },
            claims: { groups: { type: 'list' }, email: { type: 'string' } },
            consoleRegion: 'eu-west-1',
          },
        ],
        mappings: [
          {
            id: 'prod-admin',
            provider: 'corp',
            description: 'Administrators',
            priority: 20,
            match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/prod-admin',
          },
          {
            id: 'prod-reader',
            provider: 'corp',
            description: 'Read-only',
            priority: 10,
            match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/prod-reader',
          },
          {
            id: 'sandbox-dev',
            provider: 'corp',
            description: 'Experiments',
            priority: 5,
            match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
            roleArn: 'arn:aws:iam::210987654321:role/tvm/sandbox-dev',
          },
        ],
        accounts: { '123456789012': { alias: 'prod' }, '210987654321': { alias: 'sandbox' } },
      }),
      env: { TVM_PUBLIC_BASE_URL: base, TVM_FEDERATION_URL: federation.url },
    });
    offline = tvm.offline as GroupProcess;
    moto = tvm.moto;
    ({ browser, stop: stopBrowser } = await launchChromium());
  }, 180_000);

  afterAll(async () => {
    if (process.env.TVM_PORTAL_E2E_LOG !== undefined) {
      (await import('node:fs')).writeFileSync(process.env.TVM_PORTAL_E2E_LOG, offline.output());
    }
    await stopBrowser?.();
    await tvm?.stop();
    await idp?.stop();
    await federation?.stop();
  });

  const callerIdentity = async (credentials: FederationSession) => {
    const sts = new STSClient({
      endpoint: moto.endpoint,
      region: LOCAL_REGION,
      credentials: {
        accessKeyId: credentials.sessionId,
        secretAccessKey: credentials.sessionKey,
        sessionToken: credentials.sessionToken,
      },
    });
    try {
      return await sts.send(new GetCallerIdentityCommand({}));
    } finally {
      sts.destroy();
    }
  };

  async function signedIn(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    const page = await context.newPage();
    await page.goto(`${base}/v1/saml/corp/login?target=portal`);
    await signInAtSimpleSamlIdp(page, 'alice', 'alice-pass');
    await page.waitForSelector('h1:has-text("AWS access")', { timeout: 30_000 });
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    const file = path.join(SCREENSHOTS, name);
    await page.screenshot({ path: file });
    expect(statSync(file).size).toBeGreaterThan(1_000);
  }

  it('sign in, the page by account, the filter, Access keys that work on moto', async () => {
    const page = await signedIn();
    // The session is only in a cookie: the address bar shows the bare portal.
    expect(page.url()).toBe(`${base}/v1/portal`);
    const cookies = await page.context().cookies();
    const portalCookie = cookies.find((cookie) => cookie.name === 'tvm_portal');
    expect(portalCookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/v1/portal' });
    expect(await page.locator('section.account h2').allTextContents()).toEqual([
      'prod 123456789012',
      'sandbox 210987654321',
    ]);
    await shot(page, 'portal.png');
    // The filter as you type (the nonce'd script), then the same server-side (no script).
    await page.fill('#q', 'sandbox');
    expect(await page.locator('tr[data-search]:visible').count()).toBe(1);
    await shot(page, 'portal-filtered.png');
    await page.click('button:has-text("Filter")');
    await page.waitForURL(`${base}/v1/portal?q=sandbox`);
    expect(await page.locator('tr[data-search]').count()).toBe(1);
    // Access keys for the sandbox role.
    await page.click('tr[data-mapping="sandbox-dev"] button[value="keys"]');
    await page.waitForSelector('h1:has-text("Your AWS credentials")');
    const profile = (await page.textContent('#profile')) ?? '';
    const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
    const identity = await callerIdentity({
      sessionId: value('aws_access_key_id'),
      sessionKey: value('aws_secret_access_key'),
      sessionToken: value('aws_session_token'),
    });
    expect(identity.Arn).toMatch(/^arn:aws:sts::210987654321:assumed-role\/sandbox-dev\//);
    expect(offline.output()).not.toContain(value('aws_secret_access_key'));
    expect(offline.output()).not.toContain(portalCookie?.value ?? 'no-cookie');
    await page.context().close();
  }, 90_000);

  it('Console signs in to the stand-in; the same form replayed is refused; Sign out ends it', async () => {
    const page = await signedIn();
    const form = page.locator('tr[data-mapping="prod-reader"] form');
    const fields = Object.fromEntries(
      await Promise.all(
        ['page', 'token', 'mapping'].map(async (name) => [
          name,
          (await form.locator(`input[name="${name}"]`).getAttribute('value')) ?? '',
        ]),
      ),
    ) as Record<string, string>;
    await page.click('tr[data-mapping="prod-reader"] button[value="console"]');
    await page.waitForSelector(`h1:has-text("${STAND_IN_HEADING}")`);
    const [session] = federation.sessions;
    const identity = await callerIdentity(session as FederationSession);
    expect(identity.Arn).toMatch(/assumed-role\/prod-reader\//);
    // The same action again, from this browser (its cookie): refused, no second session.
    await page.goBack();
    const replay = await page.request.post(`${base}/v1/portal/actions`, {
      form: { ...fields, action: 'console' },
      maxRedirects: 0,
    });
    expect(replay.status()).toBe(401);
    expect(federation.sessions).toHaveLength(1);
    // Back on the page (a fresh one, fresh tokens): Sign out.
    await page.goto(`${base}/v1/portal`);
    await page.click('button:has-text("Sign out")');
    await page.waitForSelector('h1:has-text("You are signed out")');
    await shot(page, 'portal-signed-out.png');
    await page.goto(`${base}/v1/portal`);
    expect(await page.textContent('h1')).toBe('Sign-in failed');
    expect(offline.output()).not.toContain('SigninToken=stand-in');
    await page.context().close();
  }, 90_000);
});
