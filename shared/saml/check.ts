/**
 * `tvm saml check`: what TVM would refuse about an IdP, from its metadata and optionally a SAML
 * response a user captured, each with the IdP setting to change. The response goes through the
 * real validation (./response.ts) and the real identity and mapping code; when it refuses, the
 * one expectation that refused is widened to what the response says and the validation runs
 * again, so that every later check is reported too. Nothing vends, nothing is stored, and no
 * NameID or attribute value is ever put in a finding: only names, formats and our own config.
 */
import { X509Certificate } from 'node:crypto';
import type { SamlProvider, TvmConfig } from '#shared/config/schema.ts';
import { SamlProviderSchema } from '#shared/config/schema.ts';
import { AppError } from '#shared/errors.ts';
import { matchMappings } from '#shared/mapping/decide.ts';
import {
  attribute,
  children,
  isElement,
  NS,
  onlyChild,
  parseXml,
  walk,
  wholeText,
} from '#shared/xml/dom.ts';
import { metadataSigningCertificates } from '#shared/xml/saml-metadata.ts';
import { AWS_SAML_ENDPOINT, samlIdentity, spUrls } from './provider.ts';
import {
  ALGORITHMS,
  decodeSamlResponse,
  type VerifiedAssertion,
  validateSamlResponse,
} from './response.ts';

/** `refused`: TVM refuses the login. `warning`: it works, but badly or not for long. */
export type FindingLevel = 'refused' | 'warning' | 'note';

export interface Finding {
  level: FindingLevel;
  /** The audit reason TVM records for it, or the name of a check that has no audit reason. */
  reason: string;
  /** What is wrong (names, formats, URLs and config values only). */
  message: string;
  /** What to change, in the words of the IdP's settings (docs/idp/README.md). */
  advice: string;
}

export interface SamlCheckInput {
  /** The IdP's metadata XML. */
  metadataXml: string;
  /** A captured SAMLResponse form field (base64). */
  samlResponse?: string;
  /** The provider of the config this IdP is (to be) configured as, and that config. */
  provider?: SamlProvider;
  config?: TvmConfig;
  /** The deployment's public base URL: the ACS URL is derived from it. */
  baseUrl?: string;
  /** This machine's clock. */
  now: Date;
  /** When the browser posted the response; by default now, or its IssueInstant if it is older. */
  postedAt?: Date;
  /** The response came from an IdP-initiated login (an app tile). */
  idpInitiated?: boolean;
}

export interface SamlCheckReport {
  idpEntityId: string | undefined;
  signingCertificates: number;
  /** From a response that verified (possibly with widened expectations). */
  nameIdFormat?: string | undefined;
  attributeNames?: string[];
  matchedMappings?: string[];
  findings: Finding[];
}

const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const HTTP_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const CERTIFICATE_WARN_DAYS = 30;
const DAY_MS = 86_400_000;
const YEARS_100_S = 100 * 365 * 86_400;

/** Advice per audit reason, as docs/idp/README.md words it; the message says what was seen. */
const ADVICE: Readonly<Record<string, string>> = {
  assertion_unsigned: 'turn on Sign assertions (signing the Response as well is fine)',
  response_unsigned: 'sign the Response as well (sign both), or drop wantResponseSigned',
  algorithm_not_allowed:
    'choose RSA-SHA256 as the signature algorithm and SHA-256 as the digest (SHA-512 is fine too)',
  signature_invalid:
    "pin the IdP's current signing certificate in certificates (add the new one before a rollover)",
  issuer_mismatch: "copy the IdP's entity id (Issuer) exactly into the provider's entityId",
  destination_mismatch: 'set the ACS URL (Reply URL, SSO URL) to the expected URL exactly',
  recipient_mismatch: 'set the ACS URL (Reply URL, SSO URL) to the expected URL exactly',
  audience_mismatch: "set the SP entity id (Audience) to the provider's spEntityId exactly",
  encrypted_assertion_unsupported:
    'set decryptAssertions: true on the provider and create its SP decryption key (docs/saml.md, "Encrypted assertions"), or turn assertion encryption off (Encrypt assertions)',
  assertion_undecryptable:
    'have the IdP encrypt to the encryption certificate of our SP metadata with AES-GCM or AES-CBC and RSA-OAEP (rsa-oaep-mgf1p, SHA-1 digest; not RSA 1.5); this check never reads the SP decryption key, so capture one response with encryption off to check the rest',
  missing_subject: 'release a NameID (a stable one: email address or persistent)',
  in_response_to_missing:
    'set allowIdpInitiated: true, or point the app tile at the login URL <base>/v1/saml/<provider>/login',
  in_response_to_unknown:
    'start logins at <base>/v1/saml/<provider>/login; an app tile must not send InResponseTo',
  in_response_to_mismatch:
    'the Response and its assertion answer different requests: this is an IdP bug; report it to its vendor',
  expired: "fix the IdP's clock (NTP), or raise clockSkewSeconds (at most 300)",
  not_yet_valid: "fix the IdP's clock (NTP), or raise clockSkewSeconds (at most 300)",
  issued_in_future: "fix the IdP's clock (NTP), or raise clockSkewSeconds (at most 300)",
  assertion_too_old:
    "fix the IdP's clock (NTP); an IdP that reuses an old assertion needs maxAssertionAgeSeconds raised",
  invalid_time:
    'the IdP writes times without a UTC "Z": this is an IdP bug; report it to its vendor',
  status_not_success:
    "the IdP refused the login itself: see the IdP's log for why (user not assigned to the app, MFA...)",
  subject_confirmation_invalid:
    'use the IdP\'s standard Web Browser SSO profile: one "bearer" subject confirmation with NotOnOrAfter',
  claim_malformed: 'declare the claim a list in claims, or have the IdP send one value',
  no_matching_mapping:
    'release the attribute your mappings match on; compare its Name and values with the config',
  saml_response_too_large: 'release fewer attributes (groups filtered to the ones TVM needs)',
  xml_comment:
    'TVM refuses XML comments in a response (comment injection); capture the response again, unmodified',
  doctype_not_allowed: 'TVM refuses DOCTYPEs (entity attacks); no IdP sends one: capture it again',
};

/** Reasons of the response's shape: a real IdP never sends them; a hand-edited copy does. */
const SHAPE_ADVICE =
  'TVM accepts exactly one signed assertion directly in the Response (the signature-wrapping defence); a real IdP does not send this shape: capture the SAMLResponse again, unmodified (copy the whole form field)';

/** Checks a captured response cannot pass offline: they are only said, never refused here. */
const ONLINE_ONLY = 'in_response_to_unknown';

function adviceFor(reason: string): string {
  return ADVICE[reason] ?? SHAPE_ADVICE;
}

/** What the posted document says, unverified: used only to word findings and widen expectations. */
interface Peek {
  responseIssuer?: string | undefined;
  assertionIssuer?: string | undefined;
  destination?: string | undefined;
  recipient?: string | undefined;
  audiences: string[];
  issueInstant?: Date | undefined;
  inResponseTo?: string | undefined;
  statusCode?: string | undefined;
  algorithms: string[];
}

function peek(encoded: string): Peek {
  const seen: Peek = { audiences: [], algorithms: [] };
  try {
    const xml = decodeSamlResponse(encoded);
    if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return seen;
    const document = parseXml(xml);
    const response = document.documentElement;
    const text = (element: Element | undefined) =>
      element === undefined ? undefined : wholeText(element).trim();
    seen.responseIssuer = text(onlyChild(response, NS.assertion, 'Issuer'));
    seen.destination = attribute(response, 'Destination');
    seen.inResponseTo = attribute(response, 'InResponseTo');
    const status = onlyChild(response, NS.protocol, 'Status');
    const code = status === undefined ? undefined : onlyChild(status, NS.protocol, 'StatusCode');
    seen.statusCode = code === undefined ? undefined : attribute(code, 'Value');
    for (const node of walk(document)) {
      if (node.nodeType !== 1) continue;
      const element = node as Element;
      if (element.namespaceURI === NS.dsig) {
        const algorithm = attribute(element, 'Algorithm');
        if (algorithm !== undefined) seen.algorithms.push(algorithm);
      }
      if (isElement(element, NS.assertion, 'Assertion') && seen.assertionIssuer === undefined) {
        seen.assertionIssuer = text(onlyChild(element, NS.assertion, 'Issuer'));
        const instant = attribute(element, 'IssueInstant');
        const date = instant === undefined ? undefined : new Date(instant);
        if (date !== undefined && !Number.isNaN(date.getTime())) seen.issueInstant = date;
      }
      if (isElement(element, NS.assertion, 'SubjectConfirmationData')) {
        seen.recipient ??= attribute(element, 'Recipient');
        seen.inResponseTo ??= attribute(element, 'InResponseTo');
      }
      if (isElement(element, NS.assertion, 'Audience')) seen.audiences.push(text(element) ?? '');
    }
  } catch {
    // Whatever does not parse is reported by the real validation.
  }
  return seen;
}

const SHA1 = new Set<string>([ALGORITHMS.rsaSha1, ALGORITHMS.sha1]);
const STRONG = new Set<string>([
  ALGORITHMS.rsaSha256,
  ALGORITHMS.rsaSha512,
  ALGORITHMS.sha256,
  ALGORITHMS.sha512,
  ALGORITHMS.excC14n,
  ALGORITHMS.enveloped,
]);

function quoted(values: readonly (string | undefined)[]): string {
  const present = values.filter((value): value is string => value !== undefined);
  return present.length === 0 ? 'absent' : present.map((value) => `"${value}"`).join(', ');
}

// ---------------------------------------------------------------------------------------------
// The metadata

interface MetadataFacts {
  entityId: string | undefined;
  certificates: string[];
}

function checkMetadata(input: SamlCheckInput, findings: Finding[]): MetadataFacts {
  const { provider } = input;
  let document: Document;
  try {
    document = parseXml(input.metadataXml);
  } catch (error) {
    findings.push({
      level: 'refused',
      reason: 'metadata_unreadable',
      message: `the IdP metadata is not XML (${(error as Error).message})`,
      advice: "download the IdP's SAML metadata again (its metadata URL, or Export metadata)",
    });
    return { entityId: undefined, certificates: [] };
  }
  const idps: Element[] = [];
  for (const node of walk(document)) {
    if (isElement(node, NS.metadata, 'IDPSSODescriptor')) idps.push(node as Element);
  }
  const entityOf = (descriptor: Element) =>
    attribute(descriptor.parentNode as Element, 'entityID') ?? '';
  if (idps.length === 0) {
    findings.push({
      level: 'refused',
      reason: 'metadata_unreadable',
      message: 'the metadata has no IDPSSODescriptor: it is not the metadata of a SAML IdP',
      advice: "give the IdP's metadata (not our SP metadata, not an OIDC discovery document)",
    });
    return { entityId: undefined, certificates: [] };
  }
  let descriptor = idps[0] as Element;
  if (provider !== undefined) {
    const named = idps.find((candidate) => entityOf(candidate) === provider.entityId);
    if (named === undefined) {
      findings.push({
        level: 'refused',
        reason: 'issuer_mismatch',
        message: `the metadata's IdP entity id is ${quoted(idps.map(entityOf))}, the provider's entityId is "${provider.entityId}"`,
        advice: adviceFor('issuer_mismatch'),
      });
    } else descriptor = named;
  } else if (idps.length > 1) {
    findings.push({
      level: 'note',
      reason: 'metadata_several_idps',
      message: `the metadata describes ${idps.length} IdPs; checked "${entityOf(descriptor)}"`,
      advice: 'give --provider and --config to check the one the config names',
    });
  }
  const entityId = entityOf(descriptor);
  const { certificates } = metadataSigningCertificates(input.metadataXml, entityId);
  if (certificates.length === 0) {
    findings.push({
      level: 'refused',
      reason: 'signature_invalid',
      message: `the metadata lists no signing certificate for "${entityId}": no assertion can verify`,
      advice: 'give metadata with the IdP\'s signing certificate (KeyDescriptor use="signing")',
    });
  }
  for (const [index, pem] of certificates.entries()) {
    findings.push(...judgeCertificate(pem, index, input.now));
  }
  if (provider?.certificates !== undefined && certificates.length > 0) {
    const pinned = new Set(provider.certificates.map(fingerprint));
    if (!certificates.some((pem) => pinned.has(fingerprint(pem)))) {
      findings.push({
        level: 'refused',
        reason: 'signature_invalid',
        message:
          "none of the metadata's signing certificates is pinned in the provider's certificates: what this IdP signs is refused",
        advice: adviceFor('signature_invalid'),
      });
    }
  }
  if (attribute(descriptor, 'WantAuthnRequestsSigned') === 'true' && !provider?.signAuthnRequests) {
    findings.push({
      level: 'refused',
      reason: 'authn_request_unsigned',
      message:
        'the IdP wants signed AuthnRequests (WantAuthnRequestsSigned="true"); the provider does not sign them, so the IdP refuses SP-initiated logins',
      advice:
        'set signAuthnRequests: true and create the signing key (docs/saml.md), or turn off the IdP\'s requirement (Keycloak: "Client signature required")',
    });
  }
  const redirects = children(descriptor, NS.metadata, 'SingleSignOnService')
    .filter((service) => attribute(service, 'Binding') === HTTP_REDIRECT)
    .map((service) => attribute(service, 'Location') ?? '');
  if (redirects.length === 0) {
    findings.push({
      level: 'warning',
      reason: 'sso_binding',
      message:
        'the IdP has no HTTP-Redirect SingleSignOnService: TVM sends its AuthnRequest by redirect, so logins started at TVM fail',
      advice: 'enable the HTTP-Redirect binding for single sign-on in the IdP',
    });
  } else if (provider !== undefined && !redirects.includes(provider.ssoUrl)) {
    findings.push({
      level: 'warning',
      reason: 'sso_url',
      message: `the provider's ssoUrl is "${provider.ssoUrl}"; the metadata's HTTP-Redirect SSO URL is ${quoted(redirects)}`,
      advice: "copy the IdP's HTTP-Redirect SingleSignOnService Location into ssoUrl",
    });
  }
  const formats = children(descriptor, NS.metadata, 'NameIDFormat').map((format) =>
    wholeText(format).trim(),
  );
  if (formats.length > 0 && formats.every((format) => format === TRANSIENT)) {
    findings.push(transientFinding('the metadata offers only the transient NameID format'));
  }
  return { entityId, certificates };
}

function fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return `unreadable:${pem.length}`;
  }
}

function judgeCertificate(pem: string, index: number, now: Date): Finding[] {
  const which = `signing certificate ${index + 1}`;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return [
      {
        level: 'refused',
        reason: 'certificate_unreadable',
        message: `${which} of the metadata does not parse`,
        advice: "download the IdP's metadata again",
      },
    ];
  }
  const until = certificate.validToDate;
  if (until.getTime() <= now.getTime()) {
    return [
      {
        level: 'refused',
        reason: 'certificate_expired',
        message: `${which} expired on ${until.toISOString()}: config validate refuses it`,
        advice:
          "renew the IdP's signing certificate (the IdP's certificate or key settings), then pin the new one",
      },
    ];
  }
  if (until.getTime() - now.getTime() < CERTIFICATE_WARN_DAYS * DAY_MS) {
    return [
      {
        level: 'warning',
        reason: 'certificate_expiring',
        message: `${which} expires on ${until.toISOString()}`,
        advice: 'add the next certificate to certificates before the IdP switches to it',
      },
    ];
  }
  return [];
}

function transientFinding(message: string): Finding {
  return {
    level: 'warning',
    reason: 'nameid_transient',
    message: `${message}: the NameID format is transient, so sessions will not be stable (a new principal at every login: deny, revoke, rate limits and the audit trail cannot follow the user)`,
    advice: 'choose the persistent or the email address NameID format',
  };
}

// ---------------------------------------------------------------------------------------------
// The response

/** The provider the check validates with: the config's, or one made from the metadata. */
function checkedProvider(input: SamlCheckInput, facts: MetadataFacts): SamlProvider {
  if (input.provider !== undefined) return input.provider;
  return SamlProviderSchema.parse({
    id: 'idp',
    type: 'saml',
    entityId: facts.entityId ?? '',
    ssoUrl: 'https://idp.invalid/sso',
    certificates: facts.certificates.length > 0 ? facts.certificates : ['none'],
    spEntityId: 'urn:tvm:check',
    allowIdpInitiated: true,
  });
}

async function checkResponse(
  input: SamlCheckInput,
  facts: MetadataFacts,
  encoded: string,
  report: SamlCheckReport,
): Promise<void> {
  const { findings } = report;
  const seen = peek(encoded);
  let provider: SamlProvider = { ...checkedProvider(input, facts) };
  const configured = input.provider !== undefined;
  const urls = input.baseUrl === undefined ? undefined : spUrls(input.baseUrl, provider);
  const acsPath = `/v1/saml/${encodeURIComponent(provider.id)}/acs`;
  let acsUrls: string[] = [];
  if (urls !== undefined) acsUrls = [urls.acs];
  let audiences = configured ? [provider.spEntityId] : [];
  if (provider.mode === 'native') acsUrls.push(AWS_SAML_ENDPOINT);
  if (!configured || urls === undefined) {
    // Without a base URL, only the path can be checked; without a config, nothing is expected.
    for (const url of [seen.destination, seen.recipient]) {
      if (url === undefined || acsUrls.includes(url)) continue;
      let path = '';
      try {
        path = new URL(url).pathname;
      } catch {}
      if (!configured || path === acsPath) acsUrls.push(url);
    }
  }
  if (!configured) {
    audiences = [...seen.audiences];
    findings.push({
      level: 'note',
      reason: 'not_compared',
      message: `Audience is ${quoted(seen.audiences)} and Destination is ${quoted([seen.destination])}: without --provider and --config they are not compared with a provider`,
      advice:
        "the Audience must be the provider's spEntityId, the Destination <base>/v1/saml/<provider>/acs",
    });
  } else if (urls === undefined) {
    findings.push({
      level: 'note',
      reason: 'host_not_compared',
      message: `the ACS URL's host was not compared (the path must be ${acsPath})`,
      advice: 'give --base-url (or $TVM_PUBLIC_BASE_URL) to compare the whole ACS URL',
    });
  }
  let certificates = configured
    ? provider.certificates !== undefined
      ? provider.certificates.map((pem) => pem.trim())
      : facts.certificates
    : facts.certificates;

  // When the times are judged: the posting instant, or the issue instant of an old capture.
  let at = input.postedAt ?? input.now;
  if (input.postedAt === undefined && seen.issueInstant !== undefined) {
    const ageMs = input.now.getTime() - seen.issueInstant.getTime();
    const limitMs = (provider.maxAssertionAgeSeconds + provider.clockSkewSeconds) * 1000;
    if (ageMs > limitMs) {
      at = seen.issueInstant;
      findings.push({
        level: 'note',
        reason: 'captured_earlier',
        message: `the response was issued ${Math.round(ageMs / 60_000)} min ago: its times are judged at its IssueInstant`,
        advice: 'give --posted-at <time the browser posted it> to judge the IdP clock too',
      });
    }
  }

  const widened = new Set<string>();
  let verified: VerifiedAssertion | undefined;
  for (let attempt = 0; attempt < 16 && verified === undefined; attempt += 1) {
    try {
      verified = await validateSamlResponse(encoded, provider, {
        acsUrls,
        audiences,
        certificates,
        now: at,
      });
    } catch (error) {
      const reason = error instanceof AppError ? error.reason : 'malformed_response';
      if (widened.has(reason)) break;
      widened.add(reason);
      const finding = refusal(reason, provider, seen, { acsUrls, audiences, urls, acsPath });
      findings.push(finding);
      // Widen exactly what refused, to what the response says, and run the validation again.
      if (
        reason === 'algorithm_not_allowed' &&
        seen.algorithms.every((a) => STRONG.has(a) || SHA1.has(a))
      ) {
        provider = { ...provider, allowSha1: true };
      } else if (reason === 'response_unsigned') {
        provider = { ...provider, wantResponseSigned: false };
      } else if (
        reason === 'issuer_mismatch' &&
        seen.responseIssuer !== undefined &&
        seen.responseIssuer === seen.assertionIssuer
      ) {
        provider = { ...provider, entityId: seen.responseIssuer };
      } else if (reason === 'destination_mismatch' && seen.destination !== undefined) {
        // The same URL would let a wrong Recipient through unseen: say it now.
        if (seen.recipient === seen.destination && !acsUrls.includes(seen.recipient)) {
          widened.add('recipient_mismatch');
          findings.push(
            refusal('recipient_mismatch', provider, seen, { acsUrls, audiences, urls, acsPath }),
          );
        }
        acsUrls = [...acsUrls, seen.destination];
      } else if (reason === 'recipient_mismatch' && seen.recipient !== undefined) {
        acsUrls = [...acsUrls, seen.recipient];
      } else if (reason === 'audience_mismatch' && seen.audiences.length > 0) {
        audiences = [...audiences, ...seen.audiences];
      } else if (
        ['expired', 'not_yet_valid', 'issued_in_future', 'assertion_too_old'].includes(reason)
      ) {
        provider = {
          ...provider,
          clockSkewSeconds: YEARS_100_S,
          maxAssertionAgeSeconds: YEARS_100_S,
        };
      } else if (reason === 'in_response_to_missing') {
        provider = { ...provider, allowIdpInitiated: true };
      } else if (
        reason === 'signature_invalid' &&
        facts.certificates.some((pem) => !certificates.includes(pem))
      ) {
        finding.message += "; checked again with the metadata's certificates";
        certificates = facts.certificates;
      } else {
        findings.push({
          level: 'note',
          reason: 'stopped',
          message: 'the checks after this one need it fixed first',
          advice: 'fix it, capture a new response, and run the check again',
        });
        return;
      }
    }
  }
  if (verified === undefined) return;
  if (input.provider?.allowSha1 && seen.algorithms.some((a) => SHA1.has(a))) {
    findings.push({
      level: 'warning',
      reason: 'sha1_allowed',
      message: 'SHA-1: accepted only because the provider sets allowSha1',
      advice: `${adviceFor('algorithm_not_allowed')}, then drop allowSha1`,
    });
  }
  afterVerification(input, provider, verified, report);
}

function refusal(
  reason: string,
  provider: SamlProvider,
  seen: Peek,
  expected: { acsUrls: string[]; audiences: string[]; urls: unknown; acsPath: string },
): Finding {
  const acs = expected.urls === undefined ? `<base>${expected.acsPath}` : expected.acsUrls[0];
  const messages: Record<string, string> = {
    assertion_unsigned: 'the assertion is not signed',
    response_unsigned: 'the Response is not signed, and the provider sets wantResponseSigned',
    algorithm_not_allowed: seen.algorithms.some((a) => SHA1.has(a))
      ? 'SHA-1: the IdP signs with RSA-SHA1 or digests with SHA-1'
      : `the signature uses an algorithm TVM does not accept (${quoted(seen.algorithms.filter((a) => !STRONG.has(a)))})`,
    signature_invalid: 'the signature does not verify with the pinned certificates',
    issuer_mismatch: `Issuer is ${quoted([seen.responseIssuer])} on the Response and ${quoted([seen.assertionIssuer])} on the assertion, expected "${provider.entityId}"`,
    destination_mismatch: `Destination is ${quoted([seen.destination])}, expected "${acs}"`,
    recipient_mismatch: `Recipient is ${quoted([seen.recipient])}, expected "${acs}"`,
    audience_mismatch: `Audience is ${quoted(seen.audiences)}, expected "${provider.spEntityId}"`,
    encrypted_assertion_unsupported:
      'the assertion is encrypted (EncryptedAssertion), and the provider does not set decryptAssertions',
    assertion_undecryptable:
      'the assertion is encrypted: this check cannot decrypt it, so nothing inside it was checked',
    missing_subject: 'the assertion has no NameID',
    in_response_to_missing:
      'the login was started by the IdP (no InResponseTo) and the provider does not set allowIdpInitiated',
    in_response_to_mismatch: 'the Response and its assertion carry different InResponseTo',
    expired: `the assertion had expired when it was posted (clock skew beyond clockSkewSeconds = ${provider.clockSkewSeconds})`,
    not_yet_valid: `the assertion was not yet valid when it was posted (clock skew beyond clockSkewSeconds = ${provider.clockSkewSeconds})`,
    issued_in_future: `the assertion was issued after it was posted: the IdP's clock is ahead (clock skew beyond clockSkewSeconds = ${provider.clockSkewSeconds})`,
    assertion_too_old: `the assertion was issued more than maxAssertionAgeSeconds = ${provider.maxAssertionAgeSeconds} before it was posted`,
    status_not_success: `the IdP answered StatusCode ${quoted([seen.statusCode])}`,
    subject_confirmation_invalid:
      'the subject confirmation is not exactly one bearer confirmation with NotOnOrAfter',
    xml_comment: 'the response contains an XML comment',
    doctype_not_allowed: 'the response has a DOCTYPE',
    saml_response_too_large: 'the response is larger than TVM accepts (128 KB of base64)',
    malformed_response:
      'this is not a SAMLResponse form field (base64 of the XML, as the browser posts it)',
  };
  return {
    level: 'refused',
    reason,
    message: messages[reason] ?? `the response's structure is refused (${reason})`,
    advice: adviceFor(reason),
  };
}

/** What a verified assertion still meets: the NameID, the attributes, the claims, the mappings. */
function afterVerification(
  input: SamlCheckInput,
  provider: SamlProvider,
  verified: VerifiedAssertion,
  report: SamlCheckReport,
): void {
  const { findings } = report;
  report.nameIdFormat = verified.nameIdFormat;
  report.attributeNames = Object.keys(verified.attributes);
  if (verified.nameIdFormat === TRANSIENT) {
    findings.push(transientFinding("the assertion's NameID"));
  }
  if (verified.inResponseTo !== undefined) {
    if (input.idpInitiated) {
      findings.push({
        level: 'refused',
        reason: 'in_response_to_unknown',
        message:
          'the IdP-initiated response carries InResponseTo: TVM looks for a login it started and finds none',
        advice: adviceFor('in_response_to_unknown'),
      });
    } else {
      findings.push({
        level: 'note',
        reason: ONLINE_ONLY,
        message:
          'the response answers an AuthnRequest (InResponseTo): TVM accepts it once, from the browser that started that login within 10 minutes; not checked here',
        advice: adviceFor('in_response_to_unknown'),
      });
    }
  }
  if (input.provider === undefined) return;
  const present = new Set(report.attributeNames);
  for (const [name, claim] of Object.entries(provider.attributeMap)) {
    if (present.has(name)) continue;
    const near = report.attributeNames.filter(
      (candidate) =>
        candidate.toLowerCase() === name.toLowerCase() ||
        candidate.split(/[/:#]/).pop()?.toLowerCase() === name.toLowerCase(),
    );
    findings.push({
      level: 'warning',
      reason: 'attribute_missing',
      message: `the attribute "${name}" (claim ${claim}) named in attributeMap is not in the assertion${near.length > 0 ? `; it has ${quoted(near)}` : ''}`,
      advice:
        'release the attribute in the IdP under exactly that Name (Keycloak\'s group mapper names it "member"), or change attributeMap to the Name the IdP sends',
    });
  }
  if (input.config === undefined || provider.mode === 'native') return;
  const identity = samlIdentity(provider, verified);
  try {
    const matched = matchMappings(identity, input.config);
    report.matchedMappings = matched.map((mapping) => mapping.id);
    if (matched.length === 0) {
      findings.push({
        level: 'refused',
        reason: 'no_matching_mapping',
        message: `no mapping of provider "${provider.id}" matches this user`,
        advice: adviceFor('no_matching_mapping'),
      });
    }
  } catch (error) {
    const reason = error instanceof AppError ? error.reason : 'claim_malformed';
    const cause = (error as { cause?: { claim?: unknown; expected?: unknown } }).cause;
    const claim =
      typeof cause?.claim === 'string'
        ? `claim ${cause.claim} (declared ${String(cause.expected)})`
        : 'a claim';
    findings.push({
      level: 'refused',
      reason,
      message: `${claim} does not read as the type the provider declares: several values for a string claim, for example`,
      advice: adviceFor(reason),
    });
  }
}

/** The whole check: the metadata, then the response if one is given. Never throws on input. */
export async function checkSaml(input: SamlCheckInput): Promise<SamlCheckReport> {
  const findings: Finding[] = [];
  const facts = checkMetadata(input, findings);
  const report: SamlCheckReport = {
    idpEntityId: facts.entityId,
    signingCertificates: facts.certificates.length,
    findings,
  };
  if (input.samlResponse !== undefined) {
    await checkResponse(input, facts, input.samlResponse, report);
  } else {
    findings.push({
      level: 'note',
      reason: 'no_response',
      message: 'only the metadata was checked',
      advice:
        "give --response <file> with a captured SAMLResponse to check the IdP's signing, NameID, audience and attributes",
    });
  }
  return report;
}
