/**
 * Builds and signs the SAML 2.0 test fixtures: one valid Response (both the Assertion and the
 * Response signed, RSA-SHA256, exclusive C14N) and the DOM plumbing the attack fixtures are made
 * of. scripts/saml/generate-fixtures.ts writes the committed files with it; tests import it to
 * build variants at runtime (another InResponseTo, other times, a DOCTYPE naming a test server).
 *
 * Everything here is deterministic: fixed instants, and RSA PKCS#1 v1.5 signatures, so building
 * the same thing twice gives the same bytes.
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
} as const;

export const ALGORITHMS = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  hmacSha1: 'http://www.w3.org/2000/09/xmldsig#hmac-sha1',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
  xslt: 'http://www.w3.org/TR/1999/REC-xslt-19991116',
  xpath: 'http://www.w3.org/TR/1999/REC-xpath-19991116',
} as const;

/** The instant every fixture is issued at; tests run their clock at T0 + 60 s. */
const T0 = '2026-01-01T00:00:00Z';

/** `iso` moved by `seconds`, in the second-precision `Z` form SAML uses. */
export function shiftTime(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export const FIXTURE = {
  t0: T0,
  /** Conditions NotBefore: T0 - 30 s. */
  notBefore: shiftTime(T0, -30),
  /** Conditions and SubjectConfirmationData NotOnOrAfter: T0 + 300 s. */
  notOnOrAfter: shiftTime(T0, 300),
  idpEntityId: 'https://idp.corp.example/saml',
  spEntityId: 'https://tvm.test.example/v1/saml/corp/metadata',
  acsUrl: 'https://tvm.test.example/v1/saml/corp/acs',
  responseId: '_resp-fixture-0001',
  assertionId: '_assert-fixture-0001',
  inResponseTo: '_req-fixture-0001',
  sessionIndex: '_session-fixture-0001',
  statusSuccess: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  nameId: 'alice@corp.example',
  bearer: 'urn:oasis:names:tc:SAML:2.0:cm:bearer',
  attributeNameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  authnContextClassRef: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
  attributes: {
    email: ['alice@corp.example'],
    groups: ['aws-readers', 'aws-admins'],
    department: ['engineering'],
  } as Readonly<Record<string, readonly string[]>>,
  /** What every wrapping attack's evil assertion claims. */
  evil: {
    assertionId: '_evil-assert-0001',
    responseId: '_evil-resp-0001',
    nameId: 'admin@corp.example',
    /** The one groups value left. */
    group: 'aws-admins',
  },
  ns: NS,
} as const;

/** Every field of the generated Response. `null` leaves the attribute or element out. */
export interface ResponseFields {
  responseId: string;
  assertionId: string;
  /** Response IssueInstant. */
  issueInstant: string;
  assertionIssueInstant: string;
  authnInstant: string;
  notBefore: string;
  notOnOrAfter: string;
  subjectNotOnOrAfter: string;
  responseIssuer: string | null;
  assertionIssuer: string;
  destination: string | null;
  recipient: string | null;
  /** On both the Response and the SubjectConfirmationData. */
  inResponseTo: string | null;
  /** `null` leaves the whole AudienceRestriction out. */
  audience: string | null;
  statusCode: string;
  /** `null` leaves the NameID element out. */
  nameId: string | null;
  nameIdFormat: string;
  subjectConfirmationMethod: string;
  sessionIndex: string;
  /** In order; each value is one AttributeValue. */
  attributes: Readonly<Record<string, readonly string[]>>;
}

export type ResponseOverrides = Partial<ResponseFields>;

export function responseFields(overrides: ResponseOverrides = {}): ResponseFields {
  const issueInstant = overrides.issueInstant ?? FIXTURE.t0;
  return {
    responseId: FIXTURE.responseId,
    assertionId: FIXTURE.assertionId,
    issueInstant,
    assertionIssueInstant: issueInstant,
    authnInstant: issueInstant,
    notBefore: FIXTURE.notBefore,
    notOnOrAfter: FIXTURE.notOnOrAfter,
    subjectNotOnOrAfter: FIXTURE.notOnOrAfter,
    responseIssuer: FIXTURE.idpEntityId,
    assertionIssuer: FIXTURE.idpEntityId,
    destination: FIXTURE.acsUrl,
    recipient: FIXTURE.acsUrl,
    inResponseTo: FIXTURE.inResponseTo,
    audience: FIXTURE.spEntityId,
    statusCode: FIXTURE.statusSuccess,
    nameId: FIXTURE.nameId,
    nameIdFormat: FIXTURE.nameIdFormat,
    subjectConfirmationMethod: FIXTURE.bearer,
    sessionIndex: FIXTURE.sessionIndex,
    attributes: FIXTURE.attributes,
    ...overrides,
  };
}

/** Every instant of the response moved by `seconds` (for expired / not-yet-valid variants). */
export function shiftedTimes(seconds: number): ResponseOverrides {
  return {
    issueInstant: shiftTime(FIXTURE.t0, seconds),
    assertionIssueInstant: shiftTime(FIXTURE.t0, seconds),
    authnInstant: shiftTime(FIXTURE.t0, seconds),
    notBefore: shiftTime(FIXTURE.notBefore, seconds),
    notOnOrAfter: shiftTime(FIXTURE.notOnOrAfter, seconds),
    subjectNotOnOrAfter: shiftTime(FIXTURE.notOnOrAfter, seconds),
  };
}

function escapeXml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function attrs(pairs: Record<string, string | null>): string {
  return Object.entries(pairs)
    .filter((pair): pair is [string, string] => pair[1] !== null)
    .map(([name, value]) => ` ${name}="${escapeXml(value)}"`)
    .join('');
}

/** The Response as an IdP writes it before signing: indented, no signatures. */
export function buildUnsignedResponse(overrides: ResponseOverrides = {}): string {
  const f = responseFields(overrides);
  const lines: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<samlp:Response xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}"${attrs({
      ID: f.responseId,
      Version: '2.0',
      IssueInstant: f.issueInstant,
      Destination: f.destination,
      InResponseTo: f.inResponseTo,
    })}>`,
  ];
  if (f.responseIssuer !== null) {
    lines.push(`  <saml:Issuer>${escapeXml(f.responseIssuer)}</saml:Issuer>`);
  }
  lines.push(
    '  <samlp:Status>',
    `    <samlp:StatusCode Value="${escapeXml(f.statusCode)}"/>`,
    '  </samlp:Status>',
    `  <saml:Assertion xmlns:saml="${NS.saml}"${attrs({
      ID: f.assertionId,
      Version: '2.0',
      IssueInstant: f.assertionIssueInstant,
    })}>`,
    `    <saml:Issuer>${escapeXml(f.assertionIssuer)}</saml:Issuer>`,
    '    <saml:Subject>',
  );
  if (f.nameId !== null) {
    lines.push(
      `      <saml:NameID Format="${escapeXml(f.nameIdFormat)}">${escapeXml(f.nameId)}</saml:NameID>`,
    );
  }
  lines.push(
    `      <saml:SubjectConfirmation Method="${escapeXml(f.subjectConfirmationMethod)}">`,
    `        <saml:SubjectConfirmationData${attrs({
      InResponseTo: f.inResponseTo,
      NotOnOrAfter: f.subjectNotOnOrAfter,
      Recipient: f.recipient,
    })}/>`,
    '      </saml:SubjectConfirmation>',
    '    </saml:Subject>',
    `    <saml:Conditions NotBefore="${f.notBefore}" NotOnOrAfter="${f.notOnOrAfter}">`,
  );
  if (f.audience !== null) {
    lines.push(
      '      <saml:AudienceRestriction>',
      `        <saml:Audience>${escapeXml(f.audience)}</saml:Audience>`,
      '      </saml:AudienceRestriction>',
    );
  }
  lines.push(
    '    </saml:Conditions>',
    `    <saml:AuthnStatement AuthnInstant="${f.authnInstant}" SessionIndex="${escapeXml(f.sessionIndex)}">`,
    '      <saml:AuthnContext>',
    `        <saml:AuthnContextClassRef>${FIXTURE.authnContextClassRef}</saml:AuthnContextClassRef>`,
    '      </saml:AuthnContext>',
    '    </saml:AuthnStatement>',
    '    <saml:AttributeStatement>',
  );
  for (const [name, values] of Object.entries(f.attributes)) {
    lines.push(
      `      <saml:Attribute Name="${escapeXml(name)}" NameFormat="${FIXTURE.attributeNameFormat}">`,
    );
    for (const value of values) {
      lines.push(`        <saml:AttributeValue>${escapeXml(value)}</saml:AttributeValue>`);
    }
    lines.push('      </saml:Attribute>');
  }
  lines.push('    </saml:AttributeStatement>', '  </saml:Assertion>', '</samlp:Response>', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Keys

export interface KeyPair {
  /** PKCS#8 PEM private key. */
  key: string;
  /** PEM certificate (self-signed, valid 2025-01-01 .. 2045-01-01). */
  cert: string;
}

export const DEFAULT_FIXTURE_DIR = fileURLToPath(
  new URL('../../test/fixtures/saml/', import.meta.url),
);
export const DEFAULT_KEYS_DIR = join(DEFAULT_FIXTURE_DIR, 'keys');

const CA_CONFIG = `[ca]
default_ca = fixture
[fixture]
database = index.txt
new_certs_dir = .
serial = serial
policy = policy_any
unique_subject = no
email_in_dn = no
default_md = sha256
x509_extensions = signing
[policy_any]
commonName = supplied
[signing]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
`;

/**
 * `<dir>/<name>.key` and `<dir>/<name>.crt`, created with openssl when missing (RSA-2048,
 * self-signed through `openssl ca -selfsign`, the one openssl 3.0 command that takes explicit
 * validity dates). Existing files are reused untouched.
 */
export function ensureKeyPair(dir: string, name: string, commonName: string): KeyPair {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  if (!existsSync(keyPath) || !existsSync(certPath)) {
    mkdirSync(dir, { recursive: true });
    const work = mkdtempSync(join(tmpdir(), 'tvm-saml-keys-'));
    try {
      const run = (...args: string[]) =>
        execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      writeFileSync(join(work, 'ca.cnf'), CA_CONFIG);
      writeFileSync(join(work, 'index.txt'), '');
      writeFileSync(join(work, 'serial'), '01\n');
      run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key.pem');
      run('req', '-new', '-key', 'key.pem', '-subj', `/CN=${commonName}`, '-out', 'csr.pem');
      run(
        'ca',
        '-batch',
        '-selfsign',
        '-config',
        'ca.cnf',
        '-keyfile',
        'key.pem',
        '-in',
        'csr.pem',
        '-startdate',
        '20250101000000Z',
        '-enddate',
        '20450101000000Z',
        '-notext',
        '-out',
        'cert.pem',
      );
      writeFileSync(keyPath, readFileSync(join(work, 'key.pem')));
      writeFileSync(certPath, readFileSync(join(work, 'cert.pem')));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
}

export interface FixtureKeys {
  /** The IdP's signing key; its certificate is the one the SP pins. */
  idp: KeyPair;
  /** A key nobody trusts. */
  attacker: KeyPair;
}

const keyCache = new Map<string, FixtureKeys>();

/** The IdP and attacker key pairs in `dir` (created on first use when missing). */
export function loadFixtureKeys(dir: string = DEFAULT_KEYS_DIR): FixtureKeys {
  let keys = keyCache.get(dir);
  if (keys === undefined) {
    keys = {
      idp: ensureKeyPair(dir, 'idp', 'idp.corp.example'),
      attacker: ensureKeyPair(dir, 'attacker', 'attacker.example'),
    };
    keyCache.set(dir, keys);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Signing

export interface SignOptions {
  /** Defaults to the IdP key pair. */
  keyPair?: KeyPair;
  /** Publish the certificate in KeyInfo/X509Data (default true). */
  keyInfo?: boolean;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  /** Default [enveloped-signature, exc-c14n]. */
  transforms?: readonly string[];
  canonicalizationAlgorithm?: string;
  /**
   * HMAC-SHA1 with this secret instead of RSA (the key-confusion attack signs with the IdP
   * certificate's PEM bytes). No KeyInfo.
   */
  hmacKey?: string;
}

/** The element with this ID, wherever it is. */
function byIdXPath(id: string): string {
  return `//*[@ID='${id}']`;
}

/**
 * Signs the element whose ID attribute is `id` with an enveloped signature, placed right after
 * that element's saml:Issuer (schema order), or as its first child when it has no Issuer.
 */
export function signElement(xml: string, id: string, options: SignOptions = {}): string {
  const keyPair = options.keyPair ?? loadFixtureKeys().idp;
  const signatureAlgorithm =
    options.hmacKey !== undefined
      ? ALGORITHMS.hmacSha1
      : (options.signatureAlgorithm ?? ALGORITHMS.rsaSha256);
  const signer = new SignedXml({
    privateKey: options.hmacKey ?? keyPair.key,
    ...(options.keyInfo === false || options.hmacKey !== undefined
      ? {}
      : { publicCert: keyPair.cert }),
    signatureAlgorithm,
    canonicalizationAlgorithm: options.canonicalizationAlgorithm ?? ALGORITHMS.excC14n,
  });
  if (options.hmacKey !== undefined) signer.enableHMAC();
  signer.addReference({
    xpath: byIdXPath(id),
    transforms: [...(options.transforms ?? [ALGORITHMS.enveloped, ALGORITHMS.excC14n])],
    digestAlgorithm: options.digestAlgorithm ?? ALGORITHMS.sha256,
  });
  const target = findById(parseXml(xml), id);
  if (target === undefined) throw new Error(`no element with ID ${id}`);
  const hasIssuer = firstChild(target, NS.saml, 'Issuer') !== undefined;
  signer.computeSignature(xml, {
    prefix: 'ds',
    location: hasIssuer
      ? { reference: `${byIdXPath(id)}/*[local-name()='Issuer']`, action: 'after' }
      : { reference: byIdXPath(id), action: 'prepend' },
  });
  return signer.getSignedXml();
}

export interface SignResponseOptions extends SignOptions {
  /** Sign every Assertion that is a direct child of the Response (default true). */
  assertion?: boolean;
  /** Sign the Response, after the assertions (default true). */
  response?: boolean;
}

/** Signs the assertion(s) first, then the Response, the way an IdP signing both does. */
export function signResponse(xml: string, options: SignResponseOptions = {}): string {
  let signed = xml;
  if (options.assertion !== false) {
    const root = parseXml(xml).documentElement;
    if (root === null) throw new Error('no root element');
    for (const assertion of elementChildren(root, NS.saml, 'Assertion')) {
      signed = signElement(signed, requiredId(assertion), options);
    }
  }
  if (options.response !== false) {
    const root = parseXml(signed).documentElement;
    if (root === null) throw new Error('no root element');
    signed = signElement(signed, requiredId(root), options);
  }
  return signed;
}

/** The valid fixture response (or a variant of it), signed. */
export function buildValidResponse(
  overrides: ResponseOverrides = {},
  options: SignResponseOptions = {},
): string {
  return signResponse(buildUnsignedResponse(overrides), options);
}

/** `count` extra groups values: corp-team-0001, corp-team-0002, ... */
export function paddingGroups(count: number): string[] {
  return Array.from(
    { length: count },
    (_, index) => `corp-team-${String(index + 1).padStart(4, '0')}`,
  );
}

/**
 * The valid response with as many extra `groups` values as bring it closest to `targetBytes`
 * (UTF-8). Every value adds the same number of bytes and the signatures have a fixed size, so
 * two builds give the slope.
 */
export function buildPaddedResponse(
  targetBytes: number,
  overrides: ResponseOverrides = {},
  options: SignResponseOptions = {},
): string {
  const attributes = responseFields(overrides).attributes;
  const build = (count: number) =>
    buildValidResponse(
      {
        ...overrides,
        attributes: {
          ...attributes,
          groups: [...(attributes.groups ?? []), ...paddingGroups(count)],
        },
      },
      options,
    );
  const none = Buffer.byteLength(build(0));
  const perValue = Buffer.byteLength(build(1)) - none;
  return build(Math.max(0, Math.round((targetBytes - none) / perValue)));
}

// ---------------------------------------------------------------------------------------------
// DOM plumbing for the attacks

export function parseXml(xml: string): Document {
  const fail = (message: string): never => {
    throw new Error(`fixture XML does not parse: ${message}`);
  };
  return new DOMParser({
    errorHandler: { warning: fail, error: fail, fatalError: fail },
  }).parseFromString(xml, 'text/xml') as unknown as Document;
}

/** The document as text; a document parsed from our output serializes to the same bytes. */
export function serializeXml(node: Node): string {
  // biome-ignore lint/suspicious/noExplicitAny: xmldom's serializer takes its own Node type
  return new XMLSerializer().serializeToString(node as any);
}

/**
 * Elements written as XML (namespaces declared on its root element), imported into `document`
 * for insertion.
 */
export function fragment(document: Document, xml: string): Element {
  const parsed = parseXml(xml).documentElement;
  if (parsed === null) throw new Error('empty fragment');
  return document.importNode(parsed, true) as Element;
}

/** Parse, let `move` change the DOM, serialize. */
export function editXml(xml: string, move: (document: Document) => void): string {
  const document = parseXml(xml);
  move(document);
  return serializeXml(document);
}

function requiredId(element: Element): string {
  const id = element.getAttribute('ID');
  if (id === null || id === '') throw new Error(`<${element.tagName}> has no ID`);
  return id;
}

export function elementChildren(parent: Node, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let child = parent.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType !== 1) continue;
    const element = child as Element;
    if (element.namespaceURI === ns && element.localName === localName) found.push(element);
  }
  return found;
}

export function firstChild(parent: Node, ns: string, localName: string): Element | undefined {
  return elementChildren(parent, ns, localName)[0];
}

/** The one direct child of that name; throws when there is none. */
export function child(parent: Node, ns: string, localName: string): Element {
  const found = firstChild(parent, ns, localName);
  if (found === undefined) throw new Error(`no ${localName} child`);
  return found;
}

/** The first element of that name anywhere below `root`, in document order. */
export function descendant(root: Element | Document, ns: string, localName: string): Element {
  const found = root.getElementsByTagNameNS(ns, localName).item(0);
  if (found === null) throw new Error(`no ${localName} below`);
  return found;
}

export function findById(document: Document, id: string): Element | undefined {
  const all = document.getElementsByTagName('*');
  for (let index = 0; index < all.length; index += 1) {
    const element = all.item(index);
    if (element?.getAttribute('ID') === id) return element;
  }
  return undefined;
}

export function rootResponse(document: Document): Element {
  const root = document.documentElement;
  if (root === null) throw new Error('no root element');
  return root;
}

/** The root Response's (first) Assertion child. */
export function assertionOf(document: Document): Element {
  return child(rootResponse(document), NS.saml, 'Assertion');
}

/** The ds:Signature directly under `element`. */
export function signatureOf(element: Element): Element {
  return child(element, NS.ds, 'Signature');
}

/** Removes the ds:Signature directly under `element` (if any) and returns the element. */
export function stripSignature(element: Element): Element {
  for (const signature of elementChildren(element, NS.ds, 'Signature')) {
    element.removeChild(signature);
  }
  return element;
}

/**
 * Rewrites an assertion into the attacker's: another ID, NameID admin@corp.example, email to
 * match, groups only aws-admins. Its signature, if any, is left where it is (and no longer
 * matches).
 */
export function makeEvil(assertion: Element, id: string = FIXTURE.evil.assertionId): Element {
  assertion.setAttribute('ID', id);
  const subject = child(assertion, NS.saml, 'Subject');
  child(subject, NS.saml, 'NameID').textContent = FIXTURE.evil.nameId;
  const statement = child(assertion, NS.saml, 'AttributeStatement');
  for (const attribute of elementChildren(statement, NS.saml, 'Attribute')) {
    const name = attribute.getAttribute('Name');
    if (name === 'email') {
      child(attribute, NS.saml, 'AttributeValue').textContent = FIXTURE.evil.nameId;
    }
    if (name === 'groups') {
      const [first, ...rest] = elementChildren(attribute, NS.saml, 'AttributeValue');
      if (first !== undefined) first.textContent = FIXTURE.evil.group;
      for (const value of rest) {
        const indent = value.previousSibling;
        if (indent?.nodeType === 3) attribute.removeChild(indent);
        attribute.removeChild(value);
      }
    }
  }
  return assertion;
}

/** An unsigned copy of `assertion`, rewritten into the attacker's. */
export function evilCopy(assertion: Element, id: string = FIXTURE.evil.assertionId): Element {
  return makeEvil(stripSignature(assertion.cloneNode(true) as Element), id);
}

/** Inserts `<!---->` into the text of `element` right after its first `prefix` characters. */
export function injectComment(element: Element, prefix: string): void {
  const text = element.textContent ?? '';
  if (!text.startsWith(prefix)) throw new Error(`"${text}" does not start with "${prefix}"`);
  const document = element.ownerDocument;
  while (element.firstChild !== null) element.removeChild(element.firstChild);
  element.appendChild(document.createTextNode(prefix));
  element.appendChild(document.createComment(''));
  element.appendChild(document.createTextNode(text.slice(prefix.length)));
}

// ---------------------------------------------------------------------------------------------
// DTDs (string level: a DOCTYPE is not a DOM move)

/**
 * Puts `<!DOCTYPE samlp:Response [internalSubset]>` after the XML declaration, and when
 * `nameIdText` is given, replaces the NameID text with it (e.g. an entity reference `&xxe;`).
 */
export function withDoctype(xml: string, internalSubset: string, nameIdText?: string): string {
  const declaration = /^<\?xml[^>]*\?>\n?/.exec(xml)?.[0] ?? '';
  let body = xml.slice(declaration.length);
  if (nameIdText !== undefined) {
    body = body.replace(/(<saml:NameID\b[^>]*>)[^<]*(<\/saml:NameID>)/, `$1${nameIdText}$2`);
  }
  return `${declaration}<!DOCTYPE samlp:Response [${internalSubset}]>\n${body}`;
}

/** An external entity fetched from `url`, referenced from the NameID (XXE / SSRF probe). */
export function externalEntityResponse(url: string, xml: string = buildValidResponse()): string {
  return withDoctype(xml, `<!ENTITY xxe SYSTEM "${url}">`, '&xxe;');
}

/** The classic billion laughs: lol9 expands to 10^9 "lol"s, referenced from the NameID. */
export function billionLaughsResponse(xml: string = buildValidResponse()): string {
  const entities = ['\n  <!ENTITY lol "lol">'];
  for (let level = 1; level <= 9; level += 1) {
    const previous = level === 1 ? 'lol' : `lol${level - 1}`;
    entities.push(`\n  <!ENTITY lol${level} "${`&${previous};`.repeat(10)}">`);
  }
  return withDoctype(xml, `${entities.join('')}\n`, '&lol9;');
}
