/**
 * `tvm saml check` on the SAML fixture corpus: every response the ACS refuses is reported with
 * the same reason and the IdP setting to change; a response with several problems gets each one;
 * the metadata's own problems are found; and no finding ever carries a NameID or attribute value.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { checkSaml, type SamlCheckInput } from '#shared/saml/check.ts';
import { ALGORITHMS } from '#shared/saml/response.ts';
import { buildValidResponse, FIXTURE } from '../../../scripts/saml/fixture-builder.ts';
import {
  encode,
  fixtureText,
  SAML_FIXTURES,
  SAML_TEST,
  samlConfig,
} from '../../support/saml-config.ts';

interface FixtureEntry {
  name: string;
  file: string;
  expectedReason: string;
}

const manifest = JSON.parse(
  readFileSync(`${SAML_FIXTURES}/manifest.json`, 'utf8'),
) as FixtureEntry[];

/** The clock of the ACS tests: the fixtures were posted at T0 + 60 s. */
const POSTED = new Date(SAML_TEST.t0.getTime() + 60_000);
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

function idpMetadata(options: { wantSigned?: boolean; formats?: string[] } = {}): string {
  const body = fixtureText('keys/idp.crt')
    .replaceAll(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replaceAll(/\s+/g, '');
  const formats = (options.formats ?? [FIXTURE.nameIdFormat])
    .map((format) => `<md:NameIDFormat>${format}</md:NameIDFormat>`)
    .join('');
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${SAML_TEST.idpEntityId}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"${options.wantSigned ? ' WantAuthnRequestsSigned="true"' : ''}>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    ${formats}
    <md:SingleSignOnService Binding="${REDIRECT}" Location="https://idp.corp.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
}

function configured(
  provider: Record<string, unknown> = {},
  mappings?: Record<string, unknown>[],
): {
  config: TvmConfig;
  provider: SamlProvider;
} {
  const validated = validateConfig(samlConfig({ ambiguity: 'first', ...provider }, mappings), {
    stage: 'local',
    now: POSTED,
  });
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  const found = validated.config.providers.find((entry) => entry.id === SAML_TEST.provider);
  return { config: validated.config, provider: found as SamlProvider };
}

function check(xml: string | undefined, extra: Partial<SamlCheckInput> = {}) {
  const { config, provider } = configured();
  return checkSaml({
    metadataXml: idpMetadata(),
    ...(xml === undefined ? {} : { samlResponse: encode(xml) }),
    provider,
    config,
    baseUrl: SAML_TEST.baseUrl,
    now: POSTED,
    postedAt: POSTED,
    ...extra,
  });
}

/** Nothing of the user's: the NameIDs and attribute values the fixtures carry. */
const SECRETS = [FIXTURE.nameId, FIXTURE.evil.nameId, 'aws-admins', 'aws-readers', 'engineering'];

function expectNoValues(report: unknown): void {
  const text = JSON.stringify(report);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

const refused = (report: Awaited<ReturnType<typeof check>>) =>
  report.findings.filter((finding) => finding.level === 'refused');

describe('saml check: the fixture corpus', () => {
  it('finds nothing to refuse in the valid response, and names only names and formats', async () => {
    // Act
    const report = await check(fixtureText('valid/response.xml'));
    // Assess
    expect(refused(report)).toEqual([]);
    expect(report.idpEntityId).toBe(SAML_TEST.idpEntityId);
    expect(report.nameIdFormat).toBe(FIXTURE.nameIdFormat);
    expect(report.attributeNames).toEqual(['email', 'groups', 'department']);
    expect(report.matchedMappings).toEqual(['corp-admin', 'corp-reader']);
    expectNoValues(report);
  });

  it.each(manifest)('reports $name as $expectedReason, with its advice', async (entry) => {
    // Act: an IdP-initiated capture is how an unknown InResponseTo can be told offline.
    const report = await check(fixtureText(entry.file), {
      idpInitiated: entry.expectedReason === 'in_response_to_unknown',
    });
    // Assess
    const finding = refused(report).find((candidate) => candidate.reason === entry.expectedReason);
    expect(finding, JSON.stringify(report.findings)).toBeDefined();
    expect(finding?.message).not.toBe('');
    expect(finding?.advice.length).toBeGreaterThan(20);
    expectNoValues(report);
  });

  it('says what only the live ACS can check about InResponseTo, without refusing', async () => {
    const report = await check(fixtureText('invalid/in-response-to-unknown.xml'));
    expect(refused(report)).toEqual([]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ level: 'note', reason: 'in_response_to_unknown' }),
    );
  });
});

describe('saml check: in the words of the IdP settings', () => {
  it.each([
    ['invalid/signature-stripped.xml', 'the assertion is not signed', 'turn on Sign assertions'],
    ['invalid/rsa-sha1-signature.xml', 'SHA-1', 'choose RSA-SHA256'],
    [
      'invalid/audience-wrong.xml',
      `Audience is "https://other-sp.example/saml/metadata", expected "${SAML_TEST.spEntityId}"`,
      'SP entity id (Audience)',
    ],
    [
      'invalid/destination-wrong.xml',
      `expected "${SAML_TEST.acsUrl}"`,
      'set the ACS URL (Reply URL, SSO URL)',
    ],
    ['invalid/encrypted-assertion.xml', 'decryptAssertions', 'set decryptAssertions: true'],
    ['invalid/expired.xml', 'clock skew', 'NTP'],
    ['invalid/in-response-to-missing.xml', 'started by the IdP', 'allowIdpInitiated: true'],
  ])('%s', async (file, message, advice) => {
    const report = await check(fixtureText(file));
    const [first] = refused(report);
    expect(first?.message).toContain(message);
    expect(first?.advice).toContain(advice);
  });

  it('says it cannot look inside an encrypted assertion of a provider that decrypts', async () => {
    const { config, provider } = configured({ decryptAssertions: true });
    const report = await check(fixtureText('encrypted/encrypted-signed-aes256-gcm.xml'), {
      provider,
      config,
    });
    const [first] = refused(report);
    expect(first?.reason).toBe('assertion_undecryptable');
    expect(first?.message).toContain('cannot decrypt');
    expect(first?.advice).toContain('RSA-OAEP');
    expectNoValues(report);
  });

  it('reports every problem of one response, not only the first', async () => {
    // Prepare: what a misconfigured IdP sends: SHA-1, another Audience and ACS, transient NameID.
    const xml = buildValidResponse(
      {
        audience: 'urn:wrong:sp',
        destination: 'https://wrong.example/acs',
        recipient: 'https://wrong.example/acs',
        nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      },
      { signatureAlgorithm: ALGORITHMS.rsaSha1, digestAlgorithm: ALGORITHMS.sha1 },
    );
    // Act
    const report = await check(xml);
    // Assess
    expect(refused(report).map((finding) => finding.reason)).toEqual([
      'algorithm_not_allowed',
      'destination_mismatch',
      'recipient_mismatch',
      'audience_mismatch',
    ]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        reason: 'nameid_transient',
        message: expect.stringContaining(
          'the NameID format is transient, so sessions will not be stable',
        ),
      }),
    );
    expectNoValues(report);
  });

  it('names a group attribute of attributeMap the assertion lacks, and the refusal it causes', async () => {
    // Prepare: the config expects Keycloak's "member"; the IdP sends "groups".
    const { config, provider } = configured({
      attributeMap: { member: 'groups', email: 'email', department: 'department' },
    });
    // Act
    const report = await check(fixtureText('valid/response.xml'), { config, provider });
    // Assess
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        reason: 'attribute_missing',
        message: expect.stringContaining('"member" (claim groups) named in attributeMap'),
      }),
    );
    expect(refused(report)).toEqual([
      expect.objectContaining({ reason: 'no_matching_mapping', advice: expect.any(String) }),
    ]);
  });

  it('refuses several values for a string claim (claim_malformed)', async () => {
    const { config, provider } = configured(
      {
        claims: {
          groups: { type: 'string' },
          email: { type: 'string' },
          department: { type: 'string' },
        },
      },
      [
        {
          id: 'engineers',
          priority: 10,
          provider: SAML_TEST.provider,
          match: { claim: 'department', op: 'equals', value: 'engineering' },
          roleArn: 'arn:aws:iam::123456789012:role/tvm/engineers',
        },
      ],
    );
    const report = await check(fixtureText('valid/response.xml'), { config, provider });
    expect(refused(report)).toEqual([
      expect.objectContaining({
        reason: 'claim_malformed',
        message: expect.stringContaining('claim groups'),
        advice: expect.stringContaining('declare the claim a list'),
      }),
    ]);
    expectNoValues(report);
  });

  it('judges an old capture at its IssueInstant, and a future IssueInstant as the IdP clock', async () => {
    // A capture from a day ago is not "expired": it was posted then.
    const late = new Date(SAML_TEST.t0.getTime() + 86_400_000);
    const old = await check(fixtureText('valid/response.xml'), { now: late, postedAt: undefined });
    expect(refused(old)).toEqual([]);
    expect(old.findings).toContainEqual(expect.objectContaining({ reason: 'captured_earlier' }));
    // Issued 10 minutes after this machine's now: the IdP's clock is ahead.
    const early = new Date(SAML_TEST.t0.getTime() - 600_000);
    const ahead = await check(fixtureText('valid/response.xml'), {
      now: early,
      postedAt: undefined,
    });
    expect(refused(ahead).map((finding) => finding.reason)).toEqual(['not_yet_valid']);
    expect(refused(ahead)[0]?.advice).toContain('NTP');
  });
});

describe('saml check: the metadata', () => {
  it('finds an expired signing certificate', async () => {
    const report = await check(undefined, { now: new Date('2046-01-01T00:00:00Z') });
    expect(refused(report)).toEqual([
      expect.objectContaining({
        reason: 'certificate_expired',
        advice: expect.stringContaining('renew'),
      }),
    ]);
  });

  it('finds an IdP that wants signed AuthnRequests from a provider that does not sign', async () => {
    const report = await check(undefined, { metadataXml: idpMetadata({ wantSigned: true }) });
    expect(refused(report)).toEqual([
      expect.objectContaining({
        reason: 'authn_request_unsigned',
        advice: expect.stringContaining('Client signature required'),
      }),
    ]);
  });

  it('finds metadata of another entity id and certificates the config does not pin', async () => {
    const other = idpMetadata().replace(
      `entityID="${SAML_TEST.idpEntityId}"`,
      'entityID="https://other-idp.example"',
    );
    const { config, provider } = configured({
      certificates: [fixtureText('keys/attacker.crt')],
    });
    const report = await check(undefined, { metadataXml: other, config, provider });
    expect(refused(report).map((finding) => finding.reason)).toEqual([
      'issuer_mismatch',
      'signature_invalid',
    ]);
  });

  it('warns about metadata that offers only transient NameIDs', async () => {
    const report = await check(undefined, {
      metadataXml: idpMetadata({
        formats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:transient'],
      }),
    });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ level: 'warning', reason: 'nameid_transient' }),
    );
  });

  it('checks a response without a config against the metadata alone', async () => {
    const report = await checkSaml({
      metadataXml: idpMetadata(),
      samlResponse: encode(fixtureText('valid/response.xml')),
      now: POSTED,
    });
    expect(refused(report)).toEqual([]);
    expect(report.findings).toContainEqual(expect.objectContaining({ reason: 'not_compared' }));
    const unsigned = await checkSaml({
      metadataXml: idpMetadata(),
      samlResponse: encode(fixtureText('invalid/signature-stripped.xml')),
      now: POSTED,
    });
    expect(refused(unsigned).map((finding) => finding.reason)).toEqual(['assertion_unsigned']);
  });
});
