/**
 * The versioned config file (version 1): one zod schema is the source of truth for the shape,
 * the defaults, the TypeScript types and the committed JSON Schema (docs/config.schema.json).
 * Checks that need more than one field (ARNs, templates, STS size limits) live in validate/.
 */
import { z } from 'zod';

import {
  CLAIM_NAME_PATTERN,
  ID_PATTERN,
  IDENTITY_POOL_ID_PATTERN,
  MATCH_LIMITS,
  OIDC_ALGORITHMS,
} from './limits.ts';
import { POLICY_SID_PATTERN, STS_LIMITS } from './sts.ts';

export { CLAIM_NAME_PATTERN, ID_PATTERN, MATCH_LIMITS, OIDC_ALGORITHMS, STS_LIMITS };

const Id = z.string().regex(ID_PATTERN, {
  error:
    'must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit (ids appear in URL paths)',
});

const ClaimName = z.string().regex(CLAIM_NAME_PATTERN, {
  error:
    'must be a claim name of 1–256 characters: letters, digits and _ . : / # - (starting with a letter, digit or _)',
});

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

const ClaimDeclarations = z
  .record(
    ClaimName,
    z.strictObject({
      type: z
        .enum(['string', 'list'], {
          error: (issue) =>
            issue.input === undefined
              ? 'is required: declare the claim as { type: string } or { type: list } (a list claim such as groups; a single string from the IdP counts as a one-element list)'
              : 'must be "string" or "list" (a list claim such as groups: a single string from the IdP counts as a one-element list)',
        })
        .describe(
          '`string`: one value (a boolean or number counts as its JSON text). `list`: a list of strings; a single string counts as a one-element list. Any other shape is malformed and refuses the decision.',
        ),
      maxLength: z
        .number()
        .int()
        .min(1)
        .max(2048)
        .optional()
        .describe(
          'Longest value accepted when a template reads this claim (default: defaultClaimMaxLength). Longer values are refused at request time; the limit bounds the rendered length of templates.',
        ),
    }),
  )
  .default({})
  .describe(
    'Every claim a mapping of this provider reads, in a match or a template, with its type. `sub` (and for SAML `nameId`) are implicit strings.',
  );

const DefaultClaimMaxLength = z
  .number()
  .int()
  .min(1)
  .max(2048)
  .default(128)
  .describe('Maximum length of a claim used in a template when `claims` does not declare one.');

const JwksSettings = z
  .strictObject({
    cooldownSeconds: seconds(0, 3600)
      .default(30)
      .describe('Minimum time between two JWKS refetches triggered by an unknown key id.'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(10_000)
      .default(3000)
      .describe('Timeout of one JWKS or discovery fetch.'),
    staleMaxAgeSeconds: seconds(0, 86_400)
      .default(3600)
      .describe('How long a cached JWKS may still be used while the issuer is unreachable.'),
  })
  .default({ cooldownSeconds: 30, timeoutMs: 3000, staleMaxAgeSeconds: 3600 });

const RateLimitRule = z.strictObject({
  limit: z.number().int().min(1).max(1_000_000).describe('Requests allowed per window.'),
  windowSeconds: seconds(1, 86_400).describe('Length of the fixed window.'),
});

const RateLimits = z
  .strictObject({
    perPrincipal: RateLimitRule.optional().describe(
      'Per principal (issuer + subject, whichever provider entry matched; the limits of every provider sharing the issuer apply): bounds what one stolen or leaked token can draw from STS.',
    ),
    perSourceIp: RateLimitRule.optional().describe(
      'Per client IP address (as API Gateway saw it) and issuer: bounds one host cycling through tokens.',
    ),
  })
  .optional()
  .describe('Credential requests allowed per fixed window; over the limit the TVM answers 429.');

export const OidcProviderSchema = z
  .strictObject({
    id: Id.describe('Provider id, unique; used in URL paths and by mappings.'),
    type: z.literal('oidc'),
    issuer: z
      .string()
      .min(1)
      .describe(
        'Expected `iss`, compared as an exact string. https (loopback http in stage local).',
      ),
    audiences: z
      .array(z.string().min(1).max(2048))
      .min(1)
      .describe('Accepted `aud` values (client ids). A token must carry at least one.'),
    jwksUri: z
      .string()
      .min(1)
      .optional()
      .describe('JWKS URL. When absent it is read from the issuer discovery document.'),
    algorithms: z
      .array(z.enum(OIDC_ALGORITHMS))
      .min(1)
      .default(['RS256'])
      .describe('Accepted JWS algorithms. `none` and HMAC (HS*) are never accepted.'),
    preset: z
      .enum(['cognito'])
      .optional()
      .describe('`cognito`: require `token_use` to be `id` (Cognito access tokens are rejected).'),
    authorizedParties: z
      .array(z.string().min(1).max(2048))
      .min(1)
      .optional()
      .describe('Allowed `azp` values, checked when present (multi-audience tokens).'),
    requiredTyp: z
      .string()
      .min(1)
      .max(2048)
      .refine((typ) => !/^(application\/)?at\+jwt$/i.test(typ), {
        error:
          'must not be at+jwt: that typ marks an OAuth access token (RFC 9068), and the TVM takes ID tokens only',
      })
      .optional()
      .describe('Required JWT `typ` header, e.g. `JWT`.'),
    allowAccessTokenMarkers: z
      .array(z.enum(['payload_typ', 'token_use', 'scope']))
      .default([])
      .describe(
        "Access-token markers to ignore because this provider's real ID tokens carry them: `payload_typ` (payload `typ: Bearer`), `token_use` (`token_use: access`), `scope` (a `scope` or `scp` claim without `typ: ID` or `token_use: id`). Header `typ: at+jwt` is always refused, and the `cognito` preset still requires `token_use: id`. Leave empty unless a decoded ID token of this provider shows the marker.",
      ),
    clockToleranceSeconds: seconds(0, 300)
      .default(60)
      .describe('Allowed clock skew for exp, nbf and iat.'),
    maxTokenAgeSeconds: seconds(1, 86_400)
      .optional()
      .describe('Reject tokens whose `iat` is older than this.'),
    jwks: JwksSettings,
    rateLimits: RateLimits,
    claims: ClaimDeclarations,
    defaultClaimMaxLength: DefaultClaimMaxLength,
    ambiguity: z
      .enum(['first', 'deny'], {
        error:
          'must be "first" or "deny" for an OIDC provider ("choose" shows the role chooser page, which only SAML logins have)',
      })
      .default('first')
      .describe('What to do when several mappings tie on the highest priority.'),
  })
  .describe('An OpenID Connect issuer whose ID tokens are exchanged for credentials.');

export const SamlProviderSchema = z
  .strictObject({
    id: Id.describe('Provider id, unique; used in URL paths (/v1/saml/{id}/acs) and by mappings.'),
    type: z.literal('saml'),
    entityId: z.string().min(1).max(2048).describe('The IdP entity id (the assertion Issuer).'),
    ssoUrl: z
      .string()
      .min(1)
      .max(2048)
      .describe('The IdP single sign-on URL (HTTP-Redirect binding).'),
    certificates: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Pinned IdP signing certificates (PEM). Exactly one of certificates and metadataXml.',
      ),
    metadataXml: z
      .string()
      .min(1)
      .optional()
      .describe('The IdP metadata XML. Exactly one of certificates and metadataXml.'),
    spEntityId: z
      .string()
      .min(1)
      .max(2048)
      .describe('Our SP entity id (the Audience the IdP must name).'),
    allowIdpInitiated: z
      .boolean()
      .default(false)
      .describe('Accept unsolicited responses (no InResponseTo).'),
    attributeMap: z
      .record(z.string().min(1).max(1024), ClaimName)
      .default({})
      .describe('SAML attribute name → claim name. `sub` and `nameId` are the NameID.'),
    consoleRegion: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: 'must be an AWS region such as eu-west-1' })
      .optional()
      .describe('Region of the AWS console sign-in URL.'),
    signAuthnRequests: z.boolean().default(false),
    decryptAssertions: z
      .boolean()
      .default(false)
      .describe(
        'Accept one EncryptedAssertion, decrypted with the SP decryption key from SSM; the decrypted assertion must be signed.',
      ),
    wantResponseSigned: z
      .boolean()
      .default(false)
      .describe('Require the Response itself to be signed (the assertion always must be).'),
    allowSha1: z
      .boolean()
      .default(false)
      .describe(
        'Also accept RSA-SHA1 signatures and SHA-1 digests (legacy IdPs only). HMAC never.',
      ),
    clockSkewSeconds: seconds(0, 300).default(60),
    maxAssertionAgeSeconds: seconds(1, 3600)
      .default(300)
      .describe('Reject assertions whose IssueInstant is older than this.'),
    mode: z
      .enum(['chained', 'native'])
      .default('chained')
      .describe(
        '`chained`: the TVM calls AssumeRole. `native`: AssumeRoleWithSAML with the assertion.',
      ),
    loginSessionMaxSeconds: seconds(900, 604_800)
      .default(28_800)
      .describe(
        'How long a terminal login session (`tvm-login`) lasts from its sign-in, at most; `tvm deny` and `tvm revoke` end it sooner. Chained mode only.',
      ),
    rateLimits: RateLimits,
    claims: ClaimDeclarations,
    defaultClaimMaxLength: DefaultClaimMaxLength,
    ambiguity: z
      .enum(['first', 'deny', 'choose'])
      .default('choose')
      .describe(
        '`first` or `deny`: what to do when several mappings tie on the highest priority. `choose`: a browser login that matches more than one mapping, at any priority, gets the role chooser page (a request that cannot show it refuses a tie).',
      ),
  })
  .describe('A SAML 2.0 identity provider posting to our ACS endpoint.');

/** Per-window limits on guest GetId (no token to key on: the source IP and the pool). */
const GuestGetIdLimits = z
  .strictObject({
    perSourceIp: RateLimitRule.default({ limit: 20, windowSeconds: 60 }).describe(
      'New guest identities per client IP address (as API Gateway saw it) and pool.',
    ),
    perPool: RateLimitRule.default({ limit: 1500, windowSeconds: 60 }).describe(
      'New guest identities per pool, from all addresses together.',
    ),
  })
  .default({
    perSourceIp: { limit: 20, windowSeconds: 60 },
    perPool: { limit: 1500, windowSeconds: 60 },
  });

/** The default per-identity limit of a guest provider: guests cost nothing to create. */
export const GUEST_DEFAULT_RATE_LIMITS = {
  perPrincipal: { limit: 20, windowSeconds: 300 },
} as const;

export const GuestProviderSchema = z
  .strictObject({
    id: Id.describe('Provider id, unique; guest mappings name it.'),
    type: z.literal('guest'),
    description: z.string().max(1024).optional().describe('Free text for operators.'),
    rateLimits: RateLimits.default(GUEST_DEFAULT_RATE_LIMITS).describe(
      'GetCredentialsForIdentity per guest identity (`perPrincipal`, default 20 per 300 s) and per client IP address (`perSourceIp`).',
    ),
    claims: ClaimDeclarations.refine((claims) => Object.keys(claims).length === 0, {
      error: 'must be empty: a guest has no token, only `sub` (its IdentityId), which is implicit',
    }),
    defaultClaimMaxLength: DefaultClaimMaxLength,
    ambiguity: z
      .enum(['first', 'deny'], {
        error: 'must be "first" or "deny" for a guest provider',
      })
      .default('first')
      .describe('What to do when several guest mappings tie on the highest priority.'),
  })
  .describe(
    'The unauthenticated (guest) identities of one identity pool. A guest principal is this provider plus its IdentityId (`sub`); mappings of this provider apply to guests only.',
  );

export const ProviderSchema = z.discriminatedUnion('type', [
  OidcProviderSchema,
  SamlProviderSchema,
  GuestProviderSchema,
]);

/** Operators that compare with one string: string claims, except `contains` (list claims). */
const SingleValueOp = z.enum([
  'equals',
  'notEquals',
  'startsWith',
  'includesSubstring',
  'glob',
  'contains',
]);
/** Operators that compare with a list of strings: `in` (string claims), `containsAny`/`containsAll` (list claims). */
const ListValueOp = z.enum(['in', 'containsAny', 'containsAll']);

export const ConditionSchema = z
  .discriminatedUnion('op', [
    z.strictObject({ claim: ClaimName, op: SingleValueOp, value: z.string().max(1024) }),
    z.strictObject({
      claim: ClaimName,
      op: ListValueOp,
      value: z.array(z.string().max(1024)).max(256).min(1),
    }),
    z.strictObject({
      claim: ClaimName,
      op: z.literal('exists'),
      value: z.boolean().default(true),
    }),
  ])
  .describe(
    'A test on one declared claim. String claims: equals, notEquals, in, startsWith, includesSubstring, glob, exists. List claims: contains (element equality), containsAny, containsAll, exists.',
  );

const AllNode = z.strictObject({
  get all() {
    return z.array(MatchNodeSchema).min(1).describe('True when every node is true.');
  },
});
const AnyNode = z.strictObject({
  get any() {
    return z.array(MatchNodeSchema).min(1).describe('True when at least one node is true.');
  },
});
const NotNode = z.strictObject({
  get not() {
    return MatchNodeSchema;
  },
});

export const MatchNodeSchema = z
  .union([AllNode, AnyNode, NotNode, ConditionSchema], {
    error:
      'must be a match node: {all: [...]}, {any: [...]}, {not: {...}} or a condition {claim, op, value}',
  })
  .meta({ id: 'MatchNode', description: 'A boolean tree of claim conditions.' });

const PolicyStrings = z.union([z.string().min(1).max(10_240), z.array(z.string().min(1)).min(1)]);
const ConditionScalar = z.union([z.string(), z.number(), z.boolean()]);

export const PolicyStatementSchema = z.strictObject({
  Sid: z
    .string()
    .regex(POLICY_SID_PATTERN, { error: 'must contain only letters and digits (IAM Sid grammar)' })
    .optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: PolicyStrings.optional(),
  NotAction: PolicyStrings.optional(),
  Resource: PolicyStrings.optional(),
  NotResource: PolicyStrings.optional(),
  Condition: z
    .record(
      z.string().min(1).max(2048),
      z.record(
        z.string().min(1).max(256),
        z.union([ConditionScalar, z.array(ConditionScalar).min(1)]),
      ),
    )
    .optional(),
});

export const SessionPolicySchema = z
  .strictObject({
    Version: z.enum(['2012-10-17', '2008-10-17'], {
      error: 'must be "2012-10-17" (or the legacy "2008-10-17")',
    }),
    Id: z.string().optional(),
    Statement: z.union([PolicyStatementSchema, z.array(PolicyStatementSchema).min(1)]),
  })
  .describe(
    'Inline session policy. Templates are allowed in string values; rendered with the longest allowed claims it must stay within 2,048 characters.',
  );

export const MappingSchema = z
  .strictObject({
    id: Id.describe('Mapping id, unique across mappings; clients may ask for it by id.'),
    provider: Id.describe('Id of the provider whose identities this mapping applies to.'),
    description: z.string().max(1024).optional(),
    priority: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .describe('The matching mapping with the highest priority wins.'),
    match: MatchNodeSchema,
    roleArn: z
      .string()
      .min(1)
      .max(2048)
      .describe('arn:aws:iam::<account>:role/<path/name>. No templates.'),
    sessionTags: z
      .record(z.string().max(1024), z.string().max(1024))
      .default({})
      .describe('Session tags: key → value. Values may use templates.'),
    transitiveTagKeys: z
      .array(z.string().max(1024))
      .default([])
      .describe('Session tag keys that survive further role chaining.'),
    sessionPolicy: SessionPolicySchema.optional(),
    policyArns: z
      .array(z.string().min(1).max(2048))
      .default([])
      .describe('Managed policies used as session policies (at most 10).'),
    sourceIdentity: z.string().max(1024).optional().describe('SourceIdentity; templates allowed.'),
    roleSessionName: z
      .string()
      .max(1024)
      .optional()
      .describe('RoleSessionName; templates allowed.'),
    durationSeconds: z
      .number()
      .int()
      .min(STS_LIMITS.minDurationSeconds, {
        error: 'must be at least 900 seconds (the AssumeRole minimum)',
      })
      .max(STS_LIMITS.maxSamlDurationSeconds, {
        error: 'must be at most 43,200 seconds (12 hours, the STS maximum)',
      })
      .default(3600)
      .describe(
        'Session length. At most 3,600 (role chaining), except 43,200 for a SAML provider in native mode.',
      ),
    externalId: z
      .string()
      .max(2048)
      .optional()
      .describe('Static ExternalId for the role trust policy.'),
    reuse: z
      .strictObject({
        minRemainingSeconds: seconds(60, 3540).describe(
          'Hand back credentials vended earlier only while they have more than this left.',
        ),
      })
      .optional()
      .describe(
        'Opt-in: a warm Lambda may return credentials it vended earlier for exactly the same principal and AssumeRole parameters, instead of calling STS again (deny list and rate limits still apply; each reuse is audited).',
      ),
  })
  .describe('Which identities get which role, and how the session is scoped.');

export const IdentityPoolSchema = z
  .strictObject({
    id: z
      .string()
      .regex(IDENTITY_POOL_ID_PATTERN, {
        error:
          'must be an identity pool id "<region>:<uuid>" in lowercase, such as "eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab"',
      })
      .describe(
        'Identity pool id `<region>:<uuid>` (lowercase), unique; apps pass it as IdentityPoolId. Identity ids of this pool start with the same region.',
      ),
    description: z.string().max(1024).optional().describe('Free text for operators.'),
    providers: z
      .array(
        z.strictObject({
          provider: Id.describe('An OIDC provider id from `providers`.'),
          loginsKey: z
            .string()
            .min(1)
            .max(2048)
            .optional()
            .describe(
              'The key apps use for this provider in `Logins`. Default: the issuer without `https://` (or `http://`) and without a trailing `/`, as Cognito names OIDC providers (`cognito-idp.<region>.amazonaws.com/<userPoolId>`, `accounts.google.com`).',
            ),
        }),
      )
      .default([])
      .describe(
        'The OIDC providers whose ID tokens this pool accepts in `Logins` (may be empty when the pool has guests).',
      ),
    guests: z
      .strictObject({
        provider: Id.describe('A `type: guest` provider, used by this pool only.'),
        getIdLimits: GuestGetIdLimits.describe(
          'GetId without Logins (a new guest identity) per window; over the limit the call answers TooManyRequestsException.',
        ),
      })
      .optional()
      .describe(
        'Unauthenticated (guest) identities: GetId without Logins. Absent: guests are refused, as Cognito refuses them for a pool that does not allow them.',
      ),
    mappings: z
      .array(Id)
      .min(1)
      .optional()
      .describe(
        'Only these mappings (of the listed providers) apply to identities of this pool. Default: every mapping of those providers.',
      ),
  })
  .describe(
    'A Cognito-compatible identity pool (POST /v1/cognito-identity: GetId, GetCredentialsForIdentity), for authenticated identities and, when `guests` is set, guests.',
  );

/** IAM's own account alias rule: 3-63 of a-z, 0-9 and "-", not starting or ending with "-". */
const ACCOUNT_ALIAS = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;

export const AccountSchema = z
  .strictObject({
    alias: z
      .string()
      .regex(ACCOUNT_ALIAS, {
        error:
          'must be 3-63 characters of a-z, 0-9 and "-", not starting or ending with "-" (the rule of IAM account aliases)',
      })
      .optional()
      .describe('A short name shown beside the account id, such as `prod`.'),
  })
  .describe('What the access portal shows for one AWS account.');

export const ConfigFileSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Editor hint; ignored by the TVM.'),
    version: z.literal(1, { error: 'must be 1 (the only config file version this TVM reads)' }),
    providers: z.array(ProviderSchema),
    mappings: z.array(MappingSchema),
    identityPools: z
      .array(IdentityPoolSchema)
      .default([])
      .describe('Cognito-compatible identity pools; see docs/configuration.md.'),
    accounts: z
      .record(
        z.string().regex(/^[0-9]{12}$/, { error: 'must be a 12-digit AWS account id' }),
        AccountSchema,
      )
      .default({})
      .describe(
        'AWS accounts by id, for people: the access portal groups roles by account and shows the alias.',
      ),
  })
  .meta({
    title: 'TVM configuration file',
    description:
      'Identity providers and role mappings of the token vending machine. Generated from shared/config/schema.ts; see docs/configuration.md.',
  });

export type TvmConfig = z.output<typeof ConfigFileSchema>;
export type TvmConfigInput = z.input<typeof ConfigFileSchema>;
export type Provider = z.output<typeof ProviderSchema>;
export type OidcProvider = z.output<typeof OidcProviderSchema>;
export type SamlProvider = z.output<typeof SamlProviderSchema>;
export type GuestProvider = z.output<typeof GuestProviderSchema>;
export type Mapping = z.output<typeof MappingSchema>;
export type IdentityPool = z.output<typeof IdentityPoolSchema>;
export type Account = z.output<typeof AccountSchema>;
export type MatchNode = z.output<typeof MatchNodeSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type SessionPolicy = z.output<typeof SessionPolicySchema>;

/** The JSON Schema of the file as an author writes it (defaulted fields are optional). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ConfigFileSchema, { target: 'draft-2020-12', io: 'input' });
}

/** The exact text committed as docs/config.schema.json. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
