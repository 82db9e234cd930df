/**
 * Every STS and IAM limit and character pattern the TVM enforces, from the AssumeRole and IAM API
 * references. Config validation checks a mapping against these and the runtime renderer checks
 * what it renders against the same ones. No zod here: the Lambda functions import this module.
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

/** IAM's name alphabet: role and policy names, RoleSessionName and SourceIdentity all use it. */
const IAM_NAME_CHARACTER = '[\\w+=,.@-]';

/** RoleSessionName or SourceIdentity characters, any length: validation reports the length apart. */
export const SESSION_NAME_CHARACTERS_PATTERN = new RegExp(`^${IAM_NAME_CHARACTER}*$`);

/** A whole RoleSessionName or SourceIdentity as STS accepts it: 2–64 IAM name characters. */
export const SESSION_NAME_PATTERN = new RegExp(
  `^${IAM_NAME_CHARACTER}{${STS_LIMITS.sessionNameMinChars},${STS_LIMITS.sessionNameMaxChars}}$`,
);

/** ExternalId characters, any length (STS_LIMITS.externalIdMinChars–externalIdMaxChars apply apart). */
export const EXTERNAL_ID_CHARACTERS_PATTERN = /^[\w+=,.@:/-]*$/;

/** A session tag key or value: the STS Tag data type's characters, any length (limits apart). */
export const TAG_CHARACTERS_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Tag keys AWS reserves for itself; STS refuses them in AssumeRole. */
export const RESERVED_TAG_KEY_PATTERN = /^aws:/i;

/**
 * One character a claim may bring into a tag value: the STS tag characters minus `/` (a role
 * policy that reads `${aws:PrincipalTag/tenant}` in a resource path would let tenant "b/x" into
 * tenant "b"'s prefix) and minus every separator but the plain space (no U+2028 or NBSP tricks).
 */
const TAG_CLAIM_CHARACTER = '[\\p{L}\\p{N}_.:=+\\-@ ]';

/** A claim inside a tag value; non-empty, because `${aws:PrincipalTag/tenant}*` with an empty tag is `*`. */
export const TAG_CLAIM_VALUE_PATTERN = new RegExp(`^${TAG_CLAIM_CHARACTER}+$`, 'u');

/** One character of TAG_CLAIM_VALUE_PATTERN's alphabet (the template boundary rule reads it). */
export const TAG_CLAIM_CHARACTER_PATTERN = new RegExp(`^${TAG_CLAIM_CHARACTER}$`, 'u');

/**
 * One character a claim may bring into a session policy string: ASCII letters, digits and
 * `_ . @ : + = , -` only. This excludes IAM wildcards (`*` `?`), policy variables and their
 * escapes (`$ { }`), path separators (`/`, so `../` and prefix-crossing are impossible), JSON
 * quotes and backslashes, all whitespace and control characters, and every non-ASCII look-alike.
 */
const POLICY_CLAIM_CHARACTER = '[A-Za-z0-9_.@:+=,-]';

/** A claim inside a session policy string; non-empty, as an empty value turns `{{claims.tenant}}*` into `*`. */
export const POLICY_CLAIM_VALUE_PATTERN = new RegExp(`^${POLICY_CLAIM_CHARACTER}+$`);

/** One character of POLICY_CLAIM_VALUE_PATTERN's alphabet (the template boundary rule reads it). */
export const POLICY_CLAIM_CHARACTER_PATTERN = new RegExp(`^${POLICY_CLAIM_CHARACTER}$`);

/** An IAM policy statement's Sid: letters and digits only (IAM JSON policy grammar). */
export const POLICY_SID_PATTERN = /^[A-Za-z0-9]*$/;

/**
 * `arn:<partition>:iam::<account>:role/<path/><name>`, a role name of 1–64 IAM name characters.
 * Groups: 1 the partition, 2 the account, 3 the role name (IAM APIs take the name alone).
 */
export const ROLE_ARN_PATTERN = new RegExp(
  `^arn:(aws[a-z-]*):iam::(\\d{12}):role/(?:${IAM_NAME_CHARACTER}+/)*(${IAM_NAME_CHARACTER}{1,64})$`,
);

/** A managed policy ARN (an account's or AWS's own), a policy name of 1–128 IAM name characters. */
export const POLICY_ARN_PATTERN = new RegExp(
  `^arn:aws[a-z-]*:iam::(?:\\d{12}|aws):policy/(?:${IAM_NAME_CHARACTER}+/)*${IAM_NAME_CHARACTER}{1,128}$`,
);

/** An IAM SAML identity provider ARN: a name of 1–128 of `[\w.-]` (CreateSAMLProvider). */
export const SAML_PROVIDER_ARN_PATTERN =
  /^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w.-]{1,128}$/;
