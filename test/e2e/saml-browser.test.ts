/**
 * Corporate SSO end to end, with nothing of ours on the other side: a real SimpleSAMLphp IdP
 * (Debian's package under `php -S`), Debian's Chromium driven by playwright-core, the bundled
 * SAML function in serverless-offline, moto for DynamoDB and STS, and a loopback stand-in for
 * the AWS federation endpoint. The sessions it vends are checked with GetCallerIdentity.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SamlProvider } from '#shared/config/schema.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import { LOCAL_REGION, type RunningMoto } from '../../scripts/local/aws-stack.ts';
import { launchChromium } from '../support/browser.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { freePort, type GroupProcess, groupAlive, repoRoot } from '../support/process.ts';
import {
  captureSamlPost,
  type SimpleSamlIdp,
  signInAtSimpleSamlIdp,
  startSimpleSamlIdp,
} from '../support/saml-idp.ts';

const SCREENSHOTS = path.join(repoRoot, '.local', 'screenshots');
const ENCRYPTION_KEYS = path.join(repoRoot, 'test', 'fixtures', 'saml', 'keys');

interface FederationStandIn {
  url: string;
  sessions: { sessionId: string; sessionKey: string; sessionToken: string }[];
  logins: URL[];
  server: Server;
}

/** Answers getSigninToken like signin.aws.amazon.com/federation, and the login with a page. */
async function startFederationStandIn(): Promise<FederationStandIn> {
  const standIn: Omit<FederationStandIn, 'url'> & { url?: string } = {
    sessions: [],
    logins: [],
    server: createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (url.searchParams.get('Action') === 'getSigninToken') {
        standIn.sessions.push(JSON.parse(url.searchParams.get('Session') ?? '{}'));
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ SigninToken: `stand-in-token-${standIn.sessions.length}` }));
        return;
      }
      standIn.logins.push(url);
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<h1>AWS console (stand-in)</h1>');
    }),
  };
  await new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve));
  const { port } = standIn.server.address() as { port: number };
  return { ...standIn, url: `http://127.0.0.1:${port}/federation` } as FederationStandIn;
}

describe('SAML login in a real browser against SimpleSAMLphp', () => {
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
    // The IdP learns about us from our own SP metadata, read by its own parser.
    const metadata = spMetadataXml(
      { spEntityId, signAuthnRequests: false } as SamlProvider,
      spUrls(base, { id: 'corp' }),
    );
    // A second SP, corp-enc: its metadata carries our encryption certificate, and the IdP encrypts.
    const encSpEntityId = `${base}/v1/saml/corp-enc/metadata`;
    const encMetadata = spMetadataXml(
      {
        spEntityId: encSpEntityId,
        signAuthnRequests: false,
        decryptAssertions: true,
      } as SamlProvider,
      spUrls(base, { id: 'corp-enc' }),
      undefined,
      readFileSync(path.join(ENCRYPTION_KEYS, 'sp-encryption.crt'), 'utf8'),
    );
    const body = (xml: string) => xml.replace(/^<\?xml[^>]*>\s*/, '');
    idp = await startSimpleSamlIdp({
      spEntityId,
      acsUrl: `${base}/v1/saml/corp/acs`,
      spMetadataXml: `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">\n${body(metadata)}${body(encMetadata)}</md:EntitiesDescriptor>\n`,
      spOptions: { [encSpEntityId]: { 'assertion.encryption': true } },
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
            // The IdP's own metadata document, as an admin would download it (not a pasted PEM).
            metadataXml: idpMetadata,
            spEntityId,
            attributeMap: { groups: 'groups', email: 'email' },
            claims: { groups: { type: 'list' }, email: { type: 'string' } },
            consoleRegion: 'eu-west-1',
          },
          {
            id: 'corp-enc',
            type: 'saml',
            entityId: idp.entityId,
            ssoUrl: idp.ssoUrl,
            metadataXml: idpMetadata,
            spEntityId: encSpEntityId,
            attributeMap: { groups: 'groups', email: 'email' },
            claims: { groups: { type: 'list' }, email: { type: 'string' } },
            decryptAssertions: true,
          },
        ],
        mappings: [
          {
            id: 'corp-admin',
            provider: 'corp',
            description: 'Administrators',
            priority: 20,
            match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
          },
          {
            id: 'corp-reader',
            provider: 'corp',
            description: 'Read-only',
            priority: 10,
            match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
          },
          {
            id: 'corp-enc-reader',
            provider: 'corp-enc',
            description: 'Read-only, over encrypted assertions',
            priority: 10,
            match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
          },
        ],
      }),
      env: { TVM_PUBLIC_BASE_URL: base, TVM_FEDERATION_URL: federation.url },
    });
    offline = tvm.offline as GroupProcess;
    moto = tvm.moto;
    // The SP decryption key pair goes into the local SSM before any encrypted login reads it.
    const ssm = new SSMClient({
      endpoint: moto.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await ssm.send(
      new PutParameterCommand({
        Name: '/tvm/local/saml-decryption-key',
        Value: JSON.stringify({
          privateKey: readFileSync(path.join(ENCRYPTION_KEYS, 'sp-encryption.key'), 'utf8'),
          certificate: readFileSync(path.join(ENCRYPTION_KEYS, 'sp-encryption.crt'), 'utf8'),
        }),
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    ssm.destroy();
    ({ browser, stop: stopBrowser } = await launchChromium());
  }, 180_000);

  afterAll(async () => {
    await stopBrowser?.();
    const pid = offline?.pid;
    await tvm?.stop();
    await idp?.stop();
    federation?.server.close();
    if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
  });

  const callerIdentity = async (credentials: {
    sessionId: string;
    sessionKey: string;
    sessionToken: string;
  }) => {
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

  async function newPage(): Promise<Page> {
    const context = await browser.newContext();
    return context.newPage();
  }

  it('console: IdP login form, the role chooser, then a 302 to the console sign-in', async () => {
    // Prepare
    const page = await newPage();
    // Act 1: SP-initiated login, the IdP's own form, the auto-posted response.
    await page.goto(`${base}/v1/saml/corp/login?target=console`);
    expect(new URL(page.url()).origin).toBe(new URL(idp.baseUrl).origin);
    await signInAtSimpleSamlIdp(page, 'alice', 'alice-pass');
    await page.waitForSelector('h1:has-text("Choose an AWS role")', { timeout: 30_000 });
    // Assess 1
    expect(page.url()).toBe(`${base}/v1/saml/corp/acs`);
    const chooserShot = path.join(SCREENSHOTS, 'saml-role-chooser.png');
    await page.screenshot({ path: chooserShot, fullPage: true });
    expect(statSync(chooserShot).size).toBeGreaterThan(1_000);
    expect(await page.locator('input[name="mapping"]').count()).toBe(2);
    // Act 2: pick the reader role; watch the answer to the select POST.
    const selectAnswer = page.waitForResponse(
      (response) => response.url() === `${base}/v1/saml/corp/select`,
    );
    await page.check('input[value="corp-reader"]');
    await page.click('button[type="submit"]');
    const answer = await selectAnswer;
    await page.waitForSelector('h1:has-text("AWS console (stand-in)")');
    // Assess 2: a 302 to the stand-in's login action with the sign-in token and the console.
    expect(answer.status()).toBe(302);
    const location = new URL(answer.headers().location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(federation.url);
    expect(location.searchParams.get('Action')).toBe('login');
    expect(location.searchParams.get('SigninToken')).toBe('stand-in-token-1');
    expect(location.searchParams.get('Destination')).toBe(
      'https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1',
    );
    // The session the console would get is a real one, of the chosen role.
    const [session] = federation.sessions;
    expect(session).toBeDefined();
    const identity = await callerIdentity(session as FederationStandIn['sessions'][number]);
    expect(identity.Arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/corp-reader\//);
    // Nothing secret reached the function's log.
    const logs = offline.output();
    expect(logs).not.toContain('stand-in-token-1');
    expect(logs).not.toContain(session?.sessionKey ?? 'no-secret');
    expect(logs).not.toContain('SAMLResponse=');
    await page.context().close();
  }, 90_000);

  it('credentials: bob (one role) gets the credentials page, and the keys work', async () => {
    // Prepare
    const page = await newPage();
    // Act
    await page.goto(`${base}/v1/saml/corp/login?target=credentials`);
    await signInAtSimpleSamlIdp(page, 'bob', 'bob-pass');
    await page.waitForSelector('h1:has-text("Your AWS credentials")', { timeout: 30_000 });
    // Assess
    const profile = (await page.textContent('#profile')) ?? '';
    const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
    expect(profile).toContain('[corp-reader]');
    expect((await page.textContent('#exports')) ?? '').toContain('export AWS_SESSION_TOKEN=');
    expect(await page.getAttribute('#expiration', 'datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    const identity = await callerIdentity({
      sessionId: value('aws_access_key_id'),
      sessionKey: value('aws_secret_access_key'),
      sessionToken: value('aws_session_token'),
    });
    expect(identity.Arn).toMatch(/assumed-role\/corp-reader\//);
    expect(offline.output()).not.toContain(value('aws_secret_access_key'));
    await page.context().close();
  }, 90_000);

  it('encrypted: SimpleSAMLphp encrypts the assertion (RSA-OAEP, AES-CBC), the TVM decrypts it', async () => {
    // Prepare: a response captured on a side page proves the IdP really encrypted (no secret kept).
    const probe = await newPage();
    const capture = await captureSamlPost(probe, `${base}/v1/saml/corp-enc/acs`);
    await probe.goto(`${base}/v1/saml/corp-enc/login?target=credentials`);
    await signInAtSimpleSamlIdp(probe, 'bob', 'bob-pass');
    const captured = (await capture.posted).samlResponseXml;
    await probe.context().close();
    expect(captured).toContain('EncryptedAssertion');
    expect(captured).toContain('http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p');
    expect(captured).not.toContain('rsa-1_5');
    expect(captured).toContain('http://www.w3.org/2001/04/xmlenc#aes128-cbc');
    expect(captured).not.toMatch(/<saml:Assertion[\s>]/);
    const page = await newPage();
    // Act
    await page.goto(`${base}/v1/saml/corp-enc/login?target=credentials`);
    await signInAtSimpleSamlIdp(page, 'bob', 'bob-pass');
    await page.waitForSelector('h1:has-text("Your AWS credentials")', { timeout: 30_000 });
    // Assess
    const profile = (await page.textContent('#profile')) ?? '';
    const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
    expect(profile).toContain('[corp-enc-reader]');
    const identity = await callerIdentity({
      sessionId: value('aws_access_key_id'),
      sessionKey: value('aws_secret_access_key'),
      sessionToken: value('aws_session_token'),
    });
    expect(identity.Arn).toMatch(/assumed-role\/corp-reader\//);
    const audits = offline
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"message":"audit"'))
      .map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit)
      .filter((audit) => audit.provider === 'corp-enc');
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ outcome: 'allowed', mappingId: 'corp-enc-reader' });
    expect(offline.output()).not.toContain(value('aws_secret_access_key'));
    await page.context().close();
  }, 90_000);

  it('failure: a user no mapping admits gets the generic error page with a request id', async () => {
    // Prepare
    const page = await newPage();
    // Act
    await page.goto(`${base}/v1/saml/corp/login?target=console`);
    await signInAtSimpleSamlIdp(page, 'mallory', 'mallory-pass');
    await page.waitForSelector('h1:has-text("Sign-in failed")', { timeout: 30_000 });
    // Assess
    const body = (await page.textContent('main')) ?? '';
    expect(body).toContain('no AWS role is available to you here');
    expect(body).toMatch(/request id \S+/);
    expect(body).not.toContain('no_matching_mapping');
    // A real id the user can quote, not serverless-offline's one placeholder for every request.
    expect(body).not.toContain('offlineContext_resourceId');
    const errorShot = path.join(SCREENSHOTS, 'saml-error.png');
    await page.screenshot({ path: errorShot, fullPage: true });
    expect(statSync(errorShot).size).toBeGreaterThan(1_000);
    await page.context().close();
  }, 90_000);
});
