/**
 * TVM against a real Keycloak, set up as docs/idp/keycloak.md tells an admin to: a realm with
 * users and groups, an OIDC client with a groups mapper, and SAML clients imported from the SP
 * metadata the TVM serves. Chromium (playwright-core) signs in at Keycloak's own forms;
 * serverless-offline runs the bundled functions against moto; every vended key is checked with
 * GetCallerIdentity on moto. Run it with `npm run test:interop` (not part of `npm test`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDeps, EXIT, runCli } from '../../scripts/cli/main.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { launchChromium } from '../support/browser.ts';
import {
  type FederationStandIn,
  STAND_IN_HEADING,
  startFederationStandIn,
} from '../support/federation-stand-in.ts';
import {
  ensureKeycloak,
  interopPrerequisites,
  KEYCLOAK_VERSION,
  type RunningKeycloak,
  startKeycloak,
} from '../support/keycloak.ts';
import {
  addSamlMappers,
  createOidcClient,
  createRealm,
  idpMetadataXml,
  importSamlClient,
  KeycloakAdmin,
  type SamlClient,
  setClientAttributes,
  signInAtKeycloak,
} from '../support/keycloak-realm.ts';
import { type LocalTvm, startLocalTvm } from '../support/local-tvm.ts';
import { freePort, groupAlive, runCommand } from '../support/process.ts';

const REALM = 'tvm';
const OIDC_CLIENT = 'tvm-cli';
/** Keycloak's "IDP-Initiated SSO URL name" of the SAML client: /protocol/saml/clients/<name>. */
const IDP_INITIATED_NAME = 'tvm';
/** serverless.yml: samlSigningKeyParameter for the local stage. */
const SIGNING_KEY_PARAMETER = '/tvm/local/saml-signing-key';
/** serverless.yml: samlDecryptionKeyParameter for the local stage. */
const DECRYPTION_KEY_PARAMETER = '/tvm/local/saml-decryption-key';
const ACCOUNT = '123456789012';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/tvm/${name}`;

const USERS = [
  { username: 'alice', password: 'alice-pass', groups: ['aws-admins', 'aws-readers'] },
  { username: 'bob', password: 'bob-pass', groups: ['aws-readers'] },
  { username: 'mallory', password: 'mallory-pass', groups: [] },
].map((user) => ({ ...user, email: `${user.username}@corp.example` }));

const prerequisites = interopPrerequisites();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The TVM config the guide documents, on loopback URLs (the local stage allows http there). */
function tvmConfig(keycloak: string, base: string, idpMetadata: string): unknown {
  const issuer = `${keycloak}/realms/${REALM}`;
  const saml = {
    type: 'saml',
    entityId: issuer,
    ssoUrl: `${issuer}/protocol/saml`,
    metadataXml: idpMetadata,
    // Keycloak's "Group list" mapper names its attribute `member`.
    attributeMap: { member: 'groups', email: 'email' },
    claims: { groups: { type: 'list' }, email: { type: 'string' } },
    consoleRegion: 'eu-west-1',
  };
  return {
    version: 1,
    providers: [
      {
        id: 'kc-oidc',
        type: 'oidc',
        issuer,
        audiences: [OIDC_CLIENT],
        claims: { groups: { type: 'list' } },
      },
      {
        id: 'kc-saml',
        ...saml,
        spEntityId: `${base}/v1/saml/kc-saml/metadata`,
        allowIdpInitiated: true,
      },
      {
        id: 'kc-saml-signed',
        ...saml,
        spEntityId: `${base}/v1/saml/kc-saml-signed/metadata`,
        signAuthnRequests: true,
      },
      {
        id: 'kc-saml-enc',
        ...saml,
        spEntityId: `${base}/v1/saml/kc-saml-enc/metadata`,
        decryptAssertions: true,
      },
    ],
    mappings: [
      ...['kc-oidc', 'kc-saml'].flatMap((provider) => [
        {
          id: `${provider}-admin`,
          provider,
          description: 'Administrators',
          priority: 20,
          match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
          roleArn: role('kc-admin'),
        },
        {
          id: `${provider}-reader`,
          provider,
          description: 'Read-only',
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
          roleArn: role('kc-reader'),
        },
      ]),
      {
        id: 'kc-saml-enc-reader',
        provider: 'kc-saml-enc',
        description: 'Read-only',
        priority: 10,
        match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
        roleArn: role('kc-reader'),
      },
      {
        id: 'kc-saml-signed-reader',
        provider: 'kc-saml-signed',
        description: 'Read-only',
        priority: 10,
        match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
        roleArn: role('kc-reader'),
      },
    ],
  };
}

/** A throwaway SP request-signing pair, as docs/saml.md makes it with openssl. */
async function spSigningPair(): Promise<{ privateKey: string; certificate: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tvm-interop-sp-'));
  try {
    const key = path.join(dir, 'sp.key');
    const crt = path.join(dir, 'sp.crt');
    const result = await runCommand('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=tvm-interop-sp',
      '-keyout',
      key,
      '-out',
      crt,
    ]);
    if (result.code !== 0) throw new Error(`openssl failed: ${result.output}`);
    return { privateKey: readFileSync(key, 'utf8'), certificate: readFileSync(crt, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pemBody(pem: string): string {
  return pem.replaceAll(/-----(BEGIN|END) CERTIFICATE-----/g, '').replaceAll(/\s+/g, '');
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

describe.skipIf(!prerequisites.ok)(`TVM with Keycloak ${KEYCLOAK_VERSION}`, () => {
  let keycloak: RunningKeycloak;
  let admin: KeycloakAdmin;
  let tvm: LocalTvm;
  let base: string;
  let federation: FederationStandIn;
  let browser: Browser;
  let stopBrowser: () => Promise<void>;
  let samlClient: SamlClient;
  let signedClient: SamlClient;
  let encClient: SamlClient;
  let spCertificate: string;
  let oidcRedirect: string;
  let cliMetadata: string;
  let servedMetadata: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    if (!prerequisites.ok) return;
    const install = await ensureKeycloak(prerequisites.java);
    keycloak = await startKeycloak(install, prerequisites.java);
    const configStarted = Date.now();
    admin = new KeycloakAdmin(keycloak.url);
    await createRealm(admin, REALM, {
      groups: ['aws-admins', 'aws-readers'],
      users: USERS,
    });
    oidcRedirect = `http://127.0.0.1:${await freePort()}/callback`;
    const oidcClient = await createOidcClient(admin, REALM, {
      clientId: OIDC_CLIENT,
      redirectUri: oidcRedirect,
    });
    // The Audience mapper an admin adds so an API accepts the access token: it then names our
    // client in `aud` too, and only the ID-token check stands between it and credentials.
    await admin.create(`/${REALM}/clients/${oidcClient}/protocol-mappers/models`, {
      name: 'audience',
      protocol: 'openid-connect',
      protocolMapper: 'oidc-audience-mapper',
      config: {
        'included.client.audience': OIDC_CLIENT,
        'access.token.claim': 'true',
        'id.token.claim': 'false',
      },
    });

    const httpPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    federation = await startFederationStandIn();
    const idpMetadata = await idpMetadataXml(keycloak.url, REALM);
    const tvmStarted = Date.now();
    tvm = await startLocalTvm({
      offline: true,
      httpPort,
      config: () => tvmConfig(keycloak.url, base, idpMetadata),
      env: { TVM_PUBLIC_BASE_URL: base, TVM_FEDERATION_URL: federation.url },
    });
    const tvmMs = Date.now() - tvmStarted;

    // The signing key goes into the local SSM before anything asks for it.
    const pair = await spSigningPair();
    spCertificate = pair.certificate;
    const ssm = new SSMClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await ssm.send(
      new PutParameterCommand({
        Name: SIGNING_KEY_PARAMETER,
        Value: JSON.stringify(pair),
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    // The decryption key pair, its own, as docs/saml.md makes it.
    await ssm.send(
      new PutParameterCommand({
        Name: DECRYPTION_KEY_PARAMETER,
        Value: JSON.stringify(await spSigningPair()),
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    ssm.destroy();

    // The SAML clients come from our metadata, as the guide says: what `tvm saml sp-metadata`
    // prints for unsigned requests, and what the TVM serves when it signs them.
    const out: string[] = [];
    const err: string[] = [];
    const cli = await runCli(
      ['saml', 'sp-metadata', 'kc-saml', '--base-url', base],
      { out: (text) => out.push(text), err: (text) => err.push(text), color: false },
      defaultDeps(tvm.env),
    );
    expect(cli, err.join('\n')).toBe(EXIT.ok);
    cliMetadata = out.join('\n');
    servedMetadata = await (await fetch(`${base}/v1/saml/kc-saml/metadata`)).text();
    const signedMetadata = await fetch(`${base}/v1/saml/kc-saml-signed/metadata`);
    expect(signedMetadata.status).toBe(200);
    samlClient = await importSamlClient(admin, REALM, cliMetadata);
    signedClient = await importSamlClient(admin, REALM, await signedMetadata.text());
    const encMetadata = await (await fetch(`${base}/v1/saml/kc-saml-enc/metadata`)).text();
    expect(encMetadata).toContain('<md:KeyDescriptor use="encryption">');
    encClient = await importSamlClient(admin, REALM, encMetadata);
    for (const client of [samlClient, signedClient, encClient]) {
      await addSamlMappers(admin, REALM, client.id);
    }
    // xml-encryption 3.1.0 does RSA-OAEP with SHA-1 only (it reads no xmlenc#sha256 digest), and
    // not the XML Encryption 1.1 rsa-oaep: the guide sets both on the client.
    await setClientAttributes(admin, REALM, encClient.id, {
      'saml.client.signature': 'false',
      'saml.encryption.keyAlgorithm': 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
      'saml.encryption.digestMethod': 'http://www.w3.org/2000/09/xmldsig#sha1',
    });
    // The settings the guide lists: unsigned requests need "Client signature required" off.
    await setClientAttributes(admin, REALM, samlClient.id, {
      'saml.client.signature': 'false',
      saml_idp_initiated_sso_url_name: IDP_INITIATED_NAME,
    });
    ({ browser, stop: stopBrowser } = await launchChromium());
    console.info(
      [
        `keycloak ${KEYCLOAK_VERSION} (Java ${prerequisites.java.major}):`,
        `download ${install.downloadMs === 0 ? 'cached' : seconds(install.downloadMs)},`,
        `unpack ${install.unpackMs === 0 ? 'cached' : seconds(install.unpackMs)},`,
        `start ${seconds(keycloak.startMs)}; TVM (moto + offline) ${seconds(tvmMs)};`,
        `setup ${seconds(Date.now() - configStarted - tvmMs)}; log ${keycloak.logFile}`,
      ].join(' '),
    );
  }, 600_000);

  afterAll(async () => {
    await stopBrowser?.();
    const offlinePid = tvm?.offline?.pid;
    await tvm?.stop();
    await federation?.stop();
    const keycloakPid = keycloak?.process.pid;
    await keycloak?.stop();
    if (offlinePid !== undefined) expect(groupAlive(offlinePid)).toBe(false);
    if (keycloakPid !== undefined) expect(groupAlive(keycloakPid)).toBe(false);
    // Nothing secret reached the function's log.
    const logs = tvm?.offline?.output() ?? '';
    for (const secret of secrets) expect(logs).not.toContain(secret);
    expect(logs).not.toContain('SAMLResponse=');
  }, 60_000);

  const callerArn = async (keys: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
  }) => {
    const sts = new STSClient({
      endpoint: tvm.moto.endpoint,
      region: LOCAL_REGION,
      credentials: keys,
    });
    try {
      return (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '';
    } finally {
      sts.destroy();
    }
  };

  /** The audit records serverless-offline logged, as the functions wrote them. */
  const audits = (): Record<string, unknown>[] =>
    (tvm.offline?.output() ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"message":"audit"'))
      .map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit);

  async function withContext<T>(run: (page: Page, context: BrowserContext) => Promise<T>) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      return await run(page, context);
    } finally {
      await context.close();
    }
  }

  /** The browser code flow with PKCE: Keycloak's form in Chromium, the code exchanged here. */
  async function oidcTokens(username: string, password: string) {
    const verifier = base64url(randomBytes(32));
    const state = base64url(randomBytes(16));
    const code = await withContext(async (page, context) => {
      let captured: URL | undefined;
      // Nobody listens at the redirect URI: the browser's request is answered here.
      await context.route(
        (url) => url.href.startsWith(oidcRedirect),
        async (route) => {
          captured = new URL(route.request().url());
          await route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
        },
      );
      const authorize = new URL(`${keycloak.url}/realms/${REALM}/protocol/openid-connect/auth`);
      authorize.search = new URLSearchParams({
        client_id: OIDC_CLIENT,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: oidcRedirect,
        state,
        nonce: base64url(randomBytes(16)),
        code_challenge: base64url(createHash('sha256').update(verifier).digest()),
        code_challenge_method: 'S256',
      }).toString();
      await page.goto(authorize.href);
      await signInAtKeycloak(page, username, password);
      await page.waitForSelector('text=signed in');
      expect(captured?.searchParams.get('state')).toBe(state);
      return captured?.searchParams.get('code') ?? '';
    });
    const response = await fetch(`${keycloak.url}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: oidcRedirect,
        client_id: OIDC_CLIENT,
        code_verifier: verifier,
      }),
    });
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as { id_token: string; access_token: string };
    secrets.push(tokens.id_token, tokens.access_token);
    return tokens;
  }

  async function vend(token: string, body: Record<string, unknown> = {}) {
    const response = await fetch(`${base}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as Record<string, unknown>;
    const vended = json.credentials as Record<string, string> | undefined;
    // Only the keys: the body's expiration is a string, not the Date the SDK wants.
    const credentials =
      vended === undefined
        ? undefined
        : {
            accessKeyId: vended.accessKeyId ?? '',
            secretAccessKey: vended.secretAccessKey ?? '',
            sessionToken: vended.sessionToken ?? '',
          };
    if (credentials !== undefined)
      secrets.push(credentials.secretAccessKey, credentials.sessionToken);
    const requestId = response.headers.get('x-request-id') ?? json.requestId;
    return { status: response.status, json, credentials, requestId };
  }

  it('OIDC: an ID token from the code flow in Chromium buys credentials that work on moto', async () => {
    // Prepare
    const { id_token: idToken } = await oidcTokens('alice', 'alice-pass');
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString());
    expect(claims).toMatchObject({ typ: 'ID', aud: OIDC_CLIENT, groups: expect.any(Array) });
    expect([...claims.groups].sort()).toEqual(['aws-admins', 'aws-readers']);
    // Act
    const best = await vend(idToken);
    const chosen = await vend(idToken, { mapping: 'kc-oidc-reader' });
    // Assess
    expect(best.status).toBe(200);
    expect(best.json.mapping).toBe('kc-oidc-admin');
    expect(await callerArn(best.credentials ?? ({} as never))).toMatch(/assumed-role\/kc-admin\//);
    expect(chosen.status).toBe(200);
    expect(await callerArn(chosen.credentials ?? ({} as never))).toMatch(
      /assumed-role\/kc-reader\//,
    );
  }, 120_000);

  it('OIDC: the direct grant works too, and Keycloak access tokens are refused', async () => {
    // Prepare
    const response = await fetch(`${keycloak.url}/realms/${REALM}/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: OIDC_CLIENT,
        username: 'bob',
        password: 'bob-pass',
        scope: 'openid',
      }),
    });
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as { id_token: string; access_token: string };
    secrets.push(tokens.id_token, tokens.access_token);
    // Act
    const withId = await vend(tokens.id_token);
    const withAccess = await vend(tokens.access_token);
    // Assess
    expect(withId.status).toBe(200);
    expect(await callerArn(withId.credentials ?? ({} as never))).toMatch(
      /assumed-role\/kc-reader\//,
    );
    // Same signing key, same issuer, our client in aud: only its payload typ Bearer tells.
    const accessClaims = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString(),
    );
    expect(accessClaims).toMatchObject({ typ: 'Bearer', azp: OIDC_CLIENT });
    expect([accessClaims.aud].flat()).toContain(OIDC_CLIENT);
    expect(withAccess.status).toBe(401);
    expect(withAccess.credentials).toBeUndefined();
    expect(JSON.stringify(withAccess.json)).not.toContain('access_token');
    const audit = audits().find((record) => record.requestId === withAccess.requestId);
    expect(audit).toMatchObject({ outcome: 'denied', reason: 'access_token' });
    expect(audit?.roleArn).toBeUndefined();
  }, 60_000);

  it('SAML: the import leaves "Client signature required" on, which refuses unsigned requests', async () => {
    // Assess what the import from our metadata (AuthnRequestsSigned="false") produced.
    expect(cliMetadata.trim()).toBe(servedMetadata.trim());
    expect(cliMetadata).toContain('AuthnRequestsSigned="false"');
    expect(samlClient.clientId).toBe(`${base}/v1/saml/kc-saml/metadata`);
    expect(samlClient.imported).toMatchObject({
      'saml.client.signature': 'true',
      'saml.assertion.signature': 'true',
      'saml.signature.algorithm': 'RSA_SHA256',
      saml_name_id_format: 'email',
      'saml.force.post.binding': 'true',
    });
    // Act: the client as imported, against our unsigned AuthnRequest.
    await setClientAttributes(admin, REALM, samlClient.id, { 'saml.client.signature': 'true' });
    try {
      await withContext(async (page) => {
        await page.goto(`${base}/v1/saml/kc-saml/login?target=console`);
        // Assess: Keycloak's error page, no login form.
        await page.waitForSelector('text=/invalid requester/i');
        expect(await page.locator('#username').count()).toBe(0);
      });
      expect(keycloak.process.output()).toContain('SigAlg was null');
    } finally {
      await setClientAttributes(admin, REALM, samlClient.id, { 'saml.client.signature': 'false' });
    }
  }, 60_000);

  it('SAML console: alice (two groups) gets the chooser, picks a role, lands at the console', async () => {
    await withContext(async (page) => {
      // Act 1: SP-initiated login, Keycloak's form, the auto-posted response.
      await page.goto(`${base}/v1/saml/kc-saml/login?target=console`);
      expect(new URL(page.url()).origin).toBe(keycloak.url);
      await signInAtKeycloak(page, 'alice', 'alice-pass');
      await page.waitForSelector('h1:has-text("Choose an AWS role")');
      // Assess 1: one choice per matching mapping.
      expect(page.url()).toBe(`${base}/v1/saml/kc-saml/acs`);
      const choices = await page
        .locator('input[name="mapping"]')
        .evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).value));
      expect(choices.sort()).toEqual(['kc-saml-admin', 'kc-saml-reader']);
      // Act 2
      const sessionsBefore = federation.sessions.length;
      const answer = page.waitForResponse((r) => r.url() === `${base}/v1/saml/kc-saml/select`);
      await page.check('input[value="kc-saml-reader"]');
      await page.click('button[type="submit"]');
      expect((await answer).status()).toBe(302);
      await page.waitForSelector(`h1:has-text("${STAND_IN_HEADING}")`);
      // Assess 2: the console session is a real one, of the chosen role.
      const session = federation.sessions[sessionsBefore];
      secrets.push(session?.sessionKey ?? 'none', session?.sessionToken ?? 'none');
      const arn = await callerArn({
        accessKeyId: session?.sessionId ?? '',
        secretAccessKey: session?.sessionKey ?? '',
        sessionToken: session?.sessionToken ?? '',
      });
      expect(arn).toMatch(/assumed-role\/kc-reader\//);
    });
    const record = audits().find(
      (audit) =>
        audit.mappingId === 'kc-saml-reader' && audit.route === 'POST /v1/saml/{provider}/select',
    );
    expect(record).toBeDefined();
  }, 90_000);

  it('SAML credentials page: bob gets keys that work on moto', async () => {
    await withContext(async (page) => {
      // Act
      await page.goto(`${base}/v1/saml/kc-saml/login?target=credentials`);
      await signInAtKeycloak(page, 'bob', 'bob-pass');
      await page.waitForSelector('h1:has-text("Your AWS credentials")');
      // Assess
      const profile = (await page.textContent('#profile')) ?? '';
      const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
      secrets.push(value('aws_secret_access_key'), value('aws_session_token'));
      expect(profile).toContain('[kc-saml-reader]');
      const arn = await callerArn({
        accessKeyId: value('aws_access_key_id'),
        secretAccessKey: value('aws_secret_access_key'),
        sessionToken: value('aws_session_token'),
      });
      expect(arn).toMatch(/assumed-role\/kc-reader\//);
    });
  }, 90_000);

  it("SAML IdP-initiated: Keycloak's own SSO URL for the client signs bob in", async () => {
    await withContext(async (page) => {
      // Prepare
      const sessionsBefore = federation.sessions.length;
      // Act: the URL Keycloak shows as "IDP-Initiated SSO URL", no request of ours involved.
      await page.goto(
        `${keycloak.url}/realms/${REALM}/protocol/saml/clients/${IDP_INITIATED_NAME}`,
      );
      await signInAtKeycloak(page, 'bob', 'bob-pass');
      await page.waitForSelector(`h1:has-text("${STAND_IN_HEADING}")`);
      // Assess: one role, so straight to the console with a session of it.
      const session = federation.sessions[sessionsBefore];
      secrets.push(session?.sessionKey ?? 'none', session?.sessionToken ?? 'none');
      const arn = await callerArn({
        accessKeyId: session?.sessionId ?? '',
        secretAccessKey: session?.sessionKey ?? '',
        sessionToken: session?.sessionToken ?? '',
      });
      expect(arn).toMatch(/assumed-role\/kc-reader\//);
    });
  }, 90_000);

  it('SAML encrypted assertions: "Encrypt assertions" from our metadata, decrypted by the TVM', async () => {
    // Assess the import: our metadata's encryption certificate turned encryption on.
    expect(encClient.imported['saml.encrypt']).toBe('true');
    await withContext(async (page) => {
      // Act
      await page.goto(`${base}/v1/saml/kc-saml-enc/login?target=credentials`);
      await signInAtKeycloak(page, 'bob', 'bob-pass');
      await page.waitForSelector(
        'h1:has-text("Your AWS credentials"), h1:has-text("Sign-in failed")',
      );
      const requestId = (await page.textContent('main code')) ?? '';
      const failed = audits().find((audit) => audit.requestId === requestId);
      // Assess
      expect(failed?.reason, 'the encrypted login was refused').toBeUndefined();
      const profile = (await page.textContent('#profile')) ?? '';
      const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
      secrets.push(value('aws_secret_access_key'), value('aws_session_token'));
      expect(profile).toContain('[kc-saml-enc-reader]');
      const arn = await callerArn({
        accessKeyId: value('aws_access_key_id'),
        secretAccessKey: value('aws_secret_access_key'),
        sessionToken: value('aws_session_token'),
      });
      expect(arn).toMatch(/assumed-role\/kc-reader\//);
    });
  }, 90_000);

  it('SAML signed AuthnRequests: Keycloak checks our signature with the certificate from our metadata', async () => {
    // Assess the import: the signing certificate is ours, and signatures are required.
    expect(signedClient.imported['saml.client.signature']).toBe('true');
    expect(signedClient.imported['saml.signing.certificate']).toBe(pemBody(spCertificate));
    await withContext(async (page) => {
      // Act 1: the signed redirect.
      const login = await page.request.get(
        `${base}/v1/saml/kc-saml-signed/login?target=credentials`,
        {
          maxRedirects: 0,
        },
      );
      const redirect = new URL(login.headers().location ?? '');
      // Assess 1
      expect(login.status()).toBe(302);
      expect(redirect.searchParams.get('SigAlg')).toBe(
        'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      );
      expect(redirect.searchParams.get('Signature')).not.toBeNull();
      // Act 2: the same login in the browser, through Keycloak's form.
      await page.goto(`${base}/v1/saml/kc-saml-signed/login?target=credentials`);
      await signInAtKeycloak(page, 'bob', 'bob-pass');
      await page.waitForSelector('h1:has-text("Your AWS credentials")');
      // Assess 2
      const profile = (await page.textContent('#profile')) ?? '';
      const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(profile)?.[1] ?? '';
      secrets.push(value('aws_secret_access_key'), value('aws_session_token'));
      const arn = await callerArn({
        accessKeyId: value('aws_access_key_id'),
        secretAccessKey: value('aws_secret_access_key'),
        sessionToken: value('aws_session_token'),
      });
      expect(arn).toMatch(/assumed-role\/kc-reader\//);
    });
    // A request whose signature does not verify is refused: Keycloak really checks it.
    await withContext(async (page) => {
      const login = await page.request.get(`${base}/v1/saml/kc-saml-signed/login`, {
        maxRedirects: 0,
      });
      const redirect = new URL(login.headers().location ?? '');
      const signature = Buffer.from(redirect.searchParams.get('Signature') ?? '', 'base64');
      signature[10] = (signature[10] ?? 0) ^ 0xff;
      redirect.searchParams.set('Signature', signature.toString('base64'));
      await page.goto(redirect.href);
      await page.waitForSelector('text=/invalid requester/i');
      expect(await page.locator('#username').count()).toBe(0);
    });
  }, 120_000);

  it("SAML refusal: an attributeMap that does not name the mapper's attribute matches nobody", async () => {
    // Prepare: the Group list mapper renamed to `groups`, while the config maps `member`.
    const models = `/${REALM}/clients/${samlClient.id}/protocol-mappers/models`;
    const mappers =
      await admin.json<{ id: string; name: string; config: Record<string, string> }[]>(models);
    const groups = mappers.find((mapper) => mapper.name === 'groups');
    if (groups === undefined) throw new Error('no groups mapper');
    const rename = (name: string) =>
      admin.call('PUT', `${models}/${groups.id}`, {
        ...groups,
        config: { ...groups.config, 'attribute.name': name },
      });
    await rename('groups');
    try {
      await withContext(async (page) => {
        // Act
        await page.goto(`${base}/v1/saml/kc-saml/login?target=credentials`);
        await signInAtKeycloak(page, 'bob', 'bob-pass');
        await page.waitForSelector('h1:has-text("Sign-in failed")');
        // Assess
        const requestId = (await page.textContent('main code')) ?? '';
        const record = audits().find((audit) => audit.requestId === requestId);
        expect(record).toMatchObject({ reason: 'no_matching_mapping', outcome: 'denied' });
        expect(record?.roleArn).toBeUndefined();
      });
    } finally {
      await rename('member');
    }
  }, 90_000);

  it('SAML refusal: a client that signs only the document gets the error page (assertion_unsigned)', async () => {
    // Prepare: what a hand-made Keycloak client does by default.
    await setClientAttributes(admin, REALM, samlClient.id, { 'saml.assertion.signature': 'false' });
    try {
      await withContext(async (page) => {
        // Act
        await page.goto(`${base}/v1/saml/kc-saml/login?target=credentials`);
        await signInAtKeycloak(page, 'bob', 'bob-pass');
        await page.waitForSelector('h1:has-text("Sign-in failed")');
        // Assess: the generic page with a request id; the reason only in the audit record.
        const body = (await page.textContent('main')) ?? '';
        const requestId = (await page.textContent('main code')) ?? '';
        expect(body).toContain(`request id ${requestId}`);
        expect(body).not.toContain('assertion_unsigned');
        const record = audits().find((audit) => audit.requestId === requestId);
        expect(record).toMatchObject({ reason: 'assertion_unsigned', outcome: 'denied' });
        expect(record?.roleArn).toBeUndefined();
      });
    } finally {
      await setClientAttributes(admin, REALM, samlClient.id, {
        'saml.assertion.signature': 'true',
      });
    }
  }, 90_000);
});
