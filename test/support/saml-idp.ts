/**
 * A real SAML 2.0 IdP for tests: Debian's SimpleSAMLphp 1.19 served by `php -S` on loopback,
 * from a throw-away config directory (nothing under /usr/share or /etc is touched).
 *
 * Users sign in on SimpleSAMLphp's own login form (fields `username` and `password`); the IdP then
 * answers with an auto-submitting HTTP-POST form carrying a signed Response with a signed
 * Assertion, NameID = the `email` attribute (emailAddress format), attributes in `basic` format.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page, Route } from 'playwright-core';
import { childEnv, freePort, type GroupProcess, killGroup, spawnGroup } from './process.ts';

const execFileAsync = promisify(execFile);

/** Debian's package puts the web root here; `php -S -t` serves it as is. */
export const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www';
const PHP = '/usr/bin/php';
const OPENSSL = '/usr/bin/openssl';

export const SAML_BINDING_HTTP_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const SAML_NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const SAML_ATTRNAME_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
export const SIGNATURE_RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';

export interface SamlTestUser {
  password: string;
  attributes: Record<string, string[]>;
}

/**
 * alice is in both AWS groups, bob only reads, mallory has no AWS group and no email (so the IdP
 * falls back to a transient NameID for her).
 */
export const DEFAULT_SAML_USERS: Readonly<Record<string, SamlTestUser>> = {
  alice: {
    password: 'alice-pass',
    attributes: {
      uid: ['alice'],
      email: ['alice@corp.example'],
      groups: ['aws-readers', 'aws-admins'],
    },
  },
  bob: {
    password: 'bob-pass',
    attributes: { uid: ['bob'], email: ['bob@corp.example'], groups: ['aws-readers'] },
  },
  mallory: {
    password: 'mallory-pass',
    attributes: { groups: ['contractors'] },
  },
};

export interface StartSimpleSamlIdpOptions {
  /** The one SP the IdP knows (saml20-sp-remote). */
  spEntityId: string;
  /** Where the IdP posts the SAMLResponse (HTTP-POST binding). */
  acsUrl: string;
  /** `username → password and attributes`; DEFAULT_SAML_USERS when omitted. */
  users?: Record<string, SamlTestUser>;
  /** How long to wait for the metadata to answer; 15 s by default. */
  startTimeoutMs?: number;
}

export interface SimpleSamlIdp {
  /** `http://127.0.0.1:<port>/`, with the trailing slash. */
  baseUrl: string;
  /** Also the metadata URL, as SimpleSAMLphp likes it. */
  entityId: string;
  /** SingleSignOnService (both Redirect and POST); `?spentityid=` starts an IdP-initiated login. */
  ssoUrl: string;
  metadataUrl: string;
  /** The IdP's signing certificate (self-signed RSA-2048, `CN=tvm-test-idp`). */
  certificatePem: string;
  /** The IdP's EntityDescriptor, fetched fresh. */
  metadataXml(): Promise<string>;
  /** Ends the php server's process group and removes the config directory. Idempotent. */
  stop(): Promise<void>;
}

/** A PHP literal for a JSON-like value: single-quoted strings need only `\` and `'` escaped. */
function phpLiteral(value: unknown, indent = ''): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`no PHP literal for ${value}`);
    return String(value);
  }
  if (typeof value === 'string')
    return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => `${inner}${phpLiteral(item, inner)},\n`).join('')}${indent}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '[]';
    const lines = entries.map(
      ([key, item]) => `${inner}${phpLiteral(key)} => ${phpLiteral(item, inner)},\n`,
    );
    return `[\n${lines.join('')}${indent}]`;
  }
  throw new Error(`no PHP literal for a ${typeof value}`);
}

function phpFile(variable: string, value: unknown): string {
  return `<?php\n// Written by test/support/saml-idp.ts\n${variable} = ${phpLiteral(value)};\n`;
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The base64 body of a PEM certificate, on one line (as it appears in ds:X509Certificate). */
export function pemBody(pem: string): string {
  return pem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '')
    .trim();
}

export async function startSimpleSamlIdp(
  options: StartSimpleSamlIdpOptions,
): Promise<SimpleSamlIdp> {
  for (const needed of [PHP, OPENSSL, path.join(SIMPLESAMLPHP_WWW, 'index.php')]) {
    if (!existsSync(needed)) {
      throw new Error(
        `${needed} is missing: run \`npm run setup\` (it installs simplesamlphp, php8.2-cli, php8.2-xml, php8.2-mbstring and openssl from Debian)`,
      );
    }
  }
  const users = options.users ?? DEFAULT_SAML_USERS;
  for (const username of Object.keys(users)) {
    // exampleauth:UserPass keys its users by `username:password`, split at the first colon.
    if (username === '' || username.includes(':')) {
      throw new Error(`SAML test user names must be non-empty and colon-free: ${username}`);
    }
  }

  const root = await mkdtemp(path.join(tmpdir(), 'tvm-saml-idp-'));
  let server: GroupProcess | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (server !== undefined) await killGroup(server, 2_000);
    await rm(root, { recursive: true, force: true });
  };

  try {
    const dirs = {
      config: path.join(root, 'config'),
      metadata: path.join(root, 'metadata'),
      cert: path.join(root, 'cert'),
      tmp: path.join(root, 'tmp'),
      data: path.join(root, 'data'),
      log: path.join(root, 'log'),
      sessions: path.join(root, 'sessions'),
    };
    await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));

    const keyFile = path.join(dirs.cert, 'idp.key');
    const certFile = path.join(dirs.cert, 'idp.crt');
    // RSA key generation dominates start-up (~0.1-0.5 s); a fresh key per IdP keeps tests honest.
    await execFileAsync(
      OPENSSL,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        '/CN=tvm-test-idp',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { timeout: 30_000 },
    );
    const certificatePem = await readFile(certFile, 'utf8');

    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}/`;
    const metadataUrl = `${baseUrl}saml2/idp/metadata.php`;
    const entityId = metadataUrl;
    const ssoUrl = `${baseUrl}saml2/idp/SSOService.php`;

    const config = {
      baseurlpath: baseUrl,
      certdir: `${dirs.cert}/`,
      metadatadir: `${dirs.metadata}/`,
      tempdir: dirs.tmp,
      datadir: `${dirs.data}/`,
      loggingdir: `${dirs.log}/`,
      technicalcontact_name: 'TVM tests',
      technicalcontact_email: 'tvm-tests@corp.example',
      timezone: 'UTC',
      secretsalt: randomBytes(24).toString('hex'),
      'auth.adminpassword': randomBytes(12).toString('hex'),
      'admin.protectindexpage': false,
      'admin.protectmetadata': false,
      'admin.checkforupdates': false,
      'trusted.url.domains': [],
      'enable.saml20-idp': true,
      'enable.shib13-idp': false,
      'enable.adfs-idp': false,
      // 1.19 honours module.enable over the modules' default-enable/-disable files, so no `enable`
      // file under /usr/share is needed. exampleauth is default-disabled.
      'module.enable': { exampleauth: true, core: true, saml: true, admin: false },
      showerrors: true,
      errorreporting: false,
      debug: { saml: false, backtraces: true, validatexml: false },
      'logging.level': 7, // SimpleSAML\Logger::DEBUG
      'logging.handler': 'file',
      'logging.logfile': 'simplesamlphp.log',
      'logging.processname': 'tvm-test-idp',
      'statistics.out': [],
      'store.type': 'phpsession',
      'session.phpsession.savepath': dirs.sessions,
      'session.phpsession.cookiename': `SimpleSAML${port}`,
      'session.phpsession.httponly': true,
      'session.cookie.name': `SimpleSAMLSessionID${port}`,
      'session.authtoken.cookiename': `SimpleSAMLAuthToken${port}`,
      'session.cookie.path': '/',
      'session.cookie.domain': null,
      // Plain http: with `secure` true, 1.19 refuses every session ("Setting secure cookie on
      // plain HTTP is not allowed"), and browsers drop SameSite=None without Secure. Lax still
      // travels on the login's top-level navigations. Cookies ignore ports, so the names carry
      // the port: two IdPs on 127.0.0.1 must not share a session.
      'session.cookie.secure': false,
      'session.cookie.samesite': 'Lax',
      'language.default': 'en',
      'language.available': ['en'],
      'language.cookie.secure': false,
      'language.cookie.samesite': null,
      'metadata.sources': [{ type: 'flatfile' }],
      'metadata.sign.enable': false,
    };

    // exampleauth:UserPass: element 0 is the class, then `'user:password' => attributes`.
    const authsources = {
      'example-userpass': {
        0: 'exampleauth:UserPass',
        ...Object.fromEntries(
          Object.entries(users).map(([name, user]) => [
            `${name}:${user.password}`,
            user.attributes,
          ]),
        ),
      },
    };

    const idpHosted = {
      host: '__DEFAULT__',
      privatekey: 'idp.key',
      certificate: 'idp.crt',
      auth: 'example-userpass',
      'signature.algorithm': SIGNATURE_RSA_SHA256,
      'saml20.sign.assertion': true,
      'saml20.sign.response': true,
      NameIDFormat: SAML_NAMEID_EMAIL,
      'simplesaml.nameidattribute': 'email',
      'attributes.NameFormat': SAML_ATTRNAME_BASIC,
    };

    const spRemote = {
      AssertionConsumerService: [
        { Binding: SAML_BINDING_HTTP_POST, Location: options.acsUrl, index: 0 },
      ],
      'validate.authnrequest': false,
      'saml20.sign.assertion': true,
      'saml20.sign.response': true,
      'signature.algorithm': SIGNATURE_RSA_SHA256,
      NameIDFormat: SAML_NAMEID_EMAIL,
      'simplesaml.nameidattribute': 'email',
      'attributes.NameFormat': SAML_ATTRNAME_BASIC,
    };

    await Promise.all([
      writeFile(path.join(dirs.config, 'config.php'), phpFile('$config', config)),
      writeFile(path.join(dirs.config, 'authsources.php'), phpFile('$config', authsources)),
      writeFile(
        path.join(dirs.metadata, 'saml20-idp-hosted.php'),
        phpFile(`$metadata[${phpLiteral(entityId)}]`, idpHosted),
      ),
      writeFile(
        path.join(dirs.metadata, 'saml20-sp-remote.php'),
        phpFile(`$metadata[${phpLiteral(options.spEntityId)}]`, spRemote),
      ),
    ]);

    server = spawnGroup(PHP, ['-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW], {
      cwd: root,
      env: childEnv({ set: { SIMPLESAMLPHP_CONFIG_DIR: dirs.config } }),
    });
    const proc = server;
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });

    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    let ready = false;
    let last = 'no answer yet';
    while (!ready && !exited) {
      try {
        const response = await fetch(metadataUrl, { signal: AbortSignal.timeout(2_000) });
        const body = await response.text();
        ready = response.status === 200 && body.includes('EntityDescriptor');
        last = `HTTP ${response.status}: ${tail(body, 15)}`;
      } catch (error) {
        last = String(error);
      }
      if (ready || Date.now() >= deadline) break;
      await delay(100);
    }
    if (!ready) {
      if (exited) last = `php exited (${last})`;
      const logFile = path.join(dirs.log, 'simplesamlphp.log');
      const log = existsSync(logFile) ? tail(await readFile(logFile, 'utf8')) : '(no log file)';
      throw new Error(
        `SimpleSAMLphp did not serve ${metadataUrl}: ${last}\n--- php output ---\n${tail(proc.output())}\n--- simplesamlphp.log ---\n${log}`,
      );
    }

    return {
      baseUrl,
      entityId,
      ssoUrl,
      metadataUrl,
      certificatePem,
      async metadataXml() {
        const response = await fetch(metadataUrl);
        if (response.status !== 200) {
          throw new Error(`${metadataUrl} answered ${response.status}`);
        }
        return response.text();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The URL that starts an IdP-initiated login for `spEntityId` (optionally with a RelayState). */
export function idpInitiatedUrl(
  idp: SimpleSamlIdp,
  spEntityId: string,
  relayState?: string,
): string {
  const url = new URL(idp.ssoUrl);
  url.searchParams.set('spentityid', spEntityId);
  if (relayState !== undefined) url.searchParams.set('RelayState', relayState);
  return url.href;
}

/**
 * Fills and submits SimpleSAMLphp's login form (`username`, `password`; it posts them with the
 * hidden `AuthState` to `/module.php/core/loginuserpass.php`). `page` must be on, or on its way
 * to, that form; if an error page shows up instead, the error says what it reads.
 */
export async function signInAtSimpleSamlIdp(
  page: Page,
  username: string,
  password: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  try {
    await page.waitForSelector('form input[name="username"]', {
      timeout: options.timeoutMs ?? 10_000,
    });
  } catch (error) {
    const text = await page.textContent('body', { timeout: 1_000 }).catch(() => '(no page body)');
    throw new Error(
      `no SimpleSAMLphp login form at ${page.url()}: ${String(error)}\n${(text ?? '').replace(/\s+/g, ' ').slice(0, 800)}`,
    );
  }
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await page.click('form button[type="submit"], form input[type="submit"]');
}

export interface CapturedSamlPost {
  /** The exact URL the browser posted to. */
  url: string;
  /** Every form field, decoded. */
  fields: URLSearchParams;
  /** The base64 SAMLResponse field. */
  samlResponse: string;
  /** The SAMLResponse decoded to XML. */
  samlResponseXml: string;
  relayState: string | null;
}

export interface SamlPostCapture {
  /** Settles with the first POST to the ACS; rejects after `timeoutMs`. */
  readonly posted: Promise<CapturedSamlPost>;
  /** Removes the interception. */
  dispose(): Promise<void>;
}

/**
 * Intercepts the browser's POST to `acsUrl` (matched on origin and path) and answers it with a
 * tiny page, so the SAMLResponse never leaves the browser. Await it before navigating.
 */
export async function captureSamlPost(
  page: Page,
  acsUrl: string,
  options: { timeoutMs?: number } = {},
): Promise<SamlPostCapture> {
  const target = new URL(acsUrl);
  const matches = (url: URL): boolean =>
    url.origin === target.origin && url.pathname === target.pathname;
  let resolve!: (post: CapturedSamlPost) => void;
  let reject!: (error: Error) => void;
  const posted = new Promise<CapturedSamlPost>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  const timer = setTimeout(
    () => reject(new Error(`no POST to ${acsUrl} within ${options.timeoutMs ?? 20_000} ms`)),
    options.timeoutMs ?? 20_000,
  );
  timer.unref();
  const handler = async (route: Route): Promise<void> => {
    const request = route.request();
    if (request.method() !== 'POST') {
      await route.fulfill({ status: 405, body: 'the test ACS only takes POST' });
      return;
    }
    const fields = new URLSearchParams(request.postData() ?? '');
    const samlResponse = fields.get('SAMLResponse');
    await route.fulfill({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: '<!doctype html><title>captured</title><p>SAMLResponse captured by the test ACS</p>',
    });
    clearTimeout(timer);
    if (samlResponse === null) {
      reject(new Error(`POST to ${request.url()} had no SAMLResponse: ${request.postData()}`));
      return;
    }
    resolve({
      url: request.url(),
      fields,
      samlResponse,
      samlResponseXml: Buffer.from(samlResponse, 'base64').toString('utf8'),
      relayState: fields.get('RelayState'),
    });
  };
  await page.route(matches, handler);
  // Nobody may be awaiting yet; the rejection is still reported to whoever awaits `posted`.
  posted.catch(() => undefined);
  return {
    posted,
    async dispose() {
      clearTimeout(timer);
      await page.unroute(matches, handler);
    },
  };
}
