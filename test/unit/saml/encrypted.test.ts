/**
 * EncryptedAssertion at the ACS (test/fixtures/saml/encrypted/, written by
 * scripts/saml/generate-encrypted-fixtures.ts): accepted only for a provider with
 * decryptAssertions and only when the decrypted assertion is signed; every decryption failure is
 * one refusal with the generic page, zero STS calls and one audit record.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SamlProvider } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { AuthenticationError } from '#shared/errors.ts';
import { validateSamlResponse } from '#shared/saml/response.ts';
import { parseSigningKey } from '#shared/saml/signing-key.ts';
import { samlConfig } from '../../support/saml-config.ts';
import {
  encode,
  expectSamlRejection,
  fixtureText,
  SAML_FIXTURES,
  SAML_TEST,
  type SamlHarness,
  startSamlHarness,
} from '../../support/saml-harness.ts';

interface EncryptedEntry {
  name: string;
  file: string;
  description: string;
  expectedReason: string;
}

const manifest = JSON.parse(
  readFileSync(`${SAML_FIXTURES}/encrypted/manifest.json`, 'utf8'),
) as EncryptedEntry[];
const spKey = {
  privateKey: readFileSync(`${SAML_FIXTURES}/keys/sp-encryption.key`, 'utf8'),
  certificate: readFileSync(`${SAML_FIXTURES}/keys/sp-encryption.crt`, 'utf8'),
};
const accepted = manifest.filter((entry) => entry.expectedReason === 'ok');
const refused = manifest.filter((entry) => entry.expectedReason !== 'ok');

function harness(
  provider: Record<string, unknown> = { decryptAssertions: true },
  key: typeof spKey | null = spKey,
): SamlHarness {
  const h = startSamlHarness({ provider: { ambiguity: 'first', ...provider } });
  h.deps.decryptionKey = async () => key ?? undefined;
  return h;
}

describe('saml-acs encrypted assertions', () => {
  it('covers every case: accepted, unsigned, two, mixed, wrong key, tampered, rsa-1_5, oversize', () => {
    const names = manifest.map((entry) => entry.name);
    for (const needed of [
      'unsigned',
      'two',
      'mixed',
      'wrong-key',
      'tampered',
      'rsa-1_5',
      'oversize',
    ]) {
      expect(names.some((name) => name.includes(needed))).toBe(true);
    }
    expect(accepted.length).toBeGreaterThanOrEqual(2);
  });

  it.each(accepted)('vends for $name', async (entry) => {
    // Prepare
    const h = harness();
    await h.seedLogin();
    // Act
    const result = await h.postResponse(encode(fixtureText(entry.file)));
    // Assess
    expect(result.status).toBe(200);
    expect(h.stsCalls()).toBe(1);
    expect(h.audits).toEqual([expect.objectContaining({ outcome: 'allowed', reason: 'ok' })]);
  });

  it.each(refused)('rejects $name ($expectedReason)', async (entry) => {
    // Prepare
    const h = harness();
    await h.seedLogin();
    // Act
    const result = await h.postResponse(encode(fixtureText(entry.file)));
    // Assess
    expectSamlRejection(h, result, { status: 401, reason: entry.expectedReason });
  });

  it.each(manifest)('refuses $name for a provider without decryptAssertions', async (entry) => {
    // Prepare
    const h = harness({});
    await h.seedLogin();
    // Act
    const result = await h.postResponse(encode(fixtureText(entry.file)));
    // Assess
    expectSamlRejection(h, result, { status: 401, reason: 'encrypted_assertion_unsupported' });
  });

  it('fails closed when the decryption key parameter is missing', async () => {
    // Prepare
    const h = harness({ decryptAssertions: true }, null);
    await h.seedLogin();
    const [entry] = accepted;
    // Act
    const result = await h.postResponse(encode(fixtureText(entry?.file ?? '')));
    // Assess
    expectSamlRejection(h, result, { status: 401, reason: 'assertion_undecryptable' });
  });

  it('gives every decryption failure the same refusal with no detail', async () => {
    // Prepare: the failures an oracle would tell apart (key, tag, padding, size).
    const files = refused
      .filter((entry) => entry.expectedReason === 'assertion_undecryptable')
      .map((entry) => entry.file);
    const provider = harness().config.providers[0] as SamlProvider;
    // Act
    const errors = await Promise.all(
      files.map((file) =>
        validateSamlResponse(encode(fixtureText(file)), provider, {
          acsUrls: [SAML_TEST.acsUrl],
          audiences: [SAML_TEST.spEntityId],
          certificates: [readFileSync(`${SAML_FIXTURES}/keys/idp.crt`, 'utf8')],
          decryptionKey: spKey.privateKey,
          now: new Date(SAML_TEST.t0.getTime() + 60_000),
        }).catch((error: unknown) => error),
      ),
    );
    // Assess
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const error of errors) {
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).reason).toBe('assertion_undecryptable');
      expect((error as Error).cause).toBeUndefined();
    }
  });

  it('publishes the encryption certificate in the SP metadata only for a provider that decrypts', async () => {
    // Prepare
    const body = spKey.certificate.replaceAll(/-----[A-Z ]+-----|\s/g, '');
    const decrypting = harness();
    const plain = harness({});
    // Act
    const path = `/v1/saml/${SAML_TEST.provider}/metadata`;
    const withKey = await decrypting.call({ method: 'GET', path });
    const without = await plain.call({ method: 'GET', path });
    // Assess
    expect(withKey.status).toBe(200);
    expect(withKey.body).toContain('<md:KeyDescriptor use="encryption">');
    expect(withKey.body).toContain(body);
    expect(without.body).not.toContain('use="encryption"');
    expect(without.body).not.toContain(body);
  });

  it('is refused in native mode by config validation', () => {
    // Act
    const result = validateConfig(
      samlConfig({ decryptAssertions: true, mode: 'native', ambiguity: 'first' }),
      { stage: 'local', now: SAML_TEST.t0 },
    );
    // Assess
    expect(result.ok).toBe(false);
    expect(JSON.stringify(result.ok ? [] : result.problems)).toContain('decryptAssertions');
  });

  it('names the decryption key in the errors of its parameter', () => {
    expect(() => parseSigningKey('{}', 'decryption')).toThrow(/SAML decryption key parameter/);
    expect(() =>
      parseSigningKey(
        JSON.stringify({
          privateKey: spKey.privateKey,
          certificate: readFileSync(`${SAML_FIXTURES}/keys/idp.crt`, 'utf8'),
        }),
        'decryption',
      ),
    ).toThrow(/decryption certificate does not match/);
  });
});
