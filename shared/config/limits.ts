/**
 * The limits and patterns of the config model, without zod: the Lambda functions import these
 * at runtime, and keeping zod out of their bundle saves ~450 KB and its module-load time.
 */

/** Limits from the STS AssumeRole API reference, shared by validation and the runtime. */
export const STS_LIMITS = {
  /** AssumeRole `Policy`: "The plaintext ... can't exceed 2,048 characters." */
  sessionPolicyChars: 2048,
  /** AssumeRole `PolicyArns`: at most 10 managed session policies. */
  policyArns: 10,
  /** AssumeRole `Tags`: at most 50 session tags. */
  sessionTags: 50,
  tagKeyChars: 128,
  tagValueChars: 256,
  /** RoleSessionName and SourceIdentity: 2–64 characters. */
  sessionNameMinChars: 2,
  sessionNameMaxChars: 64,
  externalIdMinChars: 2,
  externalIdMaxChars: 1224,
  /** DurationSeconds: role chaining (AssumeRole called with role credentials) caps it at 1 h. */
  minDurationSeconds: 900,
  maxDurationSeconds: 3600,
  /** AssumeRoleWithSAML (SAML native mode) is not chaining: up to the role's maximum, 12 h. */
  maxSamlDurationSeconds: 43_200,
} as const;

/** A match tree is evaluated per request: bound it so one mapping cannot make decide() slow. */
export const MATCH_LIMITS = { maxDepth: 8, maxConditions: 64 } as const;

/** Provider and mapping ids appear in URL paths and DynamoDB sort keys. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Claim names usable in match conditions and templates; covers `cognito:groups` and Auth0's URL-namespaced claims. */
export const CLAIM_NAME_PATTERN = /^[A-Za-z0-9_][\w.:/#-]{0,255}$/;

export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
