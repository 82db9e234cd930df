/**
 * Validates a SAML 2.0 Response posted to the ACS (HTTP-POST binding) and returns only what a
 * pinned IdP certificate verified. The structure is checked first, so every signature-wrapping
 * shape is refused by name before any cryptography; xml-crypto then verifies the one assertion's
 * signature, and every claim is read from the bytes it verified (its signed reference), never
 * from the posted document (DESIGN.md §7.2).
 */
import { Buffer } from 'node:buffer';
import { XMLSerializer } from '@xmldom/xmldom';
import type { SignedXml as SignedXmlClass } from 'xml-crypto';
import type { SamlProvider } from '#shared/config/schema.ts';
import {
  AppError,
  AuthenticationError,
  type AuthFailureReason,
  PayloadTooLargeError,
} from '#shared/errors.ts';
import {
  attribute,
  childElements,
  children,
  isElement,
  NS,
  onlyChild,
  parseXml,
  walk,
  wholeText,
  XmlParseError,
} from '#shared/xml/dom.ts';

/** Entra ID with a few hundred groups is ~60 KB of base64; past this nobody's IdP sent it. */
export const MAX_SAML_RESPONSE_BYTES = 128 * 1024;
/** A decrypted assertion larger than this is refused before it is parsed. */
export const MAX_DECRYPTED_ASSERTION_BYTES = 64 * 1024;

export const ALGORITHMS = {
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
} as const;

const SIGNATURE_METHODS: ReadonlySet<string> = new Set([
  ALGORITHMS.rsaSha256,
  ALGORITHMS.rsaSha512,
]);
const DIGEST_METHODS: ReadonlySet<string> = new Set([ALGORITHMS.sha256, ALGORITHMS.sha512]);
/** Only for a provider with `allowSha1` (legacy IdPs); HMAC is never accepted. */
const SHA1_SIGNATURE_METHODS: ReadonlySet<string> = new Set([
  ...SIGNATURE_METHODS,
  ALGORITHMS.rsaSha1,
]);
const SHA1_DIGEST_METHODS: ReadonlySet<string> = new Set([...DIGEST_METHODS, ALGORITHMS.sha1]);
const TRANSFORMS: ReadonlySet<string> = new Set([ALGORITHMS.enveloped, ALGORITHMS.excC14n]);
const XENC = 'http://www.w3.org/2001/04/xmlenc#';
/** What the IdPs use; no 3DES, and no other mode xml-encryption might also accept. */
const CONTENT_ENCRYPTION: ReadonlySet<string> = new Set([
  `${XENC}aes128-cbc`,
  `${XENC}aes256-cbc`,
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
]);
/** RSA-OAEP only: RSA PKCS#1 v1.5 key transport is a Bleichenbacher oracle. */
const KEY_TRANSPORT: ReadonlySet<string> = new Set([`${XENC}rsa-oaep-mgf1p`]);
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
/** SAML core §1.3.3: times are UTC, `Z`, no offset. */
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const ID_ATTRIBUTES = ['ID', 'Id', 'id'] as const;

/** Why a response was refused: the audit reason. The client only ever sees a generic page. */
export type SamlFailureReason = AuthFailureReason;

export function samlRefusal(reason: SamlFailureReason, cause?: unknown): AuthenticationError {
  return new AuthenticationError(reason, cause === undefined ? {} : { cause });
}

/** What the IdP's signature covers, and only that. */
export interface VerifiedAssertion {
  id: string;
  issuer: string;
  issueInstant: Date;
  nameId: string;
  nameIdFormat: string | undefined;
  sessionIndex: string | undefined;
  /** Attribute name → every value, in document order (null-prototype). */
  attributes: Readonly<Record<string, readonly string[]>>;
  /** The AuthnRequest this answers; absent for an IdP-initiated response. */
  inResponseTo: string | undefined;
  /** The earliest NotOnOrAfter: nothing accepts the assertion after this plus the skew. */
  notOnOrAfter: Date;
}

export interface ResponseExpectations {
  /** Every Destination and Recipient the response may name (our ACS URL). */
  acsUrls: readonly string[];
  /** Audiences that name us (the SP entity id). */
  audiences: readonly string[];
  /** Pinned IdP signing certificates (PEM); KeyInfo in the document is never used. */
  certificates: readonly string[];
  /** The SP decryption private key (PEM), for a provider with `decryptAssertions`. */
  decryptionKey?: string;
  now: Date;
}

/** Base64 of the whole form field, refused before decoding when it is too large to be real. */
export function decodeSamlResponse(encoded: string): string {
  if (encoded.length > MAX_SAML_RESPONSE_BYTES) {
    throw new PayloadTooLargeError(
      `SAMLResponse is limited to ${MAX_SAML_RESPONSE_BYTES} bytes`,
      'saml_response_too_large',
    );
  }
  const compact = encoded.replaceAll(/[\r\n\t ]/g, '');
  if (compact === '') throw samlRefusal('missing_saml_response');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw samlRefusal('malformed_response', 'not base64');
  }
  const bytes = Buffer.from(compact, 'base64');
  const text = bytes.toString('utf8');
  // A round trip that changes the bytes means it was not UTF-8 XML.
  if (!Buffer.from(text, 'utf8').equals(bytes))
    throw samlRefusal('malformed_response', 'not UTF-8');
  return text;
}

function time(value: string | undefined, what: string): Date | undefined {
  if (value === undefined) return undefined;
  if (!DATE_TIME.test(value)) throw samlRefusal('invalid_time', what);
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw samlRefusal('invalid_time', what);
  return parsed;
}

interface DocumentScan {
  assertions: Element[];
  encrypted: Element[];
  signatures: Element[];
  ids: Map<string, number>;
}

/** One pass over the document: comments, encrypted assertions, assertions, signatures, ids. */
function scanDocument(document: Document, decrypts: boolean): DocumentScan {
  const scan: DocumentScan = { assertions: [], encrypted: [], signatures: [], ids: new Map() };
  for (const node of walk(document)) {
    if (node.nodeType === 8) throw samlRefusal('xml_comment');
    if (node.nodeType === 7 && (node as ProcessingInstruction).target !== 'xml') {
      throw samlRefusal('malformed_response', 'processing instruction');
    }
    if (node.nodeType !== 1) continue;
    const element = node as Element;
    if (isElement(element, NS.assertion, 'EncryptedAssertion')) {
      if (!decrypts) throw samlRefusal('encrypted_assertion_unsupported');
      scan.encrypted.push(element);
    }
    if (isElement(element, NS.assertion, 'Assertion')) scan.assertions.push(element);
    if (isElement(element, NS.dsig, 'Signature')) scan.signatures.push(element);
    for (const name of ID_ATTRIBUTES) {
      const value = attribute(element, name);
      if (value !== undefined) scan.ids.set(value, (scan.ids.get(value) ?? 0) + 1);
    }
  }
  return scan;
}

function algorithmOf(parent: Element, localName: string): string | undefined {
  const element = onlyChild(parent, NS.dsig, localName);
  return element === undefined ? undefined : attribute(element, 'Algorithm');
}

/**
 * The element's children are exactly `required` (in order) with `optional` ones where the schema
 * allows them (`leading`: before the required ones), all in the XML-DSig namespace.
 */
function expectChildren(
  element: Element,
  required: readonly string[],
  optional: readonly string[],
  leading: readonly string[] = [],
): void {
  const names = childElements(element).map((child) =>
    child.namespaceURI === NS.dsig
      ? child.localName
      : `{${child.namespaceURI ?? ''}}${child.localName}`,
  );
  const expected = [
    ...leading.filter((name) => names.includes(name)),
    ...required,
    ...optional.filter((name) => !leading.includes(name) && names.includes(name)),
  ];
  if (names.length !== expected.length || names.some((name, index) => name !== expected[index])) {
    throw samlRefusal('signature_malformed', `${element.localName} children: ${names.join(', ')}`);
  }
}

/** The shape of one signature: one SignedInfo, one Reference to its parent, allowed algorithms. */
function checkSignatureShape(
  signature: Element,
  owner: Element,
  scan: DocumentScan,
  allowSha1: boolean,
): void {
  // Exactly the XML-DSig layout, nothing else: xml-crypto picks the first descendant with a
  // matching local name in any namespace, so an extra element could change what it uses.
  expectChildren(signature, ['SignedInfo', 'SignatureValue'], ['KeyInfo']);
  const signedInfo = onlyChild(signature, NS.dsig, 'SignedInfo') as Element;
  const signatureValue = onlyChild(signature, NS.dsig, 'SignatureValue') as Element;
  expectChildren(signedInfo, ['CanonicalizationMethod', 'SignatureMethod', 'Reference'], []);
  if (wholeText(signatureValue).trim() === '') throw samlRefusal('signature_malformed', 'empty');
  const references = children(signedInfo, NS.dsig, 'Reference');
  const [reference] = references;
  if (reference === undefined || references.length !== 1) {
    throw samlRefusal('signature_malformed', 'Reference count');
  }
  const ownerId = attribute(owner, 'ID');
  if (ownerId === undefined || ownerId === '' || attribute(reference, 'URI') !== `#${ownerId}`) {
    throw samlRefusal('signature_malformed', 'Reference URI');
  }
  // Two elements with one ID let a verifier hash one and the reader read the other.
  if ((scan.ids.get(ownerId) ?? 0) !== 1) throw samlRefusal('duplicate_id');
  expectChildren(reference, ['DigestMethod', 'DigestValue'], ['Transforms'], ['Transforms']);
  const digestValue = onlyChild(reference, NS.dsig, 'DigestValue');
  if (digestValue === undefined || wholeText(digestValue).trim() === '') {
    throw samlRefusal('signature_malformed', 'DigestValue');
  }
  const transforms = onlyChild(reference, NS.dsig, 'Transforms');
  const seen = new Set<string>();
  for (const transform of transforms === undefined ? [] : childElements(transforms)) {
    const algorithm = attribute(transform, 'Algorithm') ?? '';
    // XPath and XSLT transforms let the signed bytes differ from the document's meaning.
    if (!isElement(transform, NS.dsig, 'Transform') || !TRANSFORMS.has(algorithm)) {
      throw samlRefusal('transform_not_allowed', algorithm);
    }
    if (seen.has(algorithm)) throw samlRefusal('transform_not_allowed', 'repeated');
    seen.add(algorithm);
  }
  if (algorithmOf(signedInfo, 'CanonicalizationMethod') !== ALGORITHMS.excC14n) {
    throw samlRefusal('algorithm_not_allowed', 'canonicalization');
  }
  // No HMAC (the key-confusion attack), and no SHA-1 unless the provider allows it.
  const signatureMethods = allowSha1 ? SHA1_SIGNATURE_METHODS : SIGNATURE_METHODS;
  const digestMethods = allowSha1 ? SHA1_DIGEST_METHODS : DIGEST_METHODS;
  if (!signatureMethods.has(algorithmOf(signedInfo, 'SignatureMethod') ?? '')) {
    throw samlRefusal('algorithm_not_allowed', 'signature method');
  }
  if (!digestMethods.has(algorithmOf(reference, 'DigestMethod') ?? '')) {
    throw samlRefusal('algorithm_not_allowed', 'digest method');
  }
}

/**
 * Verifies one signature against the pinned certificates and returns the canonical XML of what
 * it signed. KeyInfo is ignored: getCertFromKeyInfo always answers null.
 */
/**
 * xml-crypto (with xpath) is loaded by the first validation, not at cold start: the login and
 * metadata routes of the same function never need it.
 */
let signedXmlClass: typeof SignedXmlClass | undefined;
async function loadSignedXml(): Promise<typeof SignedXmlClass> {
  signedXmlClass ??= (await import('xml-crypto')).SignedXml;
  return signedXmlClass;
}

function verifySignature(
  SignedXml: typeof SignedXmlClass,
  xml: string,
  signature: Element,
  certificates: readonly string[],
  checked: { signatureMethod: string },
): string {
  for (const certificate of certificates) {
    const verifier = new SignedXml({ publicCert: certificate, getCertFromKeyInfo: () => null });
    let valid = false;
    try {
      verifier.loadSignature(signature);
      // What xml-crypto will use must be what checkSignatureShape allowed.
      if (
        verifier.canonicalizationAlgorithm !== ALGORITHMS.excC14n ||
        verifier.signatureAlgorithm !== checked.signatureMethod
      ) {
        throw samlRefusal('algorithm_not_allowed', 'xml-crypto read other algorithms');
      }
      valid = verifier.checkSignature(xml);
    } catch (error) {
      if (error instanceof AuthenticationError) throw error;
      valid = false;
    }
    const references = verifier.getSignedReferences();
    if (valid && references.length === 1 && references[0] !== undefined) return references[0];
  }
  throw samlRefusal('signature_invalid');
}

function checkedMethods(signature: Element): { signatureMethod: string } {
  const signedInfo = onlyChild(signature, NS.dsig, 'SignedInfo') as Element;
  return { signatureMethod: algorithmOf(signedInfo, 'SignatureMethod') ?? '' };
}

function textOf(element: Element | undefined): string | undefined {
  return element === undefined ? undefined : wholeText(element).trim();
}

/** Status, Issuer and Destination of the Response envelope: these can only refuse, never grant. */
function checkEnvelope(response: Element, provider: SamlProvider, expect: ResponseExpectations) {
  const status = onlyChild(response, NS.protocol, 'Status');
  const statusCode =
    status === undefined ? undefined : onlyChild(status, NS.protocol, 'StatusCode');
  if (statusCode === undefined || attribute(statusCode, 'Value') !== SUCCESS) {
    throw samlRefusal('status_not_success');
  }
  const issuer = textOf(onlyChild(response, NS.assertion, 'Issuer'));
  if (issuer !== provider.entityId) throw samlRefusal('issuer_mismatch', 'response');
  const destination = attribute(response, 'Destination');
  if (destination === undefined || !expect.acsUrls.includes(destination)) {
    throw samlRefusal('destination_mismatch');
  }
}

interface Window {
  notBefore: Date | undefined;
  notOnOrAfter: Date | undefined;
}

function checkWindow(window: Window, now: number, skewMs: number): void {
  if (window.notBefore !== undefined && now + skewMs < window.notBefore.getTime()) {
    throw samlRefusal('not_yet_valid');
  }
  if (window.notOnOrAfter !== undefined && now - skewMs >= window.notOnOrAfter.getTime()) {
    throw samlRefusal('expired');
  }
}

/** Every check on the signed assertion; reads only the verified canonical XML. */
function readAssertion(
  signedXml: string,
  provider: SamlProvider,
  expect: ResponseExpectations,
): VerifiedAssertion {
  const assertion = parseXml(signedXml).documentElement;
  if (!isElement(assertion, NS.assertion, 'Assertion')) {
    throw samlRefusal('signature_malformed', 'the signed reference is not the assertion');
  }
  const now = expect.now.getTime();
  const skewMs = provider.clockSkewSeconds * 1000;
  const issuer = textOf(onlyChild(assertion, NS.assertion, 'Issuer'));
  if (issuer !== provider.entityId) throw samlRefusal('issuer_mismatch', 'assertion');

  const subject = onlyChild(assertion, NS.assertion, 'Subject');
  const confirmations =
    subject === undefined ? [] : children(subject, NS.assertion, 'SubjectConfirmation');
  const [confirmation] = confirmations;
  if (
    confirmation === undefined ||
    confirmations.length !== 1 ||
    attribute(confirmation, 'Method') !== BEARER
  ) {
    throw samlRefusal('subject_confirmation_invalid');
  }
  const data = onlyChild(confirmation, NS.assertion, 'SubjectConfirmationData');
  const recipient = data === undefined ? undefined : attribute(data, 'Recipient');
  if (recipient === undefined || !expect.acsUrls.includes(recipient)) {
    throw samlRefusal('recipient_mismatch');
  }
  const confirmationWindow: Window = {
    notBefore: time(attribute(data as Element, 'NotBefore'), 'NotBefore'),
    notOnOrAfter: time(attribute(data as Element, 'NotOnOrAfter'), 'NotOnOrAfter'),
  };
  // A bearer confirmation must say until when it may be presented (profiles §4.1.4.2).
  if (confirmationWindow.notOnOrAfter === undefined) {
    throw samlRefusal('subject_confirmation_invalid', 'no NotOnOrAfter');
  }
  checkWindow(confirmationWindow, now, skewMs);

  const conditions = onlyChild(assertion, NS.assertion, 'Conditions');
  if (conditions === undefined) throw samlRefusal('audience_mismatch', 'no Conditions');
  const conditionsWindow: Window = {
    notBefore: time(attribute(conditions, 'NotBefore'), 'NotBefore'),
    notOnOrAfter: time(attribute(conditions, 'NotOnOrAfter'), 'NotOnOrAfter'),
  };
  checkWindow(conditionsWindow, now, skewMs);
  // The validity windows first, then the age: an old assertion that is also expired is `expired`.
  const issueInstant = time(attribute(assertion, 'IssueInstant'), 'IssueInstant');
  if (issueInstant === undefined) throw samlRefusal('invalid_time', 'IssueInstant missing');
  if (issueInstant.getTime() - now > skewMs) throw samlRefusal('issued_in_future');
  if (now - issueInstant.getTime() > provider.maxAssertionAgeSeconds * 1000 + skewMs) {
    throw samlRefusal('assertion_too_old');
  }

  // Every AudienceRestriction must name us (core §2.5.1.4); at least one must exist.
  const restrictions = children(conditions, NS.assertion, 'AudienceRestriction');
  const namesUs = (restriction: Element) =>
    children(restriction, NS.assertion, 'Audience').some((audience) =>
      expect.audiences.includes(wholeText(audience).trim()),
    );
  if (restrictions.length === 0 || !restrictions.every(namesUs)) {
    throw samlRefusal('audience_mismatch');
  }

  const nameIdElement =
    subject === undefined ? undefined : onlyChild(subject, NS.assertion, 'NameID');
  const nameId = textOf(nameIdElement);
  if (nameIdElement === undefined || nameId === undefined || nameId === '') {
    throw samlRefusal('missing_subject');
  }

  const attributes: Record<string, string[]> = Object.create(null);
  for (const statement of children(assertion, NS.assertion, 'AttributeStatement')) {
    for (const element of children(statement, NS.assertion, 'Attribute')) {
      const name = attribute(element, 'Name');
      if (name === undefined || name === '') continue;
      const values = children(element, NS.assertion, 'AttributeValue').map((value) =>
        wholeText(value).trim(),
      );
      attributes[name] = [...(attributes[name] ?? []), ...values];
    }
  }
  const authnStatement = children(assertion, NS.assertion, 'AuthnStatement')[0];
  const ends = [confirmationWindow.notOnOrAfter, conditionsWindow.notOnOrAfter].filter(
    (date): date is Date => date !== undefined,
  );
  return {
    id: attribute(assertion, 'ID') ?? '',
    issuer,
    issueInstant,
    nameId,
    nameIdFormat: attribute(nameIdElement, 'Format'),
    sessionIndex:
      authnStatement === undefined ? undefined : attribute(authnStatement, 'SessionIndex'),
    attributes: Object.freeze(attributes),
    inResponseTo: data === undefined ? undefined : attribute(data, 'InResponseTo'),
    notOnOrAfter: new Date(Math.min(...ends.map((date) => date.getTime()))),
  };
}

type XmlEncryption = typeof import('xml-encryption')['default'];
/** xml-encryption is loaded by the first encrypted response only. */
let xmlEncryption: XmlEncryption | undefined;
async function loadXmlEncryption(): Promise<XmlEncryption> {
  xmlEncryption ??= (await import('xml-encryption')).default;
  return xmlEncryption;
}

/** Every way decryption can fail is this one refusal, with no detail: no padding or parse oracle. */
function undecryptable(): AuthenticationError {
  return samlRefusal('assertion_undecryptable');
}

/** Local names xml-encryption looks up by local name alone, in any namespace. */
const XENC_NAMES = [
  'EncryptedData',
  'EncryptedKey',
  'EncryptionMethod',
  'CipherData',
  'CipherValue',
];

/**
 * The layout and algorithms of one EncryptedAssertion, checked before any key is used: one
 * EncryptedData and one EncryptedKey, each with one EncryptionMethod and one CipherValue, so that
 * xml-encryption (which picks the first match by local name) uses exactly what was checked here.
 */
function checkEncryptedShape(encrypted: Element): void {
  const found = new Map<string, Element[]>(XENC_NAMES.map((name) => [name, []]));
  for (const node of walk(encrypted)) {
    if (node.nodeType !== 1) continue;
    const element = node as Element;
    const list = found.get(element.localName);
    if (list === undefined) continue;
    if (element.namespaceURI !== XENC) throw undecryptable();
    list.push(element);
  }
  const counts = XENC_NAMES.map((name) => found.get(name)?.length ?? 0);
  if (counts.join() !== '1,1,2,2,2') throw undecryptable();
  const [encryptedData] = found.get('EncryptedData') ?? [];
  const [encryptedKey] = found.get('EncryptedKey') ?? [];
  if (encryptedData?.parentNode !== encrypted || encryptedKey === undefined) throw undecryptable();
  const method = (parent: Element) => {
    const element = onlyChild(parent, XENC, 'EncryptionMethod');
    return element === undefined ? '' : (attribute(element, 'Algorithm') ?? '');
  };
  if (!CONTENT_ENCRYPTION.has(method(encryptedData))) throw undecryptable();
  if (!KEY_TRANSPORT.has(method(encryptedKey))) throw undecryptable();
}

/** The decrypted assertion as its own document, or the one refusal. */
async function decryptAssertion(encrypted: Element, key: string | undefined): Promise<string> {
  if (key === undefined) throw samlRefusal('assertion_undecryptable', 'no SP decryption key');
  checkEncryptedShape(encrypted);
  const library = await loadXmlEncryption();
  const xml = new XMLSerializer().serializeToString(encrypted);
  const plain = await new Promise<string | undefined>((resolve) => {
    try {
      library.decrypt(
        xml,
        { key, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false },
        (error, result) => resolve(error ? undefined : result),
      );
    } catch {
      resolve(undefined);
    }
  });
  if (
    typeof plain !== 'string' ||
    Buffer.byteLength(plain, 'utf8') > MAX_DECRYPTED_ASSERTION_BYTES
  ) {
    throw undecryptable();
  }
  return plain;
}

/** The decrypted assertion parsed: one saml:Assertion root and nothing else, or the one refusal. */
function parseDecrypted(plain: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(plain)) throw undecryptable();
  let document: Document;
  try {
    document = parseXml(plain);
  } catch {
    throw undecryptable();
  }
  const roots = childElements(document);
  if (roots.length !== 1 || !isElement(document.documentElement, NS.assertion, 'Assertion')) {
    throw undecryptable();
  }
  for (let node = document.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 3 && (node.nodeValue ?? '').trim() !== '') throw undecryptable();
  }
  return document;
}

/**
 * The whole validation of one posted SAMLResponse (base64 as posted). Throws AuthenticationError
 * with a SamlFailureReason, or PayloadTooLargeError. InResponseTo and replay are checked against
 * the store by the caller, with the returned ids.
 */
export async function validateSamlResponse(
  encoded: string,
  provider: SamlProvider,
  expect: ResponseExpectations,
): Promise<VerifiedAssertion> {
  const SignedXml = await loadSignedXml();
  try {
    return await validate(SignedXml, encoded, provider, expect);
  } catch (error) {
    // Anything a library throws on hostile input is a refusal, never a 500 (or a success).
    if (error instanceof AppError) throw error;
    throw samlRefusal('malformed_response', (error as Error).message);
  }
}

/** The signatures of `scan` sit directly under `assertion` or `response`, at most one each. */
function placeSignatures(
  scan: DocumentScan,
  assertion: Element | undefined,
  response: Element | undefined,
): { assertionSignature: Element | undefined; responseSignature: Element | undefined } {
  let assertionSignature: Element | undefined;
  let responseSignature: Element | undefined;
  for (const signature of scan.signatures) {
    const owner = signature.parentNode;
    if (assertion !== undefined && owner === assertion && assertionSignature === undefined) {
      assertionSignature = signature;
    } else if (response !== undefined && owner === response && responseSignature === undefined) {
      responseSignature = signature;
    } else throw samlRefusal('signature_misplaced');
  }
  return { assertionSignature, responseSignature };
}

async function validate(
  SignedXml: typeof SignedXmlClass,
  encoded: string,
  provider: SamlProvider,
  expect: ResponseExpectations,
): Promise<VerifiedAssertion> {
  const xml = decodeSamlResponse(encoded);
  // No DTDs at all: no external entities (no outbound fetch) and no entity expansion bombs.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw samlRefusal('doctype_not_allowed');
  let document: Document;
  try {
    document = parseXml(xml);
  } catch (error) {
    throw samlRefusal('malformed_response', error instanceof XmlParseError ? error.message : error);
  }
  if (childElements(document).length !== 1) throw samlRefusal('malformed_response', 'roots');
  for (let node = document.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === 3 && (node.nodeValue ?? '').trim() !== '') {
      throw samlRefusal('malformed_response', 'text outside the root element');
    }
  }
  const scan = scanDocument(document, provider.decryptAssertions);
  const response = document.documentElement;
  if (!isElement(response, NS.protocol, 'Response')) throw samlRefusal('not_a_response');

  let signedXml: string;
  if (scan.encrypted.length === 0) {
    // Exactly one assertion, a direct child of the Response: every wrapping variant moves or adds one.
    const [assertion] = scan.assertions;
    if (assertion === undefined || scan.assertions.length !== 1) {
      throw samlRefusal('assertion_count');
    }
    if (assertion.parentNode !== response) throw samlRefusal('assertion_misplaced');
    // Signatures only directly under the Assertion or the Response, at most one each.
    const { assertionSignature, responseSignature } = placeSignatures(scan, assertion, response);
    if (assertionSignature === undefined) throw samlRefusal('assertion_unsigned');
    if (provider.wantResponseSigned && responseSignature === undefined) {
      throw samlRefusal('response_unsigned');
    }
    checkSignatureShape(assertionSignature, assertion, scan, provider.allowSha1);
    if (responseSignature !== undefined) {
      checkSignatureShape(responseSignature, response, scan, provider.allowSha1);
      verifySignature(
        SignedXml,
        xml,
        responseSignature,
        expect.certificates,
        checkedMethods(responseSignature),
      );
    }
    signedXml = verifySignature(
      SignedXml,
      xml,
      assertionSignature,
      expect.certificates,
      checkedMethods(assertionSignature),
    );
  } else {
    // One EncryptedAssertion and no plain one: two would let a reader and a verifier disagree.
    const [encrypted] = scan.encrypted;
    if (encrypted === undefined || scan.encrypted.length !== 1 || scan.assertions.length !== 0) {
      throw samlRefusal('assertion_count');
    }
    if (encrypted.parentNode !== response) throw samlRefusal('assertion_misplaced');
    const { responseSignature } = placeSignatures(scan, undefined, response);
    if (provider.wantResponseSigned && responseSignature === undefined) {
      throw samlRefusal('response_unsigned');
    }
    // A signed Response covers the ciphertext: verified before any decryption is tried.
    if (responseSignature !== undefined) {
      checkSignatureShape(responseSignature, response, scan, provider.allowSha1);
      verifySignature(
        SignedXml,
        xml,
        responseSignature,
        expect.certificates,
        checkedMethods(responseSignature),
      );
    }
    const plain = await decryptAssertion(encrypted, expect.decryptionKey);
    const inner = parseDecrypted(plain);
    // Every check of a plain assertion, on the decrypted one: it must carry its own signature.
    const innerScan = scanDocument(inner, false);
    const assertion = inner.documentElement;
    if (innerScan.assertions.length !== 1) throw samlRefusal('assertion_count');
    const { assertionSignature } = placeSignatures(innerScan, assertion, undefined);
    if (assertionSignature === undefined) throw samlRefusal('assertion_unsigned');
    checkSignatureShape(assertionSignature, assertion, innerScan, provider.allowSha1);
    signedXml = verifySignature(
      SignedXml,
      plain,
      assertionSignature,
      expect.certificates,
      checkedMethods(assertionSignature),
    );
  }

  checkEnvelope(response, provider, expect);
  const verified = readAssertion(signedXml, provider, expect);
  const responseInResponseTo = attribute(response, 'InResponseTo');
  if (
    responseInResponseTo !== undefined &&
    verified.inResponseTo !== undefined &&
    responseInResponseTo !== verified.inResponseTo
  ) {
    throw samlRefusal('in_response_to_mismatch');
  }
  if (verified.inResponseTo === undefined && !provider.allowIdpInitiated) {
    throw samlRefusal('in_response_to_missing');
  }
  return verified;
}
