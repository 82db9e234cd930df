/**
 * Writes the SAML 2.0 test fixtures under test/fixtures/saml/ from ONE valid signed response
 * (scripts/saml/fixture-builder.ts). Every attack is one readable DOM move on that response, or,
 * for the cases only a condition check may reject, one re-signing with a changed field so that the
 * signatures stay valid.
 *
 *   npx tsx scripts/saml/generate-fixtures.ts           (re)write the fixtures (keys are reused)
 *   npx tsx scripts/saml/generate-fixtures.ts --verify  check the committed files are what this
 *       script writes, and that xmlsec1 (an independent XMLDSig implementation, pinned to
 *       keys/idp.crt, KeyInfo ignored) accepts every signature that must be valid
 *
 * Output is byte-stable: fixed instants, and RSA PKCS#1 v1.5 signatures are deterministic.
 */

import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthFailureReason } from '#shared/errors.ts';
import {
  ALGORITHMS,
  assertionOf,
  billionLaughsResponse,
  buildPaddedResponse,
  buildUnsignedResponse,
  buildValidResponse,
  child,
  DEFAULT_FIXTURE_DIR,
  DEFAULT_KEYS_DIR,
  editXml,
  elementChildren,
  evilCopy,
  externalEntityResponse,
  FIXTURE,
  fragment,
  injectComment,
  loadFixtureKeys,
  makeEvil,
  NS,
  parseXml,
  type ResponseOverrides,
  rootResponse,
  serializeXml,
  shiftedTimes,
  shiftTime,
  signatureOf,
  signResponse,
  stripSignature,
} from './fixture-builder.ts';

type Category = 'xsw' | 'signature' | 'comment' | 'conditions' | 'parsing';

/** The first check of the validator that refuses the fixture: one of the audit reasons. */
type ExpectedReason = AuthFailureReason;

interface Attack {
  name: string;
  category: Category;
  description: string;
  expectedReason: ExpectedReason;
  build: () => string;
  /**
   * Whose key every signature in the file verifies with (checked with xmlsec1 by --verify), so
   * that nothing but the check named by expectedReason refuses it: `idp` the pinned certificate,
   * `attacker` only the attacker's, `idp-cert-hmac` HMAC-SHA1 keyed with the bytes of idp.crt.
   */
  signedBy?: Signer;
}

type Signer = 'idp' | 'attacker' | 'idp-cert-hmac';

interface ManifestEntry {
  name: string;
  file: string;
  category: Category;
  description: string;
  expectedReason: ExpectedReason;
}

const OTHER_SP_ACS = 'https://other-sp.example/saml/acs';
const OTHER_SP_ENTITY_ID = 'https://other-sp.example/saml/metadata';
const EVIL_IDP = 'https://evil-idp.example/saml';

/** The attacker's claims, for the attacks that produce a whole signed response of their own. */
const EVIL_CLAIMS: ResponseOverrides = {
  nameId: FIXTURE.evil.nameId,
  attributes: { ...FIXTURE.attributes, email: [FIXTURE.evil.nameId], groups: [FIXTURE.evil.group] },
};

const keys = loadFixtureKeys();

/** The one valid response: Assertion signed, then Response signed, KeyInfo in both. */
const VALID = buildValidResponse();
/** The same with only the Assertion signed (the target of the assertion-wrapping variants). */
const ASSERTION_ONLY = buildValidResponse({}, { response: false });

/** The Response's own ds:Signature and an unsigned copy of the Response (XSW1 / XSW2). */
function responseAndUnsignedCopy(document: Document) {
  const response = rootResponse(document);
  const copy = stripSignature(response.cloneNode(true) as Element);
  return { response, signature: signatureOf(response), copy };
}

/** The evil response of XSW1/XSW2: new ID, the attacker's assertion instead of the IdP's. */
function turnEvil(response: Element): void {
  response.setAttribute('ID', FIXTURE.evil.responseId);
  const assertion = child(response, NS.saml, 'Assertion');
  response.replaceChild(evilCopy(assertion), assertion);
}

const ATTACKS: Attack[] = [
  // ------------------------------------------------------------------ signature wrapping (XSW)
  {
    name: 'xsw1-response-wrapped-in-unsigned-response',
    category: 'xsw',
    description:
      "XSW1: the IdP-signed Response (its signature removed) is copied into the Response's ds:Signature; the outer Response gets a new ID and the attacker's unsigned assertion. The Reference still resolves to the hidden copy.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(VALID, (document) => {
        const { response, signature, copy } = responseAndUnsignedCopy(document);
        signature.appendChild(copy);
        turnEvil(response);
      }),
  },
  {
    name: 'xsw2-response-copy-before-signature',
    category: 'xsw',
    description:
      "XSW2: like XSW1, but the unsigned copy of the IdP-signed Response sits before the ds:Signature (a detached signature) instead of inside it; the outer Response carries the attacker's assertion.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(VALID, (document) => {
        const { response, signature, copy } = responseAndUnsignedCopy(document);
        response.insertBefore(copy, signature);
        turnEvil(response);
      }),
  },
  {
    name: 'xsw3-evil-assertion-before-signed',
    category: 'xsw',
    description:
      "XSW3: the attacker's unsigned assertion (new ID) is inserted before the IdP-signed assertion, for a reader that takes the first assertion while the verifier follows the Reference. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        rootResponse(document).insertBefore(evilCopy(signed), signed);
      }),
  },
  {
    name: 'xsw4-evil-assertion-wraps-signed',
    category: 'xsw',
    description:
      "XSW4: the attacker's unsigned assertion takes the signed assertion's place, and the IdP-signed assertion becomes its last child. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        const evil = evilCopy(signed);
        rootResponse(document).replaceChild(evil, signed);
        evil.appendChild(signed);
      }),
  },
  {
    name: 'xsw5-evil-assertion-keeps-signature-copy-appended',
    category: 'xsw',
    description:
      "XSW5: the signed assertion is rewritten into the attacker's (new ID) keeping the IdP's ds:Signature, and an unsigned copy of the original assertion, with the original ID the Reference names, is appended to the Response. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        rootResponse(document).appendChild(stripSignature(signed.cloneNode(true) as Element));
        makeEvil(signed);
      }),
  },
  {
    name: 'xsw6-signed-copy-inside-evil-signature',
    category: 'xsw',
    description:
      "XSW6: the signed assertion is rewritten into the attacker's (new ID), and an unsigned copy of the original assertion is placed inside the IdP's ds:Signature it still carries. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        signatureOf(signed).appendChild(stripSignature(signed.cloneNode(true) as Element));
        makeEvil(signed);
      }),
  },
  {
    name: 'xsw7-signed-assertion-in-extensions',
    category: 'xsw',
    description:
      "XSW7: the IdP-signed assertion is moved into a samlp:Extensions element (schema lax, so it validates) and the attacker's unsigned assertion takes its place. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const response = rootResponse(document);
        const signed = assertionOf(document);
        const extensions = document.createElementNS(NS.samlp, 'samlp:Extensions');
        response.insertBefore(extensions, child(response, NS.samlp, 'Status'));
        response.replaceChild(evilCopy(signed), signed);
        extensions.appendChild(signed);
      }),
  },
  {
    name: 'xsw8-signed-copy-in-object-of-evil-signature',
    category: 'xsw',
    description:
      "XSW8: the signed assertion is rewritten into the attacker's (new ID), and an unsigned copy of the original assertion is put in a ds:Object inside the IdP's ds:Signature it still carries. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        const object = document.createElementNS(NS.ds, 'ds:Object');
        object.appendChild(stripSignature(signed.cloneNode(true) as Element));
        signatureOf(signed).appendChild(object);
        makeEvil(signed);
      }),
  },
  {
    name: 'signed-assertion-in-advice',
    category: 'xsw',
    description:
      "The IdP-signed assertion is nested in a saml:Advice (right after Conditions) of the attacker's unsigned assertion, which takes its place in the Response. Built on the assertion-only-signed response.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(ASSERTION_ONLY, (document) => {
        const signed = assertionOf(document);
        const evil = evilCopy(signed);
        const advice = document.createElementNS(NS.saml, 'saml:Advice');
        evil.insertBefore(advice, child(evil, NS.saml, 'Conditions').nextSibling);
        rootResponse(document).replaceChild(evil, signed);
        advice.appendChild(signed);
      }),
  },
  {
    name: 'unsigned-assertion-added',
    category: 'xsw',
    description:
      "The IdP-signed response, untouched, with the attacker's unsigned assertion appended to the Response after the signed one.",
    expectedReason: 'assertion_count',
    build: () =>
      editXml(VALID, (document) => {
        rootResponse(document).appendChild(evilCopy(assertionOf(document)));
      }),
  },
  {
    name: 'two-assertions',
    category: 'xsw',
    description:
      'Two assertions with different IDs (the second for admin@corp.example), each with a valid IdP signature, and the Response signed over both: which one would a reader pick?',
    expectedReason: 'assertion_count',
    signedBy: 'idp',
    build: () =>
      signResponse(
        editXml(buildUnsignedResponse(), (document) => {
          const assertion = assertionOf(document);
          const second = makeEvil(assertion.cloneNode(true) as Element, '_assert-fixture-0002');
          rootResponse(document).appendChild(second);
        }),
      ),
  },

  // ------------------------------------------------------------------ signature
  {
    name: 'signature-stripped',
    category: 'signature',
    description: 'Both ds:Signature elements (the Assertion and the Response one) removed.',
    expectedReason: 'assertion_unsigned',
    build: () =>
      editXml(VALID, (document) => {
        stripSignature(assertionOf(document));
        stripSignature(rootResponse(document));
      }),
  },
  {
    name: 'signature-empty',
    category: 'signature',
    description: "The assertion signature's SignatureValue emptied.",
    expectedReason: 'signature_malformed',
    build: () =>
      editXml(VALID, (document) => {
        child(signatureOf(assertionOf(document)), NS.ds, 'SignatureValue').textContent = '';
      }),
  },
  {
    name: 'resigned-attacker-key-in-keyinfo',
    category: 'signature',
    description:
      "The attacker's claims (admin@corp.example, aws-admins), Assertion and Response re-signed with the attacker's key and the attacker's certificate in KeyInfo: only a verifier that trusts KeyInfo accepts it.",
    expectedReason: 'signature_invalid',
    signedBy: 'attacker',
    build: () => buildValidResponse(EVIL_CLAIMS, { keyPair: keys.attacker }),
  },
  {
    name: 'multiple-signedinfo',
    category: 'signature',
    description: "A second ds:SignedInfo (a copy of the first) in the assertion's signature.",
    expectedReason: 'signature_malformed',
    build: () =>
      editXml(VALID, (document) => {
        const signature = signatureOf(assertionOf(document));
        const signedInfo = child(signature, NS.ds, 'SignedInfo');
        signature.insertBefore(signedInfo.cloneNode(true), signedInfo.nextSibling);
      }),
  },
  {
    name: 'foreign-signature-method-before-signedinfo',
    category: 'signature',
    description:
      "An element named SignatureMethod in a foreign namespace (RSA-PSS) placed before the assertion signature's ds:SignedInfo: xml-crypto reads the first element of that local name in any namespace, so it would verify with an algorithm the allowlist never saw.",
    expectedReason: 'signature_malformed',
    build: () =>
      editXml(VALID, (document) => {
        const signature = signatureOf(assertionOf(document));
        const foreign = fragment(
          document,
          '<x:SignatureMethod xmlns:x="urn:x" Algorithm="http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"/>',
        );
        signature.insertBefore(foreign, child(signature, NS.ds, 'SignedInfo'));
      }),
  },
  {
    name: 'foreign-canonicalization-method-bogus',
    category: 'signature',
    description:
      "A foreign-namespace CanonicalizationMethod with an unknown algorithm as the first child of the assertion's ds:Signature: xml-crypto would pick it and throw (a 500 anyone could trigger) instead of a refusal.",
    expectedReason: 'signature_malformed',
    build: () =>
      editXml(VALID, (document) => {
        const signature = signatureOf(assertionOf(document));
        const foreign = fragment(
          document,
          '<x:CanonicalizationMethod xmlns:x="urn:x" Algorithm="urn:bogus"/>',
        );
        signature.insertBefore(foreign, signature.firstChild);
      }),
  },
  {
    name: 'xslt-transform',
    category: 'signature',
    description:
      "An XSLT transform (whose stylesheet fetches http://127.0.0.1:1/xslt) appended to the assertion signature's Transforms: code execution / SSRF in the verifier, before any signature check.",
    expectedReason: 'transform_not_allowed',
    build: () =>
      editXml(VALID, (document) => {
        const reference = child(
          child(signatureOf(assertionOf(document)), NS.ds, 'SignedInfo'),
          NS.ds,
          'Reference',
        );
        child(reference, NS.ds, 'Transforms').appendChild(
          fragment(
            document,
            `<ds:Transform xmlns:ds="${NS.ds}" Algorithm="${ALGORITHMS.xslt}"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:copy-of select="document('http://127.0.0.1:1/xslt')"/></xsl:template></xsl:stylesheet></ds:Transform>`,
          ),
        );
      }),
  },
  {
    name: 'xpath-transform',
    category: 'signature',
    description:
      "An XPath filter transform appended to the assertion signature's Transforms that leaves the NameID out of the digest, so it could be changed under a valid signature.",
    expectedReason: 'transform_not_allowed',
    build: () =>
      editXml(VALID, (document) => {
        const reference = child(
          child(signatureOf(assertionOf(document)), NS.ds, 'SignedInfo'),
          NS.ds,
          'Reference',
        );
        child(reference, NS.ds, 'Transforms').appendChild(
          fragment(
            document,
            `<ds:Transform xmlns:ds="${NS.ds}" Algorithm="${ALGORITHMS.xpath}"><ds:XPath xmlns:saml="${NS.saml}">not(ancestor-or-self::saml:NameID)</ds:XPath></ds:Transform>`,
          ),
        );
      }),
  },
  {
    name: 'hmac-signature',
    category: 'signature',
    description:
      "Key confusion: the attacker's claims, both signatures HMAC-SHA1 keyed with the bytes of the IdP certificate PEM (public), so a verifier that feeds its pinned 'key' to whatever SignatureMethod says accepts it.",
    expectedReason: 'algorithm_not_allowed',
    signedBy: 'idp-cert-hmac',
    build: () => buildValidResponse(EVIL_CLAIMS, { hmacKey: keys.idp.cert }),
  },
  {
    name: 'rsa-sha1-signature',
    category: 'signature',
    description:
      'The valid response signed by the IdP key with rsa-sha1 and sha1 digests (both signatures).',
    expectedReason: 'algorithm_not_allowed',
    signedBy: 'idp',
    build: () =>
      buildValidResponse(
        {},
        { signatureAlgorithm: ALGORITHMS.rsaSha1, digestAlgorithm: ALGORITHMS.sha1 },
      ),
  },

  // ------------------------------------------------------------------ comments
  {
    name: 'comment-inside-digestvalue',
    category: 'comment',
    description:
      "A comment splits the assertion signature's DigestValue; canonicalization drops it, so both signatures still verify, but a reader of the first text node gets a truncated digest.",
    expectedReason: 'xml_comment',
    signedBy: 'idp',
    build: () =>
      editXml(VALID, (document) => {
        const reference = child(
          child(signatureOf(assertionOf(document)), NS.ds, 'SignedInfo'),
          NS.ds,
          'Reference',
        );
        const digest = child(reference, NS.ds, 'DigestValue');
        injectComment(digest, (digest.textContent ?? '').slice(0, 22));
      }),
  },
  {
    name: 'nameid-comment-injection',
    category: 'comment',
    description:
      'The IdP signed NameID admin@corp.com.evil.com (an address the attacker registered); <!----> inserted after admin@corp.com. Signatures stay valid (exclusive C14N without comments); a reader of the first text node sees admin@corp.com.',
    expectedReason: 'xml_comment',
    signedBy: 'idp',
    build: () =>
      editXml(
        buildValidResponse({
          nameId: 'admin@corp.com.evil.com',
          attributes: { ...FIXTURE.attributes, email: ['admin@corp.com.evil.com'] },
        }),
        (document) => {
          const subject = child(assertionOf(document), NS.saml, 'Subject');
          injectComment(child(subject, NS.saml, 'NameID'), 'admin@corp.com');
        },
      ),
  },
  {
    name: 'attribute-comment-injection',
    category: 'comment',
    description:
      'The IdP signed the groups value aws-admins.evil; <!----> inserted after aws-admins. Signatures stay valid; a reader of the first text node sees aws-admins.',
    expectedReason: 'xml_comment',
    signedBy: 'idp',
    build: () =>
      editXml(
        buildValidResponse({
          attributes: { ...FIXTURE.attributes, groups: ['aws-readers', 'aws-admins.evil'] },
        }),
        (document) => {
          const statement = child(assertionOf(document), NS.saml, 'AttributeStatement');
          const groups = elementChildren(statement, NS.saml, 'Attribute').find(
            (attribute) => attribute.getAttribute('Name') === 'groups',
          );
          const value =
            groups === undefined
              ? undefined
              : elementChildren(groups, NS.saml, 'AttributeValue')[1];
          if (value === undefined) throw new Error('no second groups value');
          injectComment(value, 'aws-admins');
        },
      ),
  },

  // ------------------------------------------------------------------ conditions (validly signed)
  ...conditions([
    [
      'audience-wrong',
      'audience_mismatch',
      `Audience is another SP (${OTHER_SP_ENTITY_ID}).`,
      { audience: OTHER_SP_ENTITY_ID },
    ],
    [
      'audience-missing',
      'audience_mismatch',
      'No AudienceRestriction in Conditions.',
      { audience: null },
    ],
    [
      'destination-wrong',
      'destination_mismatch',
      `Response Destination is another SP's ACS (${OTHER_SP_ACS}).`,
      { destination: OTHER_SP_ACS },
    ],
    [
      'destination-missing',
      'destination_mismatch',
      'No Destination attribute on the Response.',
      { destination: null },
    ],
    [
      'recipient-wrong',
      'recipient_mismatch',
      `SubjectConfirmationData Recipient is another SP's ACS (${OTHER_SP_ACS}).`,
      { recipient: OTHER_SP_ACS },
    ],
    [
      'recipient-missing',
      'recipient_mismatch',
      'No Recipient on SubjectConfirmationData.',
      { recipient: null },
    ],
    [
      'response-issuer-wrong',
      'issuer_mismatch',
      `Response Issuer is ${EVIL_IDP} (the Assertion Issuer is right).`,
      { responseIssuer: EVIL_IDP },
    ],
    [
      'response-issuer-missing',
      'issuer_mismatch',
      'No Issuer in the Response (its signature is its first child).',
      { responseIssuer: null },
    ],
    [
      'assertion-issuer-wrong',
      'issuer_mismatch',
      `Assertion Issuer is ${EVIL_IDP} (the Response Issuer is right).`,
      { assertionIssuer: EVIL_IDP },
    ],
    [
      'method-holder-of-key',
      'subject_confirmation_invalid',
      'SubjectConfirmation Method is holder-of-key instead of bearer.',
      { subjectConfirmationMethod: 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key' },
    ],
    [
      'expired',
      'expired',
      'Every instant moved back 1 h: Conditions and SubjectConfirmationData NotOnOrAfter are 55 min before the test clock (T0 + 60 s).',
      shiftedTimes(-3600),
    ],
    [
      'not-yet-valid',
      'not_yet_valid',
      'Every instant moved forward 1 h: Conditions NotBefore is ~59 min after the test clock (T0 + 60 s).',
      shiftedTimes(3600),
    ],
    [
      'issue-instant-too-old',
      'assertion_too_old',
      'Response and Assertion IssueInstant (and AuthnInstant) T0 - 1 h; Conditions and SubjectConfirmationData still valid at T0 + 60 s.',
      { issueInstant: shiftTime(FIXTURE.t0, -3600) },
    ],
    [
      'status-requester-with-assertion',
      'status_not_success',
      'StatusCode Requester, yet the Response carries a signed assertion.',
      { statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Requester' },
    ],
    [
      'in-response-to-unknown',
      'in_response_to_unknown',
      'InResponseTo (Response and SubjectConfirmationData) is _req-never-issued, a request the SP never sent.',
      { inResponseTo: '_req-never-issued' },
    ],
    [
      'in-response-to-missing',
      'in_response_to_missing',
      'No InResponseTo on the Response nor on SubjectConfirmationData (IdP-initiated).',
      { inResponseTo: null },
    ],
    ['nameid-missing', 'missing_subject', 'No NameID in the Subject.', { nameId: null }],
  ]),
  {
    name: 'two-subject-confirmations',
    category: 'conditions',
    description: `Two bearer SubjectConfirmations, the second for another SP's ACS (${OTHER_SP_ACS}); validly signed.`,
    expectedReason: 'subject_confirmation_invalid',
    signedBy: 'idp',
    build: () =>
      signResponse(
        editXml(buildUnsignedResponse(), (document) => {
          const subject = child(assertionOf(document), NS.saml, 'Subject');
          const confirmation = child(subject, NS.saml, 'SubjectConfirmation');
          const second = confirmation.cloneNode(true) as Element;
          child(second, NS.saml, 'SubjectConfirmationData').setAttribute('Recipient', OTHER_SP_ACS);
          subject.insertBefore(second, confirmation.nextSibling);
        }),
      ),
  },

  // ------------------------------------------------------------------ parsing
  {
    name: 'doctype-external-entity',
    category: 'parsing',
    description:
      'A DOCTYPE declaring the external entity xxe (http://127.0.0.1:1/xxe), referenced as the NameID: XXE / SSRF if the parser resolves it.',
    expectedReason: 'doctype_not_allowed',
    build: () => externalEntityResponse('http://127.0.0.1:1/xxe', VALID),
  },
  {
    name: 'billion-laughs',
    category: 'parsing',
    description: 'The classic lol1..lol9 entity expansion bomb, &lol9; as the NameID (10^9 "lol").',
    expectedReason: 'doctype_not_allowed',
    build: () => billionLaughsResponse(VALID),
  },
  {
    name: 'encrypted-assertion',
    category: 'parsing',
    description:
      'A saml:EncryptedAssertion with dummy EncryptedData instead of the assertion; the Response is validly signed.',
    expectedReason: 'encrypted_assertion_unsupported',
    signedBy: 'idp',
    build: () =>
      signResponse(
        editXml(buildUnsignedResponse(), (document) => {
          rootResponse(document).replaceChild(
            fragment(
              document,
              `<saml:EncryptedAssertion xmlns:saml="${NS.saml}"><xenc:EncryptedData xmlns:xenc="${NS.xenc}" Type="${NS.xenc}Element"><xenc:EncryptionMethod Algorithm="${NS.xenc}aes256-cbc"/><xenc:CipherData><xenc:CipherValue>ZHVtbXkgZW5jcnlwdGVkIGFzc2VydGlvbg==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>`,
            ),
            assertionOf(document),
          );
        }),
        { assertion: false },
      ),
  },
  {
    name: 'text-after-root',
    category: 'parsing',
    description: 'The IdP-signed response followed by text outside the root element.',
    expectedReason: 'malformed_response',
    build: () => `${VALID}\nadmin@corp.example`,
  },
  {
    name: 'second-root-element',
    category: 'parsing',
    description:
      "The IdP-signed response followed by a second root element: an unsigned Response carrying the attacker's assertion (not well-formed XML; a lenient parser may keep either root).",
    expectedReason: 'malformed_response',
    build: () => {
      const document = parseXml(VALID);
      const evil = stripSignature(rootResponse(document).cloneNode(true) as Element);
      turnEvil(evil);
      return `${VALID}\n${serializeXml(evil)}`;
    },
  },
];

/** One validly re-signed response per changed field. */
function conditions(
  cases: ReadonlyArray<readonly [string, ExpectedReason, string, ResponseOverrides]>,
): Attack[] {
  return cases.map(([name, expectedReason, description, overrides]) => ({
    name,
    category: 'conditions',
    description: `${description} Validly signed.`,
    expectedReason,
    signedBy: 'idp',
    build: () => buildValidResponse(overrides),
  }));
}

// --------------------------------------------------------------------------------------------

/** 5 KB and 12 KB in KiB; the sized variants carry no KeyInfo (see below). */
const SIZED = { 'valid/response-5kb.xml': 5 * 1024, 'valid/response-12kb.xml': 12 * 1024 } as const;

/** Every file this script owns under test/fixtures/saml/ (keys aside), relative path → content. */
function generate(): { files: Map<string, string>; signedBy: Map<string, Signer> } {
  const files = new Map<string, string>();
  const signedBy = new Map<string, Signer>();
  files.set('valid/response.xml', VALID);
  files.set('valid/response-assertion-only-signed.xml', ASSERTION_ONLY);
  // Two KeyInfo certificates alone are ~2.2 KB, which puts the response with both already past
  // 5 KB: the sized variants leave KeyInfo out (the validator never reads it) and pad with groups.
  for (const [file, bytes] of Object.entries(SIZED)) {
    const xml = buildPaddedResponse(bytes, {}, { keyInfo: false });
    const size = Buffer.byteLength(xml);
    if (Math.abs(size - bytes) > bytes * 0.1) throw new Error(`${file} is ${size} bytes`);
    files.set(file, xml);
  }
  for (const file of files.keys()) signedBy.set(file, 'idp');
  const manifest: ManifestEntry[] = [];
  const names = new Set<string>();
  for (const attack of ATTACKS) {
    if (names.has(attack.name)) throw new Error(`duplicate attack ${attack.name}`);
    names.add(attack.name);
    const file = `invalid/${attack.name}.xml`;
    files.set(file, attack.build());
    if (attack.signedBy !== undefined) signedBy.set(file, attack.signedBy);
    manifest.push({
      name: attack.name,
      file,
      category: attack.category,
      description: attack.description,
      expectedReason: attack.expectedReason,
    });
  }
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  return { files, signedBy };
}

function write(files: Map<string, string>): void {
  for (const [file, content] of files) {
    const path = join(DEFAULT_FIXTURE_DIR, file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  // An attack renamed or dropped leaves no stale file behind.
  const invalidDir = join(DEFAULT_FIXTURE_DIR, 'invalid');
  for (const entry of readdirSync(invalidDir)) {
    if (!files.has(`invalid/${entry}`)) rmSync(join(invalidDir, entry));
  }
}

/** Paths of ds:Signature elements a SAML SP verifies: under the root, and under its Assertions. */
function signaturePaths(xml: string): string[] {
  const document = parseXml(xml);
  const response = rootResponse(document);
  const paths: string[] = [];
  const position = (element: Element) => {
    let index = 1;
    for (
      let sibling = element.previousSibling;
      sibling !== null;
      sibling = sibling.previousSibling
    ) {
      if (sibling.nodeType === 1) index += 1;
    }
    return index;
  };
  for (const signature of elementChildren(response, NS.ds, 'Signature')) {
    paths.push(`/*/*[${position(signature)}]`);
  }
  for (const assertion of elementChildren(response, NS.saml, 'Assertion')) {
    for (const signature of elementChildren(assertion, NS.ds, 'Signature')) {
      paths.push(`/*/*[${position(assertion)}]/*[${position(signature)}]`);
    }
  }
  return paths;
}

const XMLSEC_ID_ATTRIBUTES = [
  '--id-attr:ID',
  `${NS.saml}:Assertion`,
  '--id-attr:ID',
  `${NS.samlp}:Response`,
];

/**
 * xmlsec1 --verify of the one signature at `xpath` with only the key given: `--enabled-key-data`
 * leaves KeyInfo/X509Data unused, so a certificate in the document can never stand in for it.
 */
function xmlsec(file: string, xpath: string, key: { cert: string } | { hmac: string }) {
  const keyArgs =
    'cert' in key
      ? ['--enabled-key-data', 'key-name', '--pubkey-cert-pem', key.cert]
      : ['--enabled-key-data', 'key-name,hmac', '--hmackey', key.hmac];
  const args = ['--verify', ...keyArgs, ...XMLSEC_ID_ATTRIBUTES, '--node-xpath', xpath, file];
  try {
    execFileSync('xmlsec1', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, output: '' };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

function verify(files: Map<string, string>, signedBy: Map<string, Signer>): boolean {
  let ok = true;
  for (const [file, content] of files) {
    const path = join(DEFAULT_FIXTURE_DIR, file);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current !== content) {
      ok = false;
      process.stdout.write(`STALE  ${file}: run npx tsx scripts/saml/generate-fixtures.ts\n`);
    }
  }
  const idp = { cert: join(DEFAULT_KEYS_DIR, 'idp.crt') };
  const attacker = { cert: join(DEFAULT_KEYS_DIR, 'attacker.crt') };
  const idpCertAsHmacKey = { hmac: join(DEFAULT_KEYS_DIR, 'idp.crt') };
  let checked = 0;
  for (const [file, signer] of signedBy) {
    const path = join(DEFAULT_FIXTURE_DIR, file);
    const paths = signaturePaths(readFileSync(path, 'utf8'));
    if (paths.length === 0) {
      ok = false;
      process.stdout.write(`FAIL   ${file}: no signature found\n`);
    }
    for (const xpath of paths) {
      checked += 1;
      const withIdp = xmlsec(path, xpath, idp);
      let good: boolean;
      let verdict: string;
      let output = withIdp.output;
      if (signer === 'idp') {
        good = withIdp.ok;
        verdict = `${withIdp.ok ? 'accepted' : 'REFUSED'} with keys/idp.crt`;
      } else {
        // Real signatures that only the pinned certificate refuses.
        const withOther = xmlsec(path, xpath, signer === 'attacker' ? attacker : idpCertAsHmacKey);
        const other =
          signer === 'attacker' ? 'keys/attacker.crt' : 'the bytes of keys/idp.crt as HMAC key';
        good = !withIdp.ok && withOther.ok;
        verdict = `${withIdp.ok ? 'ACCEPTED' : 'refused'} with keys/idp.crt, ${withOther.ok ? 'accepted' : 'REFUSED'} with ${other}`;
        output += withOther.output;
      }
      if (!good) ok = false;
      process.stdout.write(`${good ? 'ok   ' : 'FAIL '}  ${file} ${xpath}: ${verdict}\n`);
      if (!good) process.stdout.write(`${output}\n`);
    }
  }
  process.stdout.write(
    `${checked} signatures checked with xmlsec1: ${ok ? 'all as expected' : 'FAILURES above'}\n`,
  );
  return ok;
}

const { files, signedBy } = generate();
if (process.argv.includes('--verify')) {
  if (!verify(files, signedBy)) process.exit(1);
} else {
  write(files);
  process.stdout.write(`wrote ${files.size} files to ${DEFAULT_FIXTURE_DIR}\n`);
}
