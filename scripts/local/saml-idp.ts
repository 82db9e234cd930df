/**
 * A real SAML 2.0 IdP on loopback: Debian's SimpleSAMLphp 1.19 served by `php -S`, from a config
 * directory of its own (nothing under /usr/share or /etc is touched). Used by `npm start` (fixed
 * port 9500, persistent directory under .local/saml-idp/) and by the SAML end-to-end tests (free
 * port, throw-away directory removed on stop).
 *
 * Users sign in on SimpleSAMLphp's own login form (fields `username` and `password`); the IdP then
 * answers with an auto-submitting HTTP-POST form carrying a signed Response with a signed
 * Assertion, NameID = the `email` attribute (emailAddress format), attributes in `basic` format.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopProcessGroup } from './aws-stack.ts';

const execFileAsync = promisify(execFile);

/** Debian's package puts the web root here; `php -S -t` serves it as is. */
export const SIMPLESAMLPHP_WWW = '/usr/share/simplesamlphp/www';
const PHP = '/usr/bin/php';
const OPENSSL = '/usr/bin/openssl';

/** Where `npm start` runs the IdP (TVM_SAML_IDP_PORT overrides it). */
export const LOCAL_SAML_IDP_PORT = 9500;

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
  /**
   * The SP's own metadata XML. When given, SimpleSAMLphp reads the SP (entity id, ACS, NameID
   * formats) from it with its own metadata parser, as an IdP admin importing it would, instead of
   * from `spEntityId`/`acsUrl`; an SP metadata document it cannot use fails the IdP's start.
   */
  spMetadataXml?: string;
  /**
   * IdP-side options per SP entity id (from `spMetadataXml`, which may be an EntitiesDescriptor of
   * several SPs), laid over the common ones, e.g. `{ 'assertion.encryption': true }`.
   */
  spOptions?: Record<string, Record<string, unknown>>;
  /** `username → password and attributes`; DEFAULT_SAML_USERS when omitted. */
  users?: Record<string, SamlTestUser>;
  /** How long to wait for the metadata to answer; 15 s by default. */
  startTimeoutMs?: number;
  /** A fixed port on 127.0.0.1; a free one when omitted. Refused up front when it is taken. */
  port?: number;
  /**
   * A persistent directory: the key pair is generated on first use and reused afterwards (so a
   * config that pins the certificate stays valid), and stop() leaves the directory in place.
   * When omitted, a fresh temporary directory with a fresh key, removed by stop().
   */
  stateDir?: string;
  /** The certificate's subject CN when one is generated; `tvm-test-idp` by default. */
  commonName?: string;
}

export interface SimpleSamlIdp {
  /** `http://127.0.0.1:<port>/`, with the trailing slash. */
  baseUrl: string;
  port: number;
  /** Also the metadata URL, as SimpleSAMLphp likes it. */
  entityId: string;
  /** SingleSignOnService (both Redirect and POST); `?spentityid=` starts an IdP-initiated login. */
  ssoUrl: string;
  metadataUrl: string;
  /** The IdP's signing certificate (self-signed RSA-2048). */
  certificatePem: string;
  /** The config directory root (temporary unless `stateDir` was given). */
  root: string;
  /** The php server's pid, also its process group id. */
  pid: number;
  /** The IdP's EntityDescriptor, fetched fresh. */
  metadataXml(): Promise<string>;
  /**
   * Ends the php server's process group and, for a temporary directory, removes it. Idempotent.
   */
  stop(): Promise<void>;
}

export class SamlIdpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

// Last resort if the parent exits without stop(): the php server runs in its own process group
// (so Ctrl-C in a terminal does not reach it), so nothing else would end it.
const liveGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

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
  return `<?php\n// Written by scripts/local/saml-idp.ts on every start.\n${variable} = ${phpLiteral(value)};\n`;
}

/**
 * saml20-sp-remote.php that parses the SP metadata with SimpleSAMLphp's SAMLParser at load time;
 * our IdP-side options (signing, NameID from `email`) are laid over what the metadata says.
 */
function spRemoteFromMetadata(
  metadataXml: string,
  idpSide: Record<string, unknown>,
  perSp: Record<string, Record<string, unknown>> = {},
): string {
  const { AssertionConsumerService: _fromConfig, ...overrides } = idpSide;
  return `<?php
// Written by scripts/local/saml-idp.ts on every start: the SP as its own metadata describes it.
$entities = \\SimpleSAML\\Metadata\\SAMLParser::parseDescriptorsString(${phpLiteral(metadataXml)});
foreach ($entities as $entity) {
    $sp = $entity->getMetadata20SP();
    if ($sp === null) {
        throw new \\Exception('the SP metadata describes no SAML 2.0 SP');
    }
    $perSp = ${phpLiteral(perSp)};
    $metadata[$sp['entityid']] = array_merge($sp, ${phpLiteral(overrides)}, $perSp[$sp['entityid']] ?? []);
}
`;
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

/** Listens on `port` (0 = any) on 127.0.0.1 and closes again: the port, or why it is not free. */
function probePort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no TCP address for the probe server'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** The missing system files, if any (`npm run setup` installs them). */
export function missingIdpTools(): string[] {
  return [PHP, OPENSSL, path.join(SIMPLESAMLPHP_WWW, 'index.php')].filter(
    (needed) => !existsSync(needed),
  );
}

/**
 * The IdP's key pair under `certDir`: reused when both files exist, otherwise generated (to
 * temporary names first, so an interrupted run never leaves a key without its certificate).
 */
async function ensureKeyPair(
  certDir: string,
  commonName: string,
): Promise<{ keyFile: string; certFile: string }> {
  const keyFile = path.join(certDir, 'idp.key');
  const certFile = path.join(certDir, 'idp.crt');
  if (existsSync(keyFile) && existsSync(certFile)) return { keyFile, certFile };
  const newKey = `${keyFile}.new`;
  const newCert = `${certFile}.new`;
  // RSA key generation dominates a first start-up (~0.1-0.5 s).
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
      `/CN=${commonName}`,
      '-keyout',
      newKey,
      '-out',
      newCert,
    ],
    { timeout: 30_000 },
  );
  await chmod(newKey, 0o600);
  await rename(newKey, keyFile);
  await rename(newCert, certFile);
  return { keyFile, certFile };
}

/** A random secret kept in `file` (created on first use). */
async function persistentSecret(file: string, bytes: number): Promise<string> {
  if (existsSync(file)) {
    const value = (await readFile(file, 'utf8')).trim();
    if (value !== '') return value;
  }
  const value = randomBytes(bytes).toString('hex');
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return value;
}

export async function startSimpleSamlIdp(
  options: StartSimpleSamlIdpOptions,
): Promise<SimpleSamlIdp> {
  const missing = missingIdpTools();
  if (missing.length > 0) {
    throw new SamlIdpError(
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: run \`npm run setup\` (it installs simplesamlphp, php8.2-cli, php8.2-xml, php8.2-mbstring and openssl from Debian)`,
    );
  }
  const users = options.users ?? DEFAULT_SAML_USERS;
  for (const username of Object.keys(users)) {
    // exampleauth:UserPass keys its users by `username:password`, split at the first colon.
    if (username === '' || username.includes(':')) {
      throw new SamlIdpError(`SAML user names must be non-empty and colon-free: ${username}`);
    }
  }

  let port: number;
  try {
    port = await probePort(options.port ?? 0);
  } catch (error) {
    throw new SamlIdpError(
      `127.0.0.1:${options.port} is not free for the SAML IdP (${(error as NodeJS.ErrnoException).code ?? error}); is another \`npm start\` running?`,
    );
  }

  const persistent = options.stateDir !== undefined;
  const root =
    options.stateDir === undefined
      ? await mkdtemp(path.join(tmpdir(), 'tvm-saml-idp-'))
      : path.resolve(options.stateDir);
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child?.pid !== undefined) {
      await stopProcessGroup(child.pid, exited, 2_000);
      liveGroups.delete(child.pid);
    }
    if (!persistent) await rm(root, { recursive: true, force: true });
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
    await mkdir(root, { recursive: true, mode: 0o700 });
    await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));

    await ensureKeyPair(dirs.cert, options.commonName ?? 'tvm-test-idp');
    const certificatePem = await readFile(path.join(dirs.cert, 'idp.crt'), 'utf8');

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
      technicalcontact_name: 'TVM local IdP',
      technicalcontact_email: 'tvm-tests@corp.example',
      timezone: 'UTC',
      // Kept across restarts in a persistent directory, so existing IdP sessions stay valid.
      secretsalt: persistent
        ? await persistentSecret(path.join(root, 'secretsalt'), 24)
        : randomBytes(24).toString('hex'),
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
      // Debug for throw-away test IdPs (their log is read on failure); warnings for npm start's
      // persistent one, whose log would otherwise grow with every login.
      'logging.level': persistent ? 4 : 7, // SimpleSAML\Logger::WARNING / DEBUG
      'logging.handler': 'file',
      'logging.logfile': 'simplesamlphp.log',
      'logging.processname': 'tvm-local-idp',
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
      writeFile(path.join(dirs.config, 'config.php'), phpFile('$config', config), { mode: 0o600 }),
      writeFile(path.join(dirs.config, 'authsources.php'), phpFile('$config', authsources)),
      writeFile(
        path.join(dirs.metadata, 'saml20-idp-hosted.php'),
        phpFile(`$metadata[${phpLiteral(entityId)}]`, idpHosted),
      ),
      writeFile(
        path.join(dirs.metadata, 'saml20-sp-remote.php'),
        options.spMetadataXml === undefined
          ? phpFile(`$metadata[${phpLiteral(options.spEntityId)}]`, spRemote)
          : spRemoteFromMetadata(options.spMetadataXml, spRemote, options.spOptions),
      ),
    ]);

    // php's own output (one line per request) goes to a file, read back only to explain a failure.
    const serverLog = path.join(dirs.log, 'php-server.log');
    const out = openSync(serverLog, 'w');
    try {
      child = spawn(PHP, ['-S', `127.0.0.1:${port}`, '-t', SIMPLESAMLPHP_WWW], {
        cwd: root,
        env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: dirs.config },
        detached: true,
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    const proc = child;
    let gone = false;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        gone = true;
        resolve();
      });
      proc.once('error', () => {
        gone = true;
        resolve();
      });
    });
    if (proc.pid === undefined) {
      await exited;
      throw new SamlIdpError(`${PHP} did not start`);
    }
    const pid = proc.pid;
    liveGroups.add(pid);

    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    let ready = false;
    let last = 'no answer yet';
    while (!ready && !gone) {
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
    if (!ready || gone) {
      if (gone) last = `php exited (${last})`;
      const logFile = path.join(dirs.log, 'simplesamlphp.log');
      const log = existsSync(logFile) ? tail(await readFile(logFile, 'utf8')) : '(no log file)';
      const php = existsSync(serverLog) ? tail(await readFile(serverLog, 'utf8')) : '';
      throw new SamlIdpError(
        `SimpleSAMLphp did not serve ${metadataUrl}: ${last}\n--- php output ---\n${php}\n--- simplesamlphp.log ---\n${log}`,
      );
    }

    return {
      baseUrl,
      port,
      entityId,
      ssoUrl,
      metadataUrl,
      certificatePem,
      root,
      pid,
      async metadataXml() {
        const response = await fetch(metadataUrl);
        if (response.status !== 200) {
          throw new SamlIdpError(`${metadataUrl} answered ${response.status}`);
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
