/**
 * Smoke test of the SAML test rig itself: a real SimpleSAMLphp IdP and a real Chromium. Later SAML
 * end-to-end tests rely on what this pins down (endpoints, login form, signatures, NameID and
 * attribute names), so a broken rig fails here first, with a clear message.
 */
import { DOMParser } from '@xmldom/xmldom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignedXml } from 'xml-crypto';
import { type LaunchedChromium, launchChromium } from '../support/browser.ts';
import {
  captureSamlPost,
  idpInitiatedUrl,
  pemBody,
  SAML_NAMEID_EMAIL,
  type SimpleSamlIdp,
  signInAtSimpleSamlIdp,
  startSimpleSamlIdp,
} from '../support/saml-idp.ts';

const SP_ENTITY_ID = 'http://127.0.0.1:1/sp';
// Port 1 has nobody listening: the browser's POST there is intercepted, never sent.
const ACS_URL = 'http://127.0.0.1:1/acs';

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';

/** Which elements (by local name) carry a ds:Signature that verifies with `certificatePem`. */
function validlySignedElements(xml: string, certificatePem: string): string[] {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const signatures = Array.from(doc.getElementsByTagNameNS(DSIG, 'Signature'));
  return signatures.map((signature) => {
    // Only the pinned certificate counts, never one the document carries in its KeyInfo.
    const verifier = new SignedXml({ publicCert: certificatePem, getCertFromKeyInfo: () => null });
    verifier.loadSignature(signature);
    const parent = signature.parentNode as Element | null;
    return verifier.checkSignature(xml) ? (parent?.localName ?? '?') : 'invalid';
  });
}

describe('SAML IdP rig (SimpleSAMLphp + Chromium)', () => {
  let idp: SimpleSamlIdp | undefined;
  let chromium: LaunchedChromium | undefined;

  beforeAll(async () => {
    idp = await startSimpleSamlIdp({ spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL });
    chromium = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    await chromium?.stop();
    await idp?.stop();
  }, 15_000);

  it('publishes metadata with its entity id and signing certificate', async () => {
    // Prepare
    if (idp === undefined) throw new Error('the IdP did not start');

    // Act
    const xml = await idp.metadataXml();

    // Assess
    expect(xml).toContain(`entityID="${idp.entityId}"`);
    expect(xml).toContain(`Location="${idp.ssoUrl}"`);
    const certificates = [...xml.matchAll(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/g)];
    expect(certificates.length).toBeGreaterThan(0);
    for (const [, body] of certificates) {
      expect(body?.replace(/\s+/g, '')).toBe(pemBody(idp.certificatePem));
    }
  });

  it('signs alice in through its login form and posts a signed SAMLResponse to the ACS', async () => {
    // Prepare
    if (idp === undefined || chromium === undefined) throw new Error('the rig did not start');
    const context = await chromium.browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      const capture = await captureSamlPost(page, ACS_URL, { timeoutMs: 15_000 });

      // Act
      await page.goto(idpInitiatedUrl(idp, SP_ENTITY_ID));
      await signInAtSimpleSamlIdp(page, 'alice', 'alice-pass');
      const post = await capture.posted;

      // Assess
      const xml = post.samlResponseXml;
      expect(post.url).toBe(ACS_URL);
      expect(xml).toMatch(/^<samlp:Response\b/);
      expect(xml).toContain(`Destination="${ACS_URL}"`);
      expect(xml).toContain(
        '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>',
      );
      expect(xml).toContain(`<saml:Issuer>${idp.entityId}</saml:Issuer>`);
      expect(xml).toContain(`<saml:Audience>${SP_ENTITY_ID}</saml:Audience>`);
      expect(xml).toMatch(
        new RegExp(`<saml:NameID[^>]*Format="${SAML_NAMEID_EMAIL}"[^>]*>alice@corp\\.example<`),
      );
      expect(xml).toContain('<saml:AttributeValue xsi:type="xs:string">aws-admins<');
      expect(xml).toContain('Name="groups"');

      // The Response is signed (its ds:Signature sits before the Assertion), and so is the
      // Assertion (a ds:Signature inside saml:Assertion), both with rsa-sha256.
      const assertion = /<saml:Assertion\b[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0] ?? '';
      expect(assertion).toContain('<ds:Signature');
      const outside = xml.replace(assertion, '');
      expect(outside).toContain('<ds:Signature');
      expect(xml.match(/rsa-sha256/g)?.length).toBe(2);
      expect(validlySignedElements(xml, idp.certificatePem)).toEqual(['Response', 'Assertion']);
      await capture.dispose();
    } finally {
      await context.close();
    }
  }, 30_000);
});
