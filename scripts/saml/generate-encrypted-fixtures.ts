/**
 * Writes the EncryptedAssertion fixtures under test/fixtures/saml/encrypted/ (with their own
 * manifest.json), from the valid fixture response of scripts/saml/fixture-builder.ts, encrypted
 * with xml-encryption to keys/sp-encryption.crt (the SP decryption key pair the tests load).
 *
 *   npx tsx scripts/saml/generate-encrypted-fixtures.ts
 *
 * Not byte-stable, unlike generate-fixtures.ts: every run draws new content keys, IVs and OAEP
 * seeds, so the files are written once and committed; the tests check each file's outcome.
 */
import { Buffer } from 'node:buffer';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import xmlEncryption from 'xml-encryption';
import type { AuthFailureReason } from '#shared/errors.ts';
import {
  assertionOf,
  buildUnsignedResponse,
  DEFAULT_FIXTURE_DIR,
  DEFAULT_KEYS_DIR,
  editXml,
  ensureKeyPair,
  FIXTURE,
  fragment,
  type KeyPair,
  loadFixtureKeys,
  NS,
  paddingGroups,
  parseXml,
  rootResponse,
  serializeXml,
  signResponse,
} from './fixture-builder.ts';

const XENC = 'http://www.w3.org/2001/04/xmlenc#';
const GCM256 = 'http://www.w3.org/2009/xmlenc11#aes256-gcm';
const CBC128 = `${XENC}aes128-cbc`;
const OAEP = `${XENC}rsa-oaep-mgf1p`;
const RSA15 = `${XENC}rsa-1_5`;

export const ENCRYPTED_FIXTURE_DIR = join(DEFAULT_FIXTURE_DIR, 'encrypted');

/** The SP decryption key pair the fixtures are encrypted to. */
export function spEncryptionKeys(): KeyPair {
  return ensureKeyPair(DEFAULT_KEYS_DIR, 'sp-encryption', 'sp.tvm.example');
}

interface Encryption {
  to?: KeyPair;
  content?: string;
  key?: string;
}

/** EncryptedData for `xml`, as an IdP writes it (xml-encryption, never our own crypto). */
function encrypt(xml: string, options: Encryption = {}): Promise<string> {
  const to = options.to ?? spEncryptionKeys();
  return new Promise((resolve, reject) => {
    xmlEncryption.encrypt(
      xml,
      {
        rsa_pub: createPublicKey(to.cert).export({ type: 'spki', format: 'pem' }).toString(),
        pem: to.cert,
        encryptionAlgorithm: options.content ?? GCM256,
        keyEncryptionAlgorithm: options.key ?? OAEP,
        warnInsecureAlgorithm: false,
      },
      (error, result) => (error || result === undefined ? reject(error) : resolve(result)),
    );
  });
}

function encryptedAssertion(encryptedData: string): string {
  return `<saml:EncryptedAssertion xmlns:saml="${NS.saml}">${encryptedData}</saml:EncryptedAssertion>`;
}

/** The signed assertion (or an unsigned one) of the fixture response, standalone. */
function assertionXml(signed = true, response = buildUnsignedResponse()): string {
  const xml = signed ? signResponse(response, { response: false }) : response;
  return serializeXml(assertionOf(parseXml(xml)));
}

/** The fixture response with its assertion replaced by `encrypted` (one or more elements). */
function responseWith(
  encrypted: readonly string[],
  options: { signResponse: boolean; keepPlain?: boolean },
): string {
  const xml = editXml(
    options.keepPlain
      ? signResponse(buildUnsignedResponse(), { response: false })
      : buildUnsignedResponse(),
    (document) => {
      const response = rootResponse(document);
      const assertion = assertionOf(document);
      for (const element of encrypted) {
        response.insertBefore(fragment(document, element), assertion);
      }
      if (!options.keepPlain) response.removeChild(assertion);
    },
  );
  return options.signResponse ? signResponse(xml, { assertion: false }) : xml;
}

/** Flips one bit in the first ciphertext block of the (first) EncryptedData's CipherValue. */
function tamper(encryptedData: string): string {
  return encryptedData.replace(
    /(<(?:xenc:)?EncryptedData[\s\S]*?)(<(?:xenc:)?CipherData>\s*<(?:xenc:)?CipherValue>)([^<]+)(?=<\/(?:xenc:)?CipherValue>\s*<\/(?:xenc:)?CipherData>\s*<\/(?:xenc:)?EncryptedData>)/,
    (_, head: string, open: string, value: string) => {
      const bytes = Buffer.from(value, 'base64');
      // Past the IV, in the first block: the Assertion's start tag is garbled.
      const index = 20;
      bytes[index] = (bytes[index] ?? 0) ^ 0x01;
      return `${head}${open}${bytes.toString('base64')}`;
    },
  );
}

interface Entry {
  name: string;
  description: string;
  /** `ok`: accepted by a provider with decryptAssertions. */
  expectedReason: AuthFailureReason | 'ok';
  build: () => Promise<string>;
}

const SIGNED = () => assertionXml(true);

/** The signed assertion with extra groups, as close to `bytes` (UTF-8) as the padding allows. */
function paddedAssertion(bytes: number): string {
  const build = (count: number) =>
    assertionXml(
      true,
      buildUnsignedResponse({
        attributes: { ...FIXTURE.attributes, groups: paddingGroups(count) },
      }),
    );
  const none = Buffer.byteLength(build(0));
  const perValue = Buffer.byteLength(build(1)) - none;
  return build(Math.ceil((bytes - none) / perValue));
}

const ENTRIES: Entry[] = [
  {
    name: 'encrypted-signed-aes256-gcm',
    description:
      'The IdP-signed assertion encrypted with AES-256-GCM and RSA-OAEP; the Response is signed.',
    expectedReason: 'ok',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(SIGNED()))], { signResponse: true }),
  },
  {
    name: 'encrypted-signed-aes128-cbc-response-unsigned',
    description:
      'The IdP-signed assertion encrypted with AES-128-CBC and RSA-OAEP; the Response is not signed.',
    expectedReason: 'ok',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(SIGNED(), { content: CBC128 }))], {
        signResponse: false,
      }),
  },
  {
    name: 'encrypted-assertion-unsigned',
    description: 'An unsigned assertion, encrypted to our key, inside a validly signed Response.',
    expectedReason: 'assertion_unsigned',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(assertionXml(false)))], {
        signResponse: true,
      }),
  },
  {
    name: 'encrypted-two-assertions',
    description: 'Two EncryptedAssertions, each the IdP-signed assertion; the Response is signed.',
    expectedReason: 'assertion_count',
    build: async () =>
      responseWith(
        [encryptedAssertion(await encrypt(SIGNED())), encryptedAssertion(await encrypt(SIGNED()))],
        { signResponse: true },
      ),
  },
  {
    name: 'encrypted-mixed-with-plain',
    description:
      'The IdP-signed plain assertion and an EncryptedAssertion side by side; the Response is signed.',
    expectedReason: 'assertion_count',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(SIGNED()))], {
        signResponse: true,
        keepPlain: true,
      }),
  },
  {
    name: 'encrypted-wrong-key',
    description:
      "The IdP-signed assertion encrypted to another party's certificate (attacker.crt); the Response is signed.",
    expectedReason: 'assertion_undecryptable',
    build: async () =>
      responseWith(
        [encryptedAssertion(await encrypt(SIGNED(), { to: loadFixtureKeys().attacker }))],
        {
          signResponse: true,
        },
      ),
  },
  {
    name: 'encrypted-tampered-gcm',
    description:
      'AES-256-GCM ciphertext with one bit flipped (the tag no longer verifies); the Response is not signed.',
    expectedReason: 'assertion_undecryptable',
    build: async () =>
      responseWith([encryptedAssertion(tamper(await encrypt(SIGNED())))], { signResponse: false }),
  },
  {
    name: 'encrypted-tampered-cbc',
    description:
      'AES-128-CBC ciphertext with one bit flipped (no integrity: the plaintext is garbled); the Response is not signed.',
    expectedReason: 'assertion_undecryptable',
    build: async () =>
      responseWith([encryptedAssertion(tamper(await encrypt(SIGNED(), { content: CBC128 })))], {
        signResponse: false,
      }),
  },
  {
    name: 'encrypted-tampered-signed-response',
    description:
      'Tampered ciphertext inside a signed Response: the Response signature covers it and fails before any decryption.',
    expectedReason: 'signature_invalid',
    build: async () => {
      const signed = responseWith([encryptedAssertion(await encrypt(SIGNED()))], {
        signResponse: true,
      });
      return tamper(signed);
    },
  },
  {
    name: 'encrypted-rsa-1_5-key-transport',
    description:
      'The IdP-signed assertion with its content key under RSA PKCS#1 v1.5 (a Bleichenbacher oracle); the Response is signed.',
    expectedReason: 'assertion_undecryptable',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(SIGNED(), { key: RSA15 }))], {
        signResponse: true,
      }),
  },
  {
    name: 'encrypted-oversize',
    description:
      'An IdP-signed assertion just past the 64 KB decrypted cap (padded groups), encrypted; the Response is not signed, and the post stays under the 128 KB form limit.',
    expectedReason: 'assertion_undecryptable',
    build: async () =>
      responseWith([encryptedAssertion(await encrypt(paddedAssertion(66 * 1024)))], {
        signResponse: false,
      }),
  },
];

async function main(): Promise<void> {
  mkdirSync(ENCRYPTED_FIXTURE_DIR, { recursive: true });
  const manifest = [];
  for (const entry of ENTRIES) {
    const file = `encrypted/${entry.name}.xml`;
    writeFileSync(join(DEFAULT_FIXTURE_DIR, file), await entry.build());
    manifest.push({
      name: entry.name,
      file,
      description: entry.description,
      expectedReason: entry.expectedReason,
    });
  }
  writeFileSync(
    join(ENCRYPTED_FIXTURE_DIR, 'manifest.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  console.log(`wrote ${manifest.length} fixtures to ${ENCRYPTED_FIXTURE_DIR}`);
}

await main();
