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

/** An AWS region such as eu-west-1 or us-gov-west-1. */
const REGION = '[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** An identity pool id as Cognito spells it: `<region>:<uuid>`, lowercase hex. */
export const IDENTITY_POOL_ID_PATTERN = new RegExp(`^${REGION}:${UUID}$`);

/** An identity id (`<region>:<uuid>`), the same shape; Cognito caps both at 55 characters. */
export const IDENTITY_ID_PATTERN = IDENTITY_POOL_ID_PATTERN;

/** Cognito's limits on `Logins` (GetId and GetCredentialsForIdentity API reference). */
export const COGNITO_LIMITS = { maxLogins: 10, maxTokenChars: 50_000, maxIdChars: 55 } as const;
