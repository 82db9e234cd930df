/**
 * The limits and patterns of the config model itself (STS and IAM's own are in sts.ts), without
 * zod: the Lambda functions import these at runtime, and keeping zod out of their bundle saves
 * ~450 KB and its module-load time.
 */

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
