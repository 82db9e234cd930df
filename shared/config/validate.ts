/**
 * Semantic validation of a config document: the zod shape, then everything the shape cannot say
 * (unique ids, references, ARNs, STS limits computed with the longest allowed claim values,
 * template placement and variables, URLs, certificates). Every problem is collected, and the
 * semantic checks run on every provider and mapping whose own shape is valid, so one typo does
 * not hide the rest.
 */

import { X509Certificate } from 'node:crypto';
import type { z } from 'zod';
import { ISSUER_TAG_CHARS, issuerTag, principalIssuer } from '#shared/auth/principal.ts';
import {
  type Condition,
  ConfigFileSchema,
  MATCH_LIMITS,
  type Mapping,
  MappingSchema,
  type MatchNode,
  type Provider,
  ProviderSchema,
  type SamlProvider,
  type SessionPolicy,
  STS_LIMITS,
  type TvmConfig,
} from '#shared/config/schema.ts';
import {
  hasTemplateSyntax,
  type LimitOf,
  maxRenderedLength,
  parseTemplate,
  renderAtMaxLength,
  type TemplatePart,
  templateLimits,
} from '#shared/config/templates.ts';
import { ConfigInvalidError, type ConfigProblem } from '#shared/errors.ts';
import { POLICY_CLAIM_VALUE_PATTERN, TAG_CLAIM_VALUE_PATTERN } from '#shared/mapping/render.ts';
import { metadataSigningCertificates } from '#shared/saml/provider.ts';
import { type ClaimType, claimTypes, IMPLICIT_STRING_CLAIMS, OPERATORS_BY_TYPE } from './claims.ts';
import { formatConfigPath, type PathSegment } from './path.ts';

export interface ValidateOptions {
  /** Deployment stage; only `local` may use http:// loopback URLs. */
  stage: string;
  /** Clock for certificate validity; defaults to the current time. */
  now?: Date;
}

export type ValidationResult =
  | { ok: true; config: TvmConfig }
  | { ok: false; problems: ConfigProblem[] };

export { formatConfigPath, type PathSegment };

interface Finding {
  path: readonly PathSegment[];
  message: string;
}

type Report = (path: readonly PathSegment[], message: string) => void;

/** Deeper input is refused before zod sees it: the match tree is recursive and so is parsing. */
export const MAX_DOCUMENT_DEPTH = 64;

/** SAML claims that always exist: the assertion Subject's NameID, under both names. */
export const SAML_NAME_ID_CLAIMS = ['sub', 'nameId'] as const;

// STS TagKey/TagValue pattern, from the AssumeRole API reference (Tag data type).
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
// RoleSessionName and SourceIdentity: [\w+=,.@-]*, per the AssumeRole API reference.
const SESSION_NAME_PATTERN = /^[\w+=,.@-]*$/;
// ExternalId: [\w+=,.@:/-]*, 2–1,224 characters.
const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]*$/;
const IAM_NAME = '[\\w+=,.@-]';
const ROLE_ARN_PATTERN = new RegExp(
  `^arn:aws[a-z-]*:iam::\\d{12}:role/(?:${IAM_NAME}+/)*${IAM_NAME}{1,64}$`,
);
const POLICY_ARN_PATTERN = new RegExp(
  `^arn:aws[a-z-]*:iam::(?:\\d{12}|aws):policy/(?:${IAM_NAME}+/)*${IAM_NAME}{1,128}$`,
);
const TEMPLATE_FIELDS =
  'sessionTags values, roleSessionName, sourceIdentity and sessionPolicy string values';

// ---------------------------------------------------------------------------------------------
// Paths

/** The inverse of formatConfigPath. */
export function parseConfigPath(text: string): PathSegment[] {
  const segments: PathSegment[] = [];
  const token = /\.?([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  while (token.lastIndex < text.length) {
    const start = token.lastIndex;
    const match = token.exec(text);
    if (match === null) throw new Error(`not a config path: ${text} (at ${start})`);
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else segments.push(JSON.parse(match[3] ?? '""') as string);
  }
  return segments;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const formatNumber = (value: number | bigint): string => value.toLocaleString('en-US');

function plural(count: number, noun: string): string {
  return `${formatNumber(count)} ${noun}${count === 1 ? '' : 's'}`;
}

function quoteList(values: Iterable<string>): string {
  return [...values].map((value) => JSON.stringify(value)).join(', ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return value.length > 40 ? `the string "${value.slice(0, 40)}…"` : `the string "${value}"`;
  }
  return String(value);
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isRecord(value) && typeof segment === 'string' && Object.hasOwn(value, segment)) {
      value = value[segment];
    } else return undefined;
  }
  return value;
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidate to a misspelt name, if one is close enough to be a likely typo. */
function closest(name: string, candidates: Iterable<string>): string | undefined {
  const squash = (value: string) => value.toLowerCase().replaceAll(/[-_]/g, '');
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = squash(candidate) === squash(name) ? 0 : editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  const tolerance = Math.max(1, Math.floor(name.length / 4));
  return best !== undefined && best.distance <= tolerance ? best.candidate : undefined;
}

function disallowedCharacters(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((character) => !allowed.test(character)))];
  return bad.map((character) => JSON.stringify(character)).join(', ');
}

// ---------------------------------------------------------------------------------------------
// zod issues → findings

let knownFields: Set<string> | undefined;

/** Every field name of the schema, to suggest a correction for an unknown key. */
function knownFieldNames(): Set<string> {
  if (knownFields !== undefined) return knownFields;
  const names = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (schema: unknown): void => {
    if (schema === undefined || seen.has(schema)) return;
    seen.add(schema);
    const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object' && isRecord(def.shape)) {
      for (const [name, child] of Object.entries(def.shape)) {
        names.add(name);
        visit(child);
      }
    }
    for (const key of ['element', 'innerType', 'valueType', 'in', 'out']) visit(def[key]);
    if (Array.isArray(def.options)) for (const option of def.options) visit(option);
  };
  visit(ConfigFileSchema);
  knownFields = names;
  return names;
}

function expectedName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    array: 'an array',
    object: 'an object',
    record: 'an object',
  };
  return names[expected] ?? expected;
}

/** Per-parse zod error map: plain messages that do not repeat the path. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${expectedName(issue.expected)}, not ${describeValue(issue.input)}`;
    case 'too_small': {
      const minimum = Number(issue.minimum);
      if (issue.origin === 'array') {
        return minimum === 1
          ? 'must not be empty'
          : `must have at least ${plural(minimum, 'item')}`;
      }
      if (issue.origin === 'string') {
        return minimum === 1
          ? 'must not be empty'
          : `must be at least ${plural(minimum, 'character')}`;
      }
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${formatNumber(minimum)}, not ${describeValue(issue.input)}`;
    }
    case 'too_big': {
      const maximum = Number(issue.maximum);
      if (issue.origin === 'array' && Array.isArray(issue.input)) {
        return `has ${plural(issue.input.length, 'item')}; at most ${formatNumber(maximum)} allowed`;
      }
      if (issue.origin === 'string' && typeof issue.input === 'string') {
        return `is ${plural(issue.input.length, 'character')}; at most ${formatNumber(maximum)} allowed`;
      }
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${formatNumber(maximum)}, not ${describeValue(issue.input)}`;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((value) => JSON.stringify(value)).join(', ');
      const got = issue.input === undefined ? 'it is missing' : `not ${describeValue(issue.input)}`;
      return issue.values.length === 1
        ? `must be ${allowed}, ${got}`
        : `must be one of ${allowed}; ${got}`;
    }
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern !== undefined
        ? `does not match the pattern ${issue.pattern}`
        : `must be a valid ${issue.format}`;
    case 'invalid_union': {
      const expected = new Set(
        issue.errors.flatMap((branch) =>
          branch.flatMap((inner) =>
            inner.code === 'invalid_type' && inner.path.length === 0 ? [inner.expected] : [],
          ),
        ),
      );
      if (expected.size === 0) return 'does not match any allowed form';
      return `must be ${[...expected].map(expectedName).join(' or ')}, not ${describeValue(issue.input)}`;
    }
    default:
      return undefined;
  }
}

function toSegments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
}

/** How far a union branch is from the input's keys: unknown keys plus missing required keys. */
function structuralDistance(branch: readonly z.core.$ZodIssue[], value: unknown): number {
  let distance = 0;
  for (const issue of branch) {
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      distance += issue.keys.length;
    }
    const key = issue.path[0];
    const missing =
      issue.path.length === 1 && !(isRecord(value) && Object.hasOwn(value, String(key)));
    if (missing && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) distance += 1;
  }
  return distance;
}

function unionFindings(
  issue: z.core.$ZodIssueInvalidUnion,
  path: PathSegment[],
  root: unknown,
): Finding[] {
  const value = valueAt(root, path);
  if (issue.errors.length === 0) {
    // A discriminated union whose discriminator (type, op) is missing or unknown.
    const options = (issue as unknown as { options?: unknown[] }).options ?? [];
    const allowed = options.map((option) => JSON.stringify(option)).join(', ');
    const message =
      value === undefined
        ? `is required: one of ${allowed}`
        : `must be one of ${allowed}, not ${describeValue(value)}`;
    return [{ path, message }];
  }
  const shapeMatches = issue.errors.filter(
    (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
  );
  const ranked = shapeMatches
    .map((branch) => ({ branch, distance: structuralDistance(branch, value) }))
    .sort((a, b) => a.distance - b.distance || a.branch.length - b.branch.length);
  const [best, second] = ranked;
  if (best === undefined || (best.distance > 0 && second?.distance === best.distance)) {
    return [{ path, message: value === undefined ? 'is required' : issue.message }];
  }
  return issuesToFindings(best.branch, root, path);
}

function issuesToFindings(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  base: readonly PathSegment[] = [],
): Finding[] {
  const findings: Finding[] = [];
  for (const issue of issues) {
    const path = [...base, ...toSegments(issue.path)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const suggestion = closest(key, knownFieldNames());
        findings.push({
          path: [...path, key],
          message: `unknown field "${key}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
        });
      }
    } else if (issue.code === 'invalid_union') {
      findings.push(...unionFindings(issue, path, root));
    } else if (issue.code === 'invalid_key') {
      const key = path.at(-1);
      const reasons = issue.issues.map((inner) => inner.message).join('; ');
      findings.push({ path, message: `key ${JSON.stringify(key)} ${reasons}` });
    } else {
      findings.push({ path, message: issue.message });
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------
// Whole-document walks on the raw input

function findExcessiveNesting(input: unknown): Finding | undefined {
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: input, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PathSegment[] };
    if (path.length > MAX_DOCUMENT_DEPTH) {
      return {
        path,
        message: `the document nests more than ${MAX_DOCUMENT_DEPTH} levels deep here; the limit is ${MAX_DOCUMENT_DEPTH}`,
      };
    }
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        stack.push({ value: item, path: [...path, index] });
      }
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
}

function templateAllowedAt(path: readonly PathSegment[]): boolean {
  if (path[0] !== 'mappings' || typeof path[1] !== 'number') return false;
  const field = path[2];
  if (field === 'sessionTags') return path.length === 4;
  if (field === 'roleSessionName' || field === 'sourceIdentity') return path.length === 3;
  return field === 'sessionPolicy';
}

/** Free text that is never rendered, so `{{` there is not a template. */
function isFreeText(path: readonly PathSegment[]): boolean {
  return (
    (path[0] === 'mappings' && path[2] === 'description' && path.length === 3) ||
    (path[0] === 'providers' && path[2] === 'metadataXml' && path.length === 3)
  );
}

function misplacedTemplates(input: unknown): Finding[] {
  const findings: Finding[] = [];
  const stack: { value: unknown; path: PathSegment[] }[] = [{ value: input, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: PathSegment[] };
    if (typeof value === 'string') {
      if (hasTemplateSyntax(value) && !templateAllowedAt(path) && !isFreeText(path)) {
        findings.push({
          path,
          message: `templates are not allowed here; they are only allowed in ${TEMPLATE_FIELDS}`,
        });
      }
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        stack.push({ value: item, path: [...path, index] });
      }
    } else if (isRecord(value)) {
      for (const [key, item] of Object.entries(value)) {
        if (hasTemplateSyntax(key)) {
          findings.push({
            path: [...path, key],
            message: `templates are not allowed in keys (tag keys, policy keys); they are only allowed in ${TEMPLATE_FIELDS}`,
          });
        }
        stack.push({ value: item, path: [...path, key] });
      }
    }
  }
  return findings.reverse();
}

// ---------------------------------------------------------------------------------------------
// Providers

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function checkUrl(
  value: string,
  path: readonly PathSegment[],
  options: ValidateOptions,
  report: Report,
  { exactIssuer = false } = {},
): void {
  if (hasTemplateSyntax(value)) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    report(path, `is not an absolute URL: ${JSON.stringify(value)}`);
    return;
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) {
      report(
        path,
        'must use https; http:// is allowed only for loopback hosts (localhost, 127.0.0.0/8, [::1]) in the "local" stage',
      );
    } else if (options.stage !== 'local') {
      report(
        path,
        `uses http:// on a loopback host, which is allowed only in the "local" stage (this is stage "${options.stage}"); use https`,
      );
    }
  } else if (url.protocol !== 'https:') {
    report(path, `must be an https:// URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    report(path, 'must not contain a user name or password');
  }
  if (exactIssuer) {
    if (value.trim() !== value) {
      report(path, 'has leading or trailing whitespace; the issuer is compared as an exact string');
    }
    if (url.search !== '' || url.hash !== '') {
      report(path, 'must not have a query or fragment (OpenID Connect Discovery 1.0, §3)');
    }
  }
}

function checkCertificate(
  pem: string,
  path: readonly PathSegment[],
  label: string,
  now: Date,
  report: Report,
): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks === 0) {
    report(path, `${label} is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")`);
    return;
  }
  if (blocks > 1) {
    report(path, `${label} holds ${blocks} certificates; list each certificate as its own entry`);
    return;
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    report(path, `${label} does not parse as an X.509 certificate (${(error as Error).message})`);
    return;
  }
  if (certificate.validToDate.getTime() < now.getTime()) {
    report(
      path,
      `${label} expired on ${certificate.validToDate.toISOString()} (notAfter); pin the IdP's current signing certificate`,
    );
  }
  if (certificate.validFromDate.getTime() > now.getTime()) {
    report(
      path,
      `${label} is not valid before ${certificate.validFromDate.toISOString()} (notBefore)`,
    );
  }
  const key = certificate.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  // NIST SP 800-131A: RSA keys under 2,048 bits are disallowed for signatures.
  if (
    (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') &&
    bits !== undefined &&
    bits < 2048
  ) {
    report(path, `${label} has a ${bits}-bit RSA key; at least 2,048 bits are required`);
  }
}

/** Read with the ACS's own metadata reader: what validates here is what verifies responses. */
function checkMetadataXml(
  provider: SamlProvider,
  path: readonly PathSegment[],
  now: Date,
  report: Report,
): void {
  let read: ReturnType<typeof metadataSigningCertificates>;
  try {
    read = metadataSigningCertificates(provider.metadataXml ?? '', provider.entityId);
  } catch (error) {
    report(path, `is not well-formed XML: ${(error as Error).message.split('\n')[0]}`);
    return;
  }
  const { entityIds, certificates } = read;
  if (entityIds.length === 0) {
    report(path, 'is not SAML metadata: it has no EntityDescriptor element');
    return;
  }
  if (!entityIds.includes(provider.entityId)) {
    report(
      path,
      `describes entity ${quoteList(entityIds)}, but entityId is ${JSON.stringify(provider.entityId)}`,
    );
    return;
  }
  if (certificates.length === 0) {
    report(
      path,
      'has no X509Certificate in a signing KeyDescriptor of its IDPSSODescriptor; the IdP signing certificate is needed to verify assertions',
    );
  }
  certificates.forEach((pem, index) => {
    checkCertificate(pem, path, `certificate ${index + 1} in the metadata`, now, report);
  });
}

/** The claims a provider's templates may read, without the `claims.` prefix: its string claims. */
export function templateClaimNames(provider: Provider): string[] {
  const declared = Object.entries(provider.claims).flatMap(([name, declaration]) =>
    declaration.type === 'string' ? [name] : [],
  );
  return [...new Set([...IMPLICIT_STRING_CLAIMS[provider.type], ...declared])];
}

/** The claims a SAML provider can produce: the NameID and every attributeMap target. */
function samlClaimNames(provider: SamlProvider): string[] {
  return [...new Set([...SAML_NAME_ID_CLAIMS, ...Object.values(provider.attributeMap)])];
}

function checkSamlProvider(
  provider: SamlProvider,
  path: readonly PathSegment[],
  options: ValidateOptions,
  now: Date,
  report: Report,
): void {
  checkUrl(provider.ssoUrl, [...path, 'ssoUrl'], options, report);
  // Entity ids are names, not locations: IdPs such as Okta and ADFS use http:// ids legitimately,
  // so only our own SP entity id, which we choose, is held to the https rule.
  if (/^https?:/i.test(provider.spEntityId)) {
    checkUrl(provider.spEntityId, [...path, 'spEntityId'], options, report);
  }
  const hasCertificates = provider.certificates !== undefined;
  const hasMetadata = provider.metadataXml !== undefined;
  if (hasCertificates && hasMetadata) {
    report(path, 'has both certificates and metadataXml; set exactly one of them');
  } else if (!hasCertificates && !hasMetadata) {
    report(
      path,
      'needs the IdP signing key: set exactly one of certificates (PEM) and metadataXml',
    );
  }
  provider.certificates?.forEach((pem, index) => {
    checkCertificate(pem, [...path, 'certificates', index], 'certificate', now, report);
  });
  if (hasMetadata) checkMetadataXml(provider, [...path, 'metadataXml'], now, report);

  const attributeOf = new Map<string, string>();
  for (const [attribute, claim] of Object.entries(provider.attributeMap)) {
    const attributePath = [...path, 'attributeMap', attribute];
    if ((SAML_NAME_ID_CLAIMS as readonly string[]).includes(claim)) {
      report(attributePath, `claim name "${claim}" is reserved for the assertion's NameID`);
    }
    const other = attributeOf.get(claim);
    if (other !== undefined) {
      report(
        attributePath,
        `attributes "${other}" and "${attribute}" both map to claim "${claim}"; map each claim from one attribute`,
      );
    } else attributeOf.set(claim, attribute);
  }
  const available = samlClaimNames(provider);
  for (const claim of Object.keys(provider.claims)) {
    if (!available.includes(claim)) {
      report(
        [...path, 'claims', claim],
        `declares claim "${claim}", but no attributeMap entry produces it (available: ${available.join(', ')})`,
      );
    }
  }
}

function checkProvider(
  provider: Provider,
  path: readonly PathSegment[],
  options: ValidateOptions,
  now: Date,
  report: Report,
): void {
  if (provider.type === 'oidc') {
    checkUrl(provider.issuer, [...path, 'issuer'], options, report, { exactIssuer: true });
    if (provider.jwksUri !== undefined) {
      checkUrl(provider.jwksUri, [...path, 'jwksUri'], options, report);
    }
  } else {
    checkSamlProvider(provider, path, options, now, report);
  }
  // The subject is a string by construction: declaring it a list would make every rule on it refuse.
  for (const name of IMPLICIT_STRING_CLAIMS[provider.type]) {
    if (Object.hasOwn(provider.claims, name) && provider.claims[name]?.type !== 'string') {
      report(
        [...path, 'claims', name, 'type'],
        `must be "string": "${name}" is the subject, always one string`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mappings

interface TemplateScope {
  provider: Provider | undefined;
  limitOf: LimitOf | undefined;
}

/**
 * Checks one templated value: syntax, known variables and (optionally) the characters of its
 * static text. Returns the parts when the value is sound and its length can be bounded.
 */
function checkTemplate(
  value: string,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
  staticText?: { pattern: RegExp; what: string },
): TemplatePart[] | undefined {
  const parsed = parseTemplate(value);
  if (!parsed.ok) {
    report(path, `invalid template: ${parsed.message}`);
    return undefined;
  }
  if (staticText !== undefined) {
    const text = parsed.parts.flatMap((part) => (part.kind === 'text' ? [part.text] : [])).join('');
    if (!staticText.pattern.test(text)) {
      report(
        path,
        `static text contains ${disallowedCharacters(text, staticText.pattern)}, which ${staticText.what} does not allow`,
      );
    }
  }
  const { provider } = scope;
  if (provider === undefined) return undefined;
  const claims = templateClaimNames(provider);
  let known = true;
  for (const part of parsed.parts) {
    if (part.kind !== 'variable' || part.name === 'provider.id' || part.name === 'mapping.id') {
      continue;
    }
    const claim = part.name.slice('claims.'.length);
    if (claims.includes(claim)) continue;
    known = false;
    const offered = ['provider.id', 'mapping.id', ...claims.map((name) => `claims.${name}`)];
    const suggestion = closest(part.name, offered);
    const declaredAs = Object.hasOwn(provider.claims, claim)
      ? provider.claims[claim]?.type
      : undefined;
    if (declaredAs === 'list') {
      report(
        path,
        `template variable "${part.name}" reads claim "${claim}", which is declared as a list; only string claims can be rendered (match on a list with "contains", or render a string claim)`,
      );
      continue;
    }
    const hint =
      provider.type === 'oidc'
        ? 'declare it under providers[].claims as { type: string }'
        : 'map a SAML attribute to it in attributeMap and declare it under providers[].claims as { type: string }';
    report(
      path,
      `unknown template variable "${part.name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''} — provider "${provider.id}" offers: ${offered.join(', ')}; to use another claim, ${hint}`,
    );
  }
  return known ? parsed.parts : undefined;
}

/** `(claims.tenant: 64, claims.email: 128)`: which variables made a rendered value long. */
function variableLengths(parts: readonly TemplatePart[], limitOf: LimitOf): string {
  const names = [
    ...new Set(parts.flatMap((part) => (part.kind === 'variable' ? [part.name] : []))),
  ];
  return names.map((name) => `${name}: ${limitOf(name)}`).join(', ');
}

/** One character of a claim's alphabet in a policy value, and in a tag value. */
const POLICY_CLAIM_VALUE_PATTERN_CHAR = new RegExp(
  POLICY_CLAIM_VALUE_PATTERN.source.replace('+$', '$'),
  POLICY_CLAIM_VALUE_PATTERN.flags,
);
const TAG_CLAIM_VALUE_PATTERN_CHAR = new RegExp(
  TAG_CLAIM_VALUE_PATTERN.source.replace('+$', '$'),
  TAG_CLAIM_VALUE_PATTERN.flags,
);

/** Characters that widen a match in an IAM value: wildcards, and `$` (a policy variable). */
const WIDENING = new Set(['*', '?', '$']);

/**
 * A claim rendered into a policy value or a tag cannot widen it past a delimiter (DESIGN.md §7,
 * invariant 6): the character after a claim template must end the value or be one the claim's
 * alphabet excludes and that is no wildcard, and no wildcard may reach the claim from the left.
 * Otherwise `data/{{claims.tenant}}*` lets tenant "acme" read "acme-corp/…", and
 * `{{claims.a}}{{claims.b}}` renders "ab"+"c" and "a"+"bc" alike.
 */
function checkTemplateBoundaries(
  parts: readonly TemplatePart[],
  claimPattern: RegExp,
  path: readonly PathSegment[],
  report: Report,
): void {
  const inAlphabet = (character: string) => claimPattern.test(character);
  // One character per position: a claim is \u0000; provider.id and mapping.id are fixed id text.
  const shape: string[] = parts.flatMap((part) =>
    part.kind === 'text'
      ? Array.from(part.text)
      : part.name.startsWith('claims.')
        ? ['\u0000']
        : ['a'],
  );
  const variables = parts.flatMap((part) =>
    part.kind === 'variable' && part.name.startsWith('claims.') ? [part.name] : [],
  );
  let seen = 0;
  shape.forEach((character, index) => {
    if (character !== '\u0000') return;
    const variable = `{{${variables[seen] ?? ''}}}`;
    seen += 1;
    const next = shape[index + 1];
    if (next !== undefined && (next === '\u0000' || inAlphabet(next) || WIDENING.has(next))) {
      const what = next === '\u0000' ? 'another claim template' : JSON.stringify(next);
      report(
        path,
        `${variable} is followed by ${what}, so one claim value could reach another's resources (tenant "acme" would match "acme-corp…"); end the value after the template, or follow it with "/"`,
      );
    }
    let before = index - 1;
    while (before >= 0 && shape[before] !== '\u0000' && inAlphabet(shape[before] as string))
      before -= 1;
    const previous = shape[before];
    if (previous !== undefined && WIDENING.has(previous)) {
      report(
        path,
        `${variable} comes after ${JSON.stringify(previous)} with no delimiter in between, so one claim value could reach another's resources ("*acme" matches "notacme"); put a "/" between the wildcard and the template`,
      );
    }
  });
}

function checkRoleArn(value: string, path: readonly PathSegment[], report: Report): void {
  if (hasTemplateSyntax(value) || ROLE_ARN_PATTERN.test(value)) return;
  report(
    path,
    `${JSON.stringify(value)} is not an IAM role ARN; expected arn:aws:iam::<12-digit account id>:role/<optional/path/>name, with a name of 1–64 characters from letters, digits and +=,.@_-`,
  );
}

function checkPolicyArns(
  arns: readonly string[],
  path: readonly PathSegment[],
  report: Report,
): void {
  if (arns.length > STS_LIMITS.policyArns) {
    report(
      path,
      `lists ${formatNumber(arns.length)} managed policies; STS accepts at most ${STS_LIMITS.policyArns} policyArns per session`,
    );
  }
  const seen = new Set<string>();
  arns.forEach((arn, index) => {
    if (hasTemplateSyntax(arn)) return;
    if (!POLICY_ARN_PATTERN.test(arn)) {
      report(
        [...path, index],
        `${JSON.stringify(arn)} is not an IAM policy ARN; expected arn:aws:iam::<12-digit account id or "aws">:policy/<optional/path/>name`,
      );
    }
    if (seen.has(arn)) report([...path, index], `duplicates policy ARN ${JSON.stringify(arn)}`);
    seen.add(arn);
  });
}

function checkSessionTags(
  mapping: Mapping,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
): void {
  const tagsPath = [...path, 'sessionTags'];
  const entries = Object.entries(mapping.sessionTags);
  if (entries.length > STS_LIMITS.sessionTags) {
    report(
      tagsPath,
      `has ${entries.length} session tags; STS accepts at most ${STS_LIMITS.sessionTags}`,
    );
  }
  const keysByLowerCase = new Map<string, string>();
  for (const [key, value] of entries) {
    const tagPath = [...tagsPath, key];
    if (!hasTemplateSyntax(key)) {
      if (key.length < 1 || key.length > STS_LIMITS.tagKeyChars) {
        report(
          tagPath,
          `tag key is ${plural(key.length, 'character')}; STS allows 1–${STS_LIMITS.tagKeyChars}`,
        );
      }
      if (!TAG_PATTERN.test(key)) {
        report(
          tagPath,
          `tag key contains ${disallowedCharacters(key, TAG_PATTERN)}; STS allows only letters, digits, spaces and _ . : / = + - @`,
        );
      }
      if (/^aws:/i.test(key)) {
        report(tagPath, `tag key "${key}" starts with "aws:", which AWS reserves`);
      }
      const other = keysByLowerCase.get(key.toLowerCase());
      if (other !== undefined) {
        report(
          tagPath,
          `tag key "${key}" duplicates "${other}": STS tag keys are case-insensitive`,
        );
      } else keysByLowerCase.set(key.toLowerCase(), key);
    }
    if (hasTemplateSyntax(value)) {
      const parts = checkTemplate(value, tagPath, scope, report, {
        pattern: TAG_PATTERN,
        what: 'an STS tag value',
      });
      if (parts !== undefined) {
        checkTemplateBoundaries(parts, TAG_CLAIM_VALUE_PATTERN_CHAR, tagPath, report);
      }
      if (parts !== undefined && scope.limitOf !== undefined) {
        const length = maxRenderedLength(value, scope.limitOf);
        if (length > STS_LIMITS.tagValueChars) {
          report(
            tagPath,
            `tag value is ${formatNumber(length)} characters when rendered with the longest allowed claim values (${variableLengths(parts, scope.limitOf)}); the STS limit is ${STS_LIMITS.tagValueChars}`,
          );
        }
      }
    } else {
      if (value.length > STS_LIMITS.tagValueChars) {
        report(
          tagPath,
          `tag value is ${formatNumber(value.length)} characters; the STS limit is ${STS_LIMITS.tagValueChars}`,
        );
      }
      if (!TAG_PATTERN.test(value)) {
        report(
          tagPath,
          `tag value contains ${disallowedCharacters(value, TAG_PATTERN)}; STS allows only letters, digits, spaces and _ . : / = + - @`,
        );
      }
    }
  }
  const transitivePath = [...path, 'transitiveTagKeys'];
  const seen = new Set<string>();
  mapping.transitiveTagKeys.forEach((key, index) => {
    if (!Object.hasOwn(mapping.sessionTags, key)) {
      const keys = Object.keys(mapping.sessionTags);
      report(
        [...transitivePath, index],
        `"${key}" is not a sessionTags key; transitive tag keys must name session tags (${keys.length > 0 ? `keys: ${quoteList(keys)}` : 'this mapping has none'})`,
      );
    }
    if (seen.has(key)) report([...transitivePath, index], `lists "${key}" twice`);
    seen.add(key);
  });
}

function checkSessionName(
  value: string | undefined,
  path: readonly PathSegment[],
  field: 'roleSessionName' | 'sourceIdentity',
  scope: TemplateScope,
  report: Report,
): void {
  if (value === undefined) return;
  if (hasTemplateSyntax(value)) {
    // Rendered values longer than 64 characters are shortened at runtime, so only the static
    // text and the variables are checked here.
    checkTemplate(value, path, scope, report, { pattern: SESSION_NAME_PATTERN, what: field });
    return;
  }
  const { sessionNameMinChars: min, sessionNameMaxChars: max } = STS_LIMITS;
  if (value.length < min || value.length > max) {
    report(path, `is ${plural(value.length, 'character')}; STS requires ${min}–${max}`);
  }
  if (!SESSION_NAME_PATTERN.test(value)) {
    report(
      path,
      `contains ${disallowedCharacters(value, SESSION_NAME_PATTERN)}; ${field} allows only letters, digits and _+=,.@-`,
    );
  }
}

function checkExternalId(
  value: string | undefined,
  path: readonly PathSegment[],
  report: Report,
): void {
  if (value === undefined || hasTemplateSyntax(value)) return;
  const { externalIdMinChars: min, externalIdMaxChars: max } = STS_LIMITS;
  if (value.length < min || value.length > max) {
    report(
      path,
      `is ${plural(value.length, 'character')}; STS requires ${min}–${formatNumber(max)}`,
    );
  }
  if (!EXTERNAL_ID_PATTERN.test(value)) {
    report(
      path,
      `contains ${disallowedCharacters(value, EXTERNAL_ID_PATTERN)}; ExternalId allows only letters, digits and _+=,.@:/-`,
    );
  }
}

/** Every string value of a policy (never its keys), with its path. */
function policyStrings(
  value: unknown,
  path: readonly PathSegment[],
): { text: string; path: readonly PathSegment[] }[] {
  if (typeof value === 'string') return [{ text: value, path }];
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => policyStrings(item, [...path, index]));
  }
  if (isRecord(value)) {
    return Object.entries(value).flatMap(([key, item]) => policyStrings(item, [...path, key]));
  }
  return [];
}

/** The policy with every string replaced by `render(string)`. */
function mapPolicyStrings(value: unknown, render: (text: string) => string): unknown {
  if (typeof value === 'string') return render(value);
  if (Array.isArray(value)) return value.map((item) => mapPolicyStrings(item, render));
  if (isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, mapPolicyStrings(item, render)]),
    );
  }
  return value;
}

function checkSessionPolicy(
  policy: SessionPolicy,
  path: readonly PathSegment[],
  scope: TemplateScope,
  report: Report,
): void {
  const statements = Array.isArray(policy.Statement)
    ? policy.Statement.map((statement, index) => ({
        statement,
        path: [...path, 'Statement', index],
      }))
    : [{ statement: policy.Statement, path: [...path, 'Statement'] }];
  const actionPaths = new Set<string>();
  for (const { statement, path: statementPath } of statements) {
    for (const [positive, negative] of [
      ['Action', 'NotAction'],
      ['Resource', 'NotResource'],
    ] as const) {
      const count =
        Number(statement[positive] !== undefined) + Number(statement[negative] !== undefined);
      if (count !== 1) {
        report(statementPath, `needs exactly one of ${positive} and ${negative} (it has ${count})`);
      }
    }
    for (const field of ['Action', 'NotAction'] as const) {
      for (const action of policyStrings(statement[field], [...statementPath, field])) {
        actionPaths.add(formatConfigPath(action.path));
        if (hasTemplateSyntax(action.text)) {
          report(
            action.path,
            `templates are not allowed in ${field}: a claim must never choose which API calls are allowed`,
          );
        }
      }
    }
  }

  const templated = policyStrings(policy, path).filter(({ text }) => hasTemplateSyntax(text));
  let bounded = true;
  const parts: TemplatePart[] = [];
  for (const { text, path: valuePath } of templated) {
    const checked = actionPaths.has(formatConfigPath(valuePath))
      ? undefined
      : checkTemplate(text, valuePath, scope, report);
    if (checked !== undefined) {
      checkTemplateBoundaries(checked, POLICY_CLAIM_VALUE_PATTERN_CHAR, valuePath, report);
    }
    if (checked === undefined) bounded = false;
    else parts.push(...checked);
  }
  const { limitOf } = scope;
  if (!bounded || (templated.length > 0 && limitOf === undefined)) return;

  const rendered =
    limitOf === undefined
      ? policy
      : mapPolicyStrings(policy, (text) =>
          hasTemplateSyntax(text) ? renderAtMaxLength(text, limitOf) : text,
        );
  const length = JSON.stringify(rendered).length;
  if (length <= STS_LIMITS.sessionPolicyChars) return;
  const limit = formatNumber(STS_LIMITS.sessionPolicyChars);
  report(
    path,
    templated.length === 0 || limitOf === undefined
      ? `session policy is ${formatNumber(length)} characters as minified JSON; the STS limit is ${limit}`
      : `session policy is ${formatNumber(length)} characters when rendered with the longest allowed claim values (${variableLengths(parts, limitOf)}); the STS limit is ${limit}`,
  );
}

const STRING_OPERATORS: readonly string[] = OPERATORS_BY_TYPE.string;
const LIST_OPERATORS: readonly string[] = OPERATORS_BY_TYPE.list;

/** The fix for an operator used on the wrong claim type, named in the message. */
function operatorFix(op: Condition['op'], claim: string, type: ClaimType): string {
  if (type === 'string') {
    if (op === 'contains') {
      return `"contains" tests list membership, but claim "${claim}" is declared as a string; use "equals" for equality, "includesSubstring" for a substring test, or declare the claim as { type: list }`;
    }
    return `"${op}" compares a list claim, but claim "${claim}" is declared as a string; use "in" to test against several values, or declare the claim as { type: list }`;
  }
  const instead =
    op === 'in' ? '"containsAny"' : '"contains" (element equality), "containsAny" or "containsAll"';
  return `"${op}" compares one string, but claim "${claim}" is declared as a list; use ${instead}, or declare the claim as { type: string }`;
}

/** Every condition reads a declared claim with an operator of its type (DESIGN.md §5). */
function checkCondition(
  condition: Condition,
  path: readonly PathSegment[],
  provider: Provider | undefined,
  report: Report,
): void {
  if (
    (condition.op === 'startsWith' || condition.op === 'includesSubstring') &&
    condition.value === ''
  ) {
    report(
      [...path, 'value'],
      `"${condition.op}" with an empty value matches every value; use "exists"`,
    );
  }
  if (provider === undefined) return;
  const type = claimTypes(provider)(condition.claim);
  if (type === undefined) {
    const declared = Object.keys(provider.claims);
    report(
      [...path, 'claim'],
      `claim "${condition.claim}" is not declared by provider "${provider.id}"; declare it under providers[].claims with its type (string or list)${declared.length > 0 ? ` (declared: ${quoteList(declared)})` : ''}`,
    );
    return;
  }
  const allowed = type === 'string' ? STRING_OPERATORS : LIST_OPERATORS;
  if (!allowed.includes(condition.op))
    report([...path, 'op'], operatorFix(condition.op, condition.claim, type));
}

function checkMatchTree(
  match: MatchNode,
  path: readonly PathSegment[],
  provider: Provider | undefined,
  report: Report,
): void {
  const stack: { node: MatchNode; path: readonly PathSegment[]; depth: number }[] = [
    { node: match, path, depth: 1 },
  ];
  let conditions = 0;
  let tooDeep: readonly PathSegment[] | undefined;
  while (stack.length > 0) {
    const { node, path: nodePath, depth } = stack.pop() as (typeof stack)[number];
    if (depth > MATCH_LIMITS.maxDepth) {
      tooDeep ??= nodePath;
      continue;
    }
    const children = 'all' in node ? node.all : 'any' in node ? node.any : undefined;
    const key = 'all' in node ? 'all' : 'any';
    if (children !== undefined) {
      for (const [index, child] of children.entries()) {
        stack.push({ node: child, path: [...nodePath, key, index], depth: depth + 1 });
      }
    } else if ('not' in node) {
      stack.push({ node: node.not, path: [...nodePath, 'not'], depth: depth + 1 });
    } else {
      conditions += 1;
      checkCondition(node as Condition, nodePath, provider, report);
    }
  }
  if (tooDeep !== undefined) {
    report(
      tooDeep,
      `match tree is nested more than ${MATCH_LIMITS.maxDepth} levels deep here; the limit is ${MATCH_LIMITS.maxDepth} levels`,
    );
  }
  if (conditions > MATCH_LIMITS.maxConditions) {
    report(
      path,
      `match tree has ${conditions} conditions; the limit is ${MATCH_LIMITS.maxConditions}`,
    );
  }
}

function checkNativeSamlMapping(
  mapping: Mapping,
  path: readonly PathSegment[],
  report: Report,
): void {
  // AssumeRoleWithSAML takes only Policy, PolicyArns and DurationSeconds from the caller; tags,
  // SourceIdentity and the session name come from the assertion's attributes.
  const unsupported: [string, boolean][] = [
    ['sessionTags', Object.keys(mapping.sessionTags).length > 0],
    ['transitiveTagKeys', mapping.transitiveTagKeys.length > 0],
    ['sourceIdentity', mapping.sourceIdentity !== undefined],
    ['roleSessionName', mapping.roleSessionName !== undefined],
    ['externalId', mapping.externalId !== undefined],
  ];
  for (const [field, present] of unsupported) {
    if (present) {
      report(
        [...path, field],
        `is not supported for a provider in "native" mode: AssumeRoleWithSAML does not accept it (the assertion's attributes set it); use mode "chained" or remove the field`,
      );
    }
  }
}

function checkMapping(
  mapping: Mapping,
  path: readonly PathSegment[],
  providers: ReadonlyMap<string, Provider>,
  providerIds: ReadonlySet<string>,
  report: Report,
): void {
  if (!providerIds.has(mapping.provider)) {
    const known = [...providerIds];
    const suggestion = closest(mapping.provider, known);
    report(
      [...path, 'provider'],
      `unknown provider "${mapping.provider}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; defined providers: ${known.length > 0 ? quoteList(known) : 'none'}`,
    );
  }
  const provider = providers.get(mapping.provider);
  const scope: TemplateScope = {
    provider,
    limitOf: provider === undefined ? undefined : templateLimits(provider, mapping.id),
  };
  checkRoleArn(mapping.roleArn, [...path, 'roleArn'], report);
  checkPolicyArns(mapping.policyArns, [...path, 'policyArns'], report);
  checkSessionTags(mapping, path, scope, report);
  if (mapping.sessionPolicy !== undefined) {
    checkSessionPolicy(mapping.sessionPolicy, [...path, 'sessionPolicy'], scope, report);
  }
  checkSessionName(
    mapping.sourceIdentity,
    [...path, 'sourceIdentity'],
    'sourceIdentity',
    scope,
    report,
  );
  checkSessionName(
    mapping.roleSessionName,
    [...path, 'roleSessionName'],
    'roleSessionName',
    scope,
    report,
  );
  checkExternalId(mapping.externalId, [...path, 'externalId'], report);
  if (mapping.reuse !== undefined && mapping.reuse.minRemainingSeconds >= mapping.durationSeconds) {
    report(
      [...path, 'reuse', 'minRemainingSeconds'],
      `must be less than the mapping's durationSeconds (${mapping.durationSeconds}); otherwise nothing could ever be reused`,
    );
  }
  checkMatchTree(mapping.match, [...path, 'match'], provider, report);
  const native = provider?.type === 'saml' && provider.mode === 'native';
  if (native) checkNativeSamlMapping(mapping, path, report);
  if (!native && mapping.durationSeconds > STS_LIMITS.maxDurationSeconds) {
    report(
      [...path, 'durationSeconds'],
      'must be at most 3,600 seconds: the TVM calls AssumeRole with role credentials (role chaining), which STS caps at 1 hour (only a SAML provider in native mode allows up to 43,200)',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The document

interface Indexed<T> {
  index: number;
  value: T;
}

/** The providers and mappings whose own shape is valid, with their position in the file. */
function validEntries(input: unknown, parsed: TvmConfig | undefined) {
  if (parsed !== undefined) {
    return {
      providers: parsed.providers.map((value, index) => ({ index, value })),
      mappings: parsed.mappings.map((value, index) => ({ index, value })),
    };
  }
  const raw = isRecord(input) ? input : {};
  const pick = <T>(items: unknown, schema: z.ZodType<T>): Indexed<T>[] =>
    (Array.isArray(items) ? items : []).flatMap((item, index) => {
      const result = schema.safeParse(item);
      return result.success ? [{ index, value: result.data }] : [];
    });
  return {
    providers: pick(raw.providers, ProviderSchema),
    mappings: pick(raw.mappings, MappingSchema),
  };
}

function rawIds(input: unknown, section: 'providers' | 'mappings'): (string | undefined)[] {
  const items = isRecord(input) ? input[section] : undefined;
  return (Array.isArray(items) ? items : []).map((item) =>
    isRecord(item) && typeof item.id === 'string' ? item.id : undefined,
  );
}

function checkUniqueIds(input: unknown, section: 'providers' | 'mappings', report: Report): void {
  const first = new Map<string, number>();
  rawIds(input, section).forEach((id, index) => {
    if (id === undefined) return;
    const earlier = first.get(id);
    if (earlier === undefined) {
      first.set(id, index);
    } else {
      report(
        [section, index, 'id'],
        `duplicate id "${id}" (also ${section}[${earlier}].id); ids must be unique`,
      );
    }
  });
}

/**
 * The default SourceIdentity tells issuers apart by 8 hex of SHA-256 of the issuer (shared/auth/
 * principal.ts): two issuers with one tag would give their users each other's values.
 */
function checkIssuerTags(providers: { index: number; value: Provider }[], report: Report): void {
  const byTag = new Map<string, { index: number; issuer: string }>();
  for (const { index, value } of providers) {
    const issuer = principalIssuer(value);
    const tag = issuerTag(issuer);
    const earlier = byTag.get(tag);
    if (earlier === undefined) byTag.set(tag, { index, issuer });
    else if (earlier.issuer !== issuer) {
      report(
        ['providers', index, value.type === 'oidc' ? 'issuer' : 'entityId'],
        `its issuer tag "${tag}" (first ${ISSUER_TAG_CHARS} hex of SHA-256, used in default SourceIdentity values) equals that of providers[${earlier.index}], another issuer; their users could not be told apart in CloudTrail or by revoke. Please report this collision`,
      );
    }
  }
}

const SECTION_ORDER: Record<string, number> = { $schema: 0, version: 1, providers: 2, mappings: 3 };

function documentOrder(a: Finding, b: Finding): number {
  const section = (finding: Finding) => SECTION_ORDER[String(finding.path[0])] ?? 4;
  const index = (finding: Finding) => (typeof finding.path[1] === 'number' ? finding.path[1] : -1);
  return section(a) - section(b) || index(a) - index(b);
}

/**
 * Validate a config document (already parsed from YAML or JSON). Returns the normalized config
 * (defaults filled), or every problem found, each with a path such as `mappings[2].sessionTags.team`.
 */
export function validateConfig(input: unknown, options: ValidateOptions): ValidationResult {
  const tooDeep = findExcessiveNesting(input);
  if (tooDeep !== undefined) {
    return {
      ok: false,
      problems: [{ path: formatConfigPath(tooDeep.path), message: tooDeep.message }],
    };
  }
  const findings: Finding[] = [];
  const report: Report = (path, message) => {
    findings.push({ path, message });
  };

  const parsed = ConfigFileSchema.safeParse(input, { error: describeIssue });
  if (!parsed.success) findings.push(...issuesToFindings(parsed.error.issues, input));
  const shapeProblemPaths = new Set(findings.map((finding) => formatConfigPath(finding.path)));
  for (const finding of misplacedTemplates(input)) {
    if (!shapeProblemPaths.has(formatConfigPath(finding.path))) findings.push(finding);
  }

  const now = options.now ?? new Date();
  const { providers, mappings } = validEntries(input, parsed.success ? parsed.data : undefined);
  checkUniqueIds(input, 'providers', report);
  checkUniqueIds(input, 'mappings', report);
  const providersById = new Map<string, Provider>();
  for (const { index, value } of providers) {
    if (!providersById.has(value.id)) providersById.set(value.id, value);
    checkProvider(value, ['providers', index], options, now, report);
  }
  checkIssuerTags(providers, report);
  const providerIds = new Set(rawIds(input, 'providers').filter((id) => id !== undefined));
  for (const { index, value } of mappings) {
    checkMapping(value, ['mappings', index], providersById, providerIds, report);
  }

  if (parsed.success && findings.length === 0) return { ok: true, config: parsed.data };
  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const finding of findings.sort(documentOrder)) {
    const problem = { path: formatConfigPath(finding.path), message: finding.message };
    const key = `${problem.path}\u0000${problem.message}`;
    if (!seen.has(key)) problems.push(problem);
    seen.add(key);
  }
  return { ok: false, problems };
}

/**
 * What is valid but must be said before applying, printed by `config validate` and `apply`:
 * a native-mode SAML provider does not enforce the TVM's controls on whoever holds its assertion.
 */
export function configWarnings(config: TvmConfig): ConfigProblem[] {
  return config.providers.flatMap((provider, index) =>
    provider.type === 'saml' && provider.mode === 'native'
      ? [
          {
            path: formatConfigPath(['providers', index, 'mode']),
            message: `provider "${provider.id}" is in "native" mode: the browser holds an assertion addressed to AWS, and whoever holds it can call AssumeRoleWithSAML without the TVM, so the deny list, rate limits and session policies do not bind them; revoke reaches only sessions whose RoleSessionName or SourceIdentity an audit record shows. Use mode "chained" where those controls must hold (docs/saml.md, "Native mode").`,
          },
        ]
      : [],
  );
}

/** validateConfig for callers that fail closed: the config, or a ConfigInvalidError listing every problem. */
export function requireValidConfig(input: unknown, options: ValidateOptions): TvmConfig {
  const result = validateConfig(input, options);
  if (!result.ok) throw new ConfigInvalidError(result.problems);
  return result.config;
}
