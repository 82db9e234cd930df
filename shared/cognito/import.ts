/**
 * `tvm config import-cognito`: a Cognito identity pool, as `aws cognito-identity
 * describe-identity-pool` and `get-identity-pool-roles` print it, turned into an equivalent TVM
 * config (providers, mappings, one identity pool). Pure: text in, a config document and the list of
 * what could not be carried over out; the CLI renders, validates and writes it.
 *
 * Cognito's rules are first-match in order; TVM's mappings are highest-priority-first, so rule i
 * of n becomes priority 10·(n−i), and the authenticated role (when Cognito falls back to it) 0.
 */

import { z } from 'zod';
import { DEFAULT_ROLE_PATH, parseRoleRef, underRolePath } from '#shared/admin/role-template.ts';
import { CLAIM_NAME_PATTERN, IDENTITY_POOL_ID_PATTERN } from '#shared/config/limits.ts';
import type { TvmConfigInput } from '#shared/config/schema.ts';
import { defaultLoginsKey } from './pools.ts';

type ProviderInput = TvmConfigInput['providers'][number];
type MappingInput = TvmConfigInput['mappings'][number];
type PoolInput = NonNullable<TvmConfigInput['identityPools']>[number];
type MatchInput = MappingInput['match'];

/** One input file: its name (for messages) and its text. */
export interface ImportSource {
  name: string;
  text: string;
}

export interface CognitoImportOptions {
  /**
   * Client ids of the pool's OIDC providers, by Logins key (`login.example.com`):
   * describe-identity-pool names only the IAM OIDC provider, whose client ids live in IAM.
   */
  audiences?: Readonly<Record<string, readonly string[]>>;
}

export type CognitoImportResult =
  | {
      ok: true;
      document: TvmConfigInput;
      /** What was not imported, or imported with a different behaviour: each needs a look. */
      warnings: string[];
      /** What was imported as is but differs in mechanism (shown, not alarming). */
      notes: string[];
      /** Every role ARN the config uses: each needs its trust policy changed. */
      roleArns: string[];
      poolName: string;
      poolId: string;
    }
  | { ok: false; errors: string[] };

/** The value an OIDC provider's audience holds until the operator gives the real client id. */
export const AUDIENCE_PLACEHOLDER = 'REPLACE-WITH-THE-CLIENT-ID';

/** Claims that Cognito user pool ID tokens carry as lists (the groups and their roles). */
const LIST_CLAIMS: ReadonlySet<string> = new Set(['cognito:groups', 'cognito:roles']);

/** Rule i of n gets 10·(n−i): first rule highest, with room between to insert mappings by hand. */
const PRIORITY_STEP = 10;

/** Long enough to read, short enough that `<provider>-client9-authenticated` fits the 63 of an id. */
const MAX_PROVIDER_ID = 36;

// The shapes of the two AWS CLI outputs (cognito-identity 2014-06-30). Loose: unknown fields are
// reported as warnings below instead of failing the import or vanishing silently.
const MatchType = z.enum(['Equals', 'Contains', 'StartsWith', 'NotEqual']);
const RuleSchema = z.looseObject({
  Claim: z.string().min(1),
  MatchType,
  Value: z.string(),
  RoleARN: z.string().min(1),
});
const RoleMappingSchema = z.looseObject({
  Type: z.enum(['Token', 'Rules']),
  AmbiguousRoleResolution: z.enum(['AuthenticatedRole', 'Deny']).optional(),
  RulesConfiguration: z.looseObject({ Rules: z.array(RuleSchema) }).optional(),
});
const PoolSchema = z.looseObject({
  IdentityPoolId: z.string(),
  IdentityPoolName: z.string(),
  AllowUnauthenticatedIdentities: z.boolean(),
  AllowClassicFlow: z.boolean().optional(),
  SupportedLoginProviders: z.record(z.string(), z.string()).optional(),
  DeveloperProviderName: z.string().optional(),
  OpenIdConnectProviderARNs: z.array(z.string()).optional(),
  CognitoIdentityProviders: z
    .array(
      z.looseObject({
        ProviderName: z.string().min(1),
        ClientId: z.string().min(1).optional(),
        ServerSideTokenCheck: z.boolean().optional(),
      }),
    )
    .optional(),
  SamlProviderARNs: z.array(z.string()).optional(),
  IdentityPoolTags: z.record(z.string(), z.string()).optional(),
});
const RolesSchema = z.looseObject({
  IdentityPoolId: z.string(),
  Roles: z.record(z.string(), z.string()).optional(),
  RoleMappings: z.record(z.string(), RoleMappingSchema).optional(),
});

type Pool = z.output<typeof PoolSchema>;
type Roles = z.output<typeof RolesSchema>;
type RoleMapping = z.output<typeof RoleMappingSchema>;
type Rule = z.output<typeof RuleSchema>;

const KNOWN_FIELDS = {
  pool: Object.keys(PoolSchema.shape),
  cognitoProvider: ['ProviderName', 'ClientId', 'ServerSideTokenCheck'],
  roles: Object.keys(RolesSchema.shape),
  roleMapping: Object.keys(RoleMappingSchema.shape),
  rulesConfiguration: ['Rules'],
  rule: Object.keys(RuleSchema.shape),
};

/** SupportedLoginProviders keys whose tokens are OIDC ID tokens a TVM provider could verify. */
const OIDC_SOCIAL: Readonly<Record<string, string>> = {
  'accounts.google.com': 'Google',
  'appleid.apple.com': 'Sign in with Apple',
};
/** SupportedLoginProviders keys whose tokens are OAuth access tokens (no issuer signature to check). */
const OAUTH_SOCIAL: Readonly<Record<string, string>> = {
  'graph.facebook.com': 'Facebook',
  'www.amazon.com': 'Login with Amazon',
  'api.twitter.com': 'Twitter',
  'www.digits.com': 'Digits',
};

function parseJson(source: ImportSource, errors: string[]): unknown {
  try {
    return JSON.parse(source.text) as unknown;
  } catch (error) {
    errors.push(
      `${source.name} is not JSON (${(error as Error).message}); save the AWS CLI output with --output json`,
    );
    return undefined;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) =>
      typeof segment === 'number'
        ? `[${segment}]`
        : /^[A-Za-z_]\w*$/.test(String(segment))
          ? `${index === 0 ? '' : '.'}${String(segment)}`
          : `[${JSON.stringify(String(segment))}]`,
    )
    .join('');
}

function shapeErrors(source: ImportSource, error: z.ZodError, expected: string): string[] {
  return error.issues.slice(0, 10).map((issue) => {
    const where = issue.path.length === 0 ? '' : ` at ${formatPath(issue.path)}`;
    return `${source.name}${where}: ${issue.message} (expected the JSON that \`${expected}\` prints)`;
  });
}

const DESCRIBE = 'aws cognito-identity describe-identity-pool --identity-pool-id <id>';
const GET_ROLES = 'aws cognito-identity get-identity-pool-roles --identity-pool-id <id>';

/** The two files, parsed and shape-checked; swapped files get a message that says so. */
function readInputs(
  poolSource: ImportSource,
  rolesSource: ImportSource,
): { pool: Pool; roles: Roles } | { errors: string[] } {
  const errors: string[] = [];
  const poolJson = parseJson(poolSource, errors);
  const rolesJson = parseJson(rolesSource, errors);
  if (errors.length > 0) return { errors };
  const looksLikeRoles = (value: unknown) =>
    typeof value === 'object' &&
    value !== null &&
    ('Roles' in value || 'RoleMappings' in value) &&
    !('IdentityPoolName' in value);
  const looksLikePool = (value: unknown) =>
    typeof value === 'object' && value !== null && 'IdentityPoolName' in value;
  if (looksLikeRoles(poolJson) && looksLikePool(rolesJson)) {
    return {
      errors: [
        `${poolSource.name} holds get-identity-pool-roles output and ${rolesSource.name} describe-identity-pool output; swap --pool and --roles`,
      ],
    };
  }
  const pool = PoolSchema.safeParse(poolJson);
  const roles = RolesSchema.safeParse(rolesJson);
  if (!pool.success) errors.push(...shapeErrors(poolSource, pool.error, DESCRIBE));
  if (!roles.success) errors.push(...shapeErrors(rolesSource, roles.error, GET_ROLES));
  if (!pool.success || !roles.success) return { errors };
  if (!IDENTITY_POOL_ID_PATTERN.test(pool.data.IdentityPoolId)) {
    errors.push(
      `${poolSource.name}: IdentityPoolId "${pool.data.IdentityPoolId}" is not an identity pool id "<region>:<uuid>" in lowercase`,
    );
  }
  if (roles.data.IdentityPoolId !== pool.data.IdentityPoolId) {
    errors.push(
      `the files describe different identity pools: ${poolSource.name} has IdentityPoolId "${pool.data.IdentityPoolId}", ${rolesSource.name} has "${roles.data.IdentityPoolId}"; run both commands with the same --identity-pool-id`,
    );
  }
  return errors.length > 0 ? { errors } : { pool: pool.data, roles: roles.data };
}

/** A slug usable in an id: lowercase letters, digits and single dashes, at most `max` long. */
function slug(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, max)
    .replace(/-+$/, '');
}

/** Hands out ids, each unique, by suffixing `-2`, `-3`… to a taken one. */
class Ids {
  readonly #taken = new Set<string>();

  claim(base: string): string {
    let id = base;
    for (let n = 2; this.#taken.has(id); n += 1) id = `${base.slice(0, MAX_PROVIDER_ID - 3)}-${n}`;
    this.#taken.add(id);
    return id;
  }
}

/** One TVM provider being built, with the Cognito app clients it stands for. */
interface ProviderPlan {
  provider: Extract<ProviderInput, { type: 'oidc' }>;
  /** The Logins key (Cognito's provider name): the issuer without https://. */
  loginsKey: string;
  /** Cognito's RoleMappings key for each client: `<provider name>:<client id>` for user pools. */
  clients: { clientId: string | undefined; roleMappingKeys: string[] }[];
  kind: 'user pool' | 'OIDC provider';
}

interface Collector {
  warnings: string[];
  notes: string[];
}

function warnUnknownFields(
  value: Record<string, unknown>,
  known: readonly string[],
  where: string,
  out: Collector,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      out.warnings.push(
        `${where}: field "${key}" is unknown to this importer and was not imported; check whether it matters for this pool`,
      );
    }
  }
}

/** Cognito user pools: one TVM provider per user pool, with every app client as an audience. */
function userPoolProviders(pool: Pool, ids: Ids, out: Collector): ProviderPlan[] {
  const byName = new Map<string, ProviderPlan>();
  for (const [index, entry] of (pool.CognitoIdentityProviders ?? []).entries()) {
    const where = `CognitoIdentityProviders[${index}] (${entry.ProviderName})`;
    warnUnknownFields(entry, KNOWN_FIELDS.cognitoProvider, where, out);
    const match =
      /^cognito-idp\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([\w-]+_[0-9A-Za-z]+)$/.exec(
        entry.ProviderName,
      );
    if (match === null) {
      out.warnings.push(
        `${where}: not imported: "${entry.ProviderName}" is not a user pool provider name "cognito-idp.<region>.amazonaws.com/<userPoolId>"`,
      );
      continue;
    }
    if (entry.ClientId === undefined) {
      out.warnings.push(
        `${where}: not imported: it names no ClientId, so no ID token audience can be checked; its users get no credentials`,
      );
      continue;
    }
    if (entry.ServerSideTokenCheck === true) {
      out.notes.push(
        `${where}: ServerSideTokenCheck is ignored: the TVM verifies each ID token's signature, issuer, audience and expiry, but does not ask the user pool whether the user signed out globally or was deleted; use \`tvm deny\` or \`tvm revoke\` to cut a user off at once`,
      );
    }
    const loginsKey = defaultLoginsKey(`https://${entry.ProviderName}`);
    let plan = byName.get(loginsKey);
    if (plan === undefined) {
      const userPoolId = match[2] ?? '';
      plan = {
        provider: {
          id: ids.claim(slug(`userpool-${userPoolId}`, MAX_PROVIDER_ID)),
          type: 'oidc',
          issuer: `https://${entry.ProviderName}`,
          audiences: [],
          preset: 'cognito',
        },
        loginsKey,
        clients: [],
        kind: 'user pool',
      };
      byName.set(loginsKey, plan);
    }
    if (plan.clients.some((client) => client.clientId === entry.ClientId)) continue;
    plan.provider.audiences.push(entry.ClientId);
    plan.clients.push({
      clientId: entry.ClientId,
      roleMappingKeys: [`${entry.ProviderName}:${entry.ClientId}`],
    });
  }
  for (const plan of byName.values()) {
    // With one app client, a RoleMappings key without the client id names it as well.
    const [only] = plan.clients;
    if (plan.clients.length === 1 && only !== undefined) only.roleMappingKeys.push(plan.loginsKey);
    if (plan.clients.length > 1) {
      out.notes.push(
        `user pool ${plan.loginsKey}: its ${plan.clients.length} app clients (${plan.clients.map((c) => c.clientId).join(', ')}) share one Logins key, so they are one provider "${plan.provider.id}" with every client as an audience; each mapping tests the token's \`aud\` to keep each client's own role mapping`,
      );
    }
  }
  return [...byName.values()];
}

/** IAM OIDC providers: the issuer is the ARN's host and path. */
function oidcProviders(
  pool: Pool,
  options: CognitoImportOptions,
  ids: Ids,
  out: Collector,
): ProviderPlan[] {
  const plans: ProviderPlan[] = [];
  for (const [index, arn] of (pool.OpenIdConnectProviderARNs ?? []).entries()) {
    const match = /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/(.+)$/.exec(arn);
    const hostPath = match?.[1];
    if (hostPath === undefined) {
      out.warnings.push(
        `OpenIdConnectProviderARNs[${index}]: not imported: "${arn}" is not an IAM OIDC provider ARN "arn:aws:iam::<account>:oidc-provider/<host>/<path>"`,
      );
      continue;
    }
    const issuer = `https://${hostPath}`;
    const loginsKey = defaultLoginsKey(issuer);
    const given = options.audiences?.[loginsKey] ?? [];
    if (given.length === 0) {
      out.warnings.push(
        `OIDC provider ${loginsKey}: describe-identity-pool does not list its client ids, so its audiences hold "${AUDIENCE_PLACEHOLDER}" and every token is refused until you set them: re-run with --audience ${loginsKey}=<client id> (the ClientIDList of \`aws iam get-open-id-connect-provider --open-id-connect-provider-arn ${arn}\`), or edit the file`,
      );
    }
    plans.push({
      provider: {
        id: ids.claim(slug(`oidc-${hostPath}`, MAX_PROVIDER_ID)),
        type: 'oidc',
        issuer,
        audiences: given.length === 0 ? [AUDIENCE_PLACEHOLDER] : [...new Set(given)],
      },
      loginsKey,
      clients: [{ clientId: undefined, roleMappingKeys: [loginsKey, hostPath] }],
      kind: 'OIDC provider',
    });
  }
  for (const key of Object.keys(options.audiences ?? {})) {
    if (!plans.some((plan) => plan.loginsKey === key)) {
      out.warnings.push(
        `--audience ${key}: the pool has no OIDC provider with that Logins key, so it was not used`,
      );
    }
  }
  return plans;
}

/** What cannot be imported, each said once: never silently dropped. */
function reportUnsupported(pool: Pool, out: Collector): void {
  for (const [key, appId] of Object.entries(pool.SupportedLoginProviders ?? {})) {
    const oidc = OIDC_SOCIAL[key];
    const oauth = OAUTH_SOCIAL[key];
    if (oidc !== undefined) {
      out.warnings.push(
        `SupportedLoginProviders "${key}" (${oidc}, app id ${appId}): not imported; its users get no credentials. ${oidc} issues OIDC ID tokens, so you can add it by hand: a \`type: oidc\` provider with issuer https://${key} and audiences [${appId}], listed in the pool (its Logins key stays ${key}); check the \`iss\` its tokens carry first`,
      );
    } else if (oauth !== undefined) {
      out.warnings.push(
        `SupportedLoginProviders "${key}" (${oauth}, app id ${appId}): not imported; its users get no credentials. ${oauth} sign-in hands Cognito an OAuth access token, which the TVM cannot verify (it accepts OIDC ID tokens only)`,
      );
    } else {
      out.warnings.push(
        `SupportedLoginProviders "${key}" (app id ${appId}): not imported; its users get no credentials (the TVM accepts OIDC ID tokens of configured providers only)`,
      );
    }
  }
  if (pool.DeveloperProviderName !== undefined) {
    out.warnings.push(
      `DeveloperProviderName "${pool.DeveloperProviderName}": developer-authenticated identities (GetOpenIdTokenForDeveloperIdentity, Logins key cognito-identity.amazonaws.com) are not supported and were not imported; such users get no credentials`,
    );
  }
  for (const arn of pool.SamlProviderARNs ?? []) {
    out.warnings.push(
      `SamlProviderARNs "${arn}": not imported: TVM identity pools accept OIDC ID tokens in Logins, not SAML assertions; sign these users in through a TVM SAML provider instead (docs/saml.md)`,
    );
  }
  if (pool.AllowClassicFlow === true) {
    out.warnings.push(
      'AllowClassicFlow: the basic (classic) flow, GetOpenIdToken then AssumeRoleWithWebIdentity, is not offered; apps must use the enhanced flow (GetId, GetCredentialsForIdentity), which the AWS SDKs and Amplify use by default',
    );
  }
  const tags = Object.keys(pool.IdentityPoolTags ?? {});
  if (tags.length > 0) {
    out.notes.push(
      `IdentityPoolTags (${tags.join(', ')}): not imported; a TVM pool has no tags of its own`,
    );
  }
}

/** The match of one Cognito rule: the claim must be present, as Cognito requires. */
function ruleMatch(rule: Rule, where: string, out: Collector, errors: string[]): MatchInput {
  const { Claim: claim, Value: value } = rule;
  if (!LIST_CLAIMS.has(claim)) {
    // A string claim: Cognito's four match types are TVM's four string operators.
    const op = (
      {
        Equals: 'equals',
        NotEqual: 'notEquals',
        StartsWith: 'startsWith',
        Contains: 'includesSubstring',
      } as const
    )[rule.MatchType];
    return { claim, op, value };
  }
  // A list claim: TVM's list operators test whole elements, never substrings.
  switch (rule.MatchType) {
    case 'Contains':
    case 'Equals':
      out.warnings.push(
        `${where}: ${claim} ${rule.MatchType} "${value}" became \`${claim} contains "${value}"\` (${claim} is a list; TVM tests whole elements, so a user matches when one of their values is exactly "${value}", never a substring of one); check it with \`tvm explain\``,
      );
      return { claim, op: 'contains', value };
    case 'NotEqual':
      out.warnings.push(
        `${where}: ${claim} NotEqual "${value}" became \`${claim}\` present and not containing "${value}" (${claim} is a list; TVM tests whole elements); check it with \`tvm explain\``,
      );
      return { all: [{ claim, op: 'exists' }, { not: { claim, op: 'contains', value } }] };
    case 'StartsWith':
      errors.push(
        `${where}: ${claim} StartsWith "${value}" cannot be imported: ${claim} is a list and TVM has no prefix test on list elements; skipping the rule would change which later rule matches. Remove or rewrite the rule in Cognito, or build the config by hand`,
      );
      return { claim, op: 'exists' };
  }
}

function withAudience(match: MatchInput, clientId: string | undefined): MatchInput {
  if (clientId === undefined) return match;
  return { all: [{ claim: 'aud', op: 'equals', value: clientId }, match] };
}

function describeRule(rule: Rule): string {
  return `${rule.Claim} ${rule.MatchType} ${JSON.stringify(rule.Value)}`;
}

/** The mappings of one provider: per app client its rules and its fallback, as Cognito decides. */
function providerMappings(
  plan: ProviderPlan,
  roleMappings: Readonly<Record<string, RoleMapping>>,
  authenticatedRole: string | undefined,
  usedKeys: Set<string>,
  out: Collector,
  errors: string[],
): MappingInput[] {
  const mappings: MappingInput[] = [];
  const providerId = plan.provider.id;
  const claimsUsed = new Set<string>();
  const several = plan.clients.length > 1;
  let deny = false;
  for (const [clientIndex, client] of plan.clients.entries()) {
    const idBase = several ? `${providerId}-client${clientIndex + 1}` : providerId;
    const audience = several ? client.clientId : undefined;
    if (audience !== undefined) claimsUsed.add('aud');
    const label = `${plan.kind} ${plan.loginsKey}${client.clientId === undefined ? '' : ` (app client ${client.clientId})`}`;
    const key = client.roleMappingKeys.find((candidate) => Object.hasOwn(roleMappings, candidate));
    const roleMapping = key === undefined ? undefined : roleMappings[key];
    if (key !== undefined) usedKeys.add(key);
    let fallback = true;
    if (roleMapping !== undefined) {
      const where = `RoleMappings["${key}"]`;
      warnUnknownFields(roleMapping, KNOWN_FIELDS.roleMapping, where, out);
      if (roleMapping.RulesConfiguration !== undefined) {
        warnUnknownFields(
          roleMapping.RulesConfiguration,
          KNOWN_FIELDS.rulesConfiguration,
          `${where}.RulesConfiguration`,
          out,
        );
      }
      const resolution = roleMapping.AmbiguousRoleResolution;
      if (resolution === undefined) {
        out.warnings.push(
          `${where}: no AmbiguousRoleResolution (Cognito requires one); imported as Deny, so a user no rule matches gets no credentials`,
        );
      }
      fallback = resolution === 'AuthenticatedRole';
      if (!fallback) deny = true;
      if (roleMapping.Type === 'Token') {
        out.warnings.push(
          `${where}: Type Token (the role from the token's cognito:preferred_role / cognito:roles, set by user pool groups) cannot be imported: the group-to-role pairs live in the user pool, not in these files, and the TVM never takes a role ARN from a token. ${fallback ? `Imported: every user of ${label} gets the authenticated role` : `Imported: no mapping, so users of ${label} get no credentials (AmbiguousRoleResolution is Deny)`}. Add one mapping per group by hand (match \`cognito:groups contains <group>\`, the group's role, higher priority for lower group precedence); \`aws cognito-idp list-groups --user-pool-id <id>\` lists them`,
        );
      } else {
        const rules = roleMapping.RulesConfiguration?.Rules ?? [];
        if (rules.length === 0) {
          out.warnings.push(`${where}: Type Rules with no rules; only the fallback applies`);
        }
        rules.forEach((rule, index) => {
          const ruleWhere = `${where} rule ${index + 1}`;
          warnUnknownFields(rule, KNOWN_FIELDS.rule, ruleWhere, out);
          if (!CLAIM_NAME_PATTERN.test(rule.Claim)) {
            errors.push(
              `${ruleWhere}: claim "${rule.Claim}" is not a claim name the TVM accepts (letters, digits and _ . : / # -); skipping the rule would change which later rule matches`,
            );
            return;
          }
          if (rule.Claim !== 'sub') claimsUsed.add(rule.Claim);
          mappings.push({
            id: `${idBase}-rule-${index + 1}`,
            provider: providerId,
            description: `Cognito ${where} rule ${index + 1} of ${rules.length}: ${describeRule(rule)}`,
            priority: PRIORITY_STEP * (rules.length - index),
            match: withAudience(ruleMatch(rule, ruleWhere, out, errors), audience),
            roleArn: rule.RoleARN,
          });
        });
      }
    }
    if (!fallback) continue;
    if (authenticatedRole === undefined) {
      out.warnings.push(
        `${label}: the pool has no authenticated role, so users ${roleMapping === undefined ? '' : 'no rule matches '}get no credentials (as in Cognito)`,
      );
      continue;
    }
    mappings.push({
      id: `${idBase}-authenticated`,
      provider: providerId,
      description: `Cognito's authenticated role for ${label}${roleMapping === undefined ? '' : ', when no rule matches'}`,
      priority: 0,
      match: withAudience({ claim: 'sub', op: 'exists' }, audience),
      roleArn: authenticatedRole,
    });
  }
  const claims: Record<string, { type: 'string' | 'list' }> = {};
  for (const name of [...claimsUsed].sort()) {
    claims[name] = { type: LIST_CLAIMS.has(name) ? 'list' : 'string' };
  }
  if (Object.keys(claims).length > 0) plan.provider.claims = claims;
  // Cognito's Deny: a user the rules do not place gets nothing; TVM refuses ties as well.
  if (deny) plan.provider.ambiguity = 'deny';
  return mappings;
}

/** The guests of the pool, when Cognito allows them and gives them a role. */
function guestEntries(
  pool: Pool,
  roles: Roles,
  ids: Ids,
  out: Collector,
): { provider: ProviderInput; mapping: MappingInput } | undefined {
  const role = roles.Roles?.unauthenticated;
  if (!pool.AllowUnauthenticatedIdentities) {
    if (role !== undefined) {
      out.notes.push(
        `Roles.unauthenticated (${role}) is not imported: the pool does not allow unauthenticated identities`,
      );
    }
    return undefined;
  }
  if (role === undefined) {
    out.warnings.push(
      'AllowUnauthenticatedIdentities is true but the pool has no unauthenticated role, so guests are not imported (Cognito gives them no credentials either)',
    );
    return undefined;
  }
  const id = ids.claim(`${slug(pool.IdentityPoolName, MAX_PROVIDER_ID - 7) || 'pool'}-guests`);
  return {
    provider: {
      id,
      type: 'guest',
      description: `Unauthenticated identities of Cognito identity pool "${pool.IdentityPoolName}"`,
    },
    mapping: {
      id: `${id}-unauthenticated`,
      provider: id,
      description: "Cognito's unauthenticated role",
      priority: 0,
      match: { claim: 'sub', op: 'exists' },
      roleArn: role,
    },
  };
}

/**
 * The import itself. Errors (bad input, a rule that cannot be carried over faithfully) return no
 * document at all: a partial import would decide differently from Cognito without saying so.
 */
export function importCognito(
  poolSource: ImportSource,
  rolesSource: ImportSource,
  options: CognitoImportOptions = {},
): CognitoImportResult {
  const inputs = readInputs(poolSource, rolesSource);
  if ('errors' in inputs) return { ok: false, errors: inputs.errors };
  const { pool, roles } = inputs;
  const out: Collector = { warnings: [], notes: [] };
  const errors: string[] = [];
  warnUnknownFields(pool, KNOWN_FIELDS.pool, poolSource.name, out);
  warnUnknownFields(roles, KNOWN_FIELDS.roles, rolesSource.name, out);
  for (const key of Object.keys(roles.Roles ?? {})) {
    if (key !== 'authenticated' && key !== 'unauthenticated') {
      out.warnings.push(
        `Roles["${key}"]: not imported: Cognito knows only the authenticated and unauthenticated roles`,
      );
    }
  }
  reportUnsupported(pool, out);
  const ids = new Ids();
  const plans = [...userPoolProviders(pool, ids, out), ...oidcProviders(pool, options, ids, out)];
  const roleMappings = roles.RoleMappings ?? {};
  const usedKeys = new Set<string>();
  const mappings = plans.flatMap((plan) =>
    providerMappings(plan, roleMappings, roles.Roles?.authenticated, usedKeys, out, errors),
  );
  for (const key of Object.keys(roleMappings)) {
    if (!usedKeys.has(key)) {
      out.warnings.push(
        `RoleMappings["${key}"]: not imported: it names no provider this import could carry over`,
      );
    }
  }
  const guests = guestEntries(pool, roles, ids, out);
  if (guests !== undefined) mappings.push(guests.mapping);
  if (plans.length === 0 && guests === undefined) {
    errors.push(
      `nothing to import: identity pool "${pool.IdentityPoolName}" has no user pool or OIDC provider the TVM can take, and no guests`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };

  const identityPool: PoolInput = {
    id: pool.IdentityPoolId,
    description: `Imported from Cognito identity pool "${pool.IdentityPoolName}"`,
    providers: plans.map((plan) => ({ provider: plan.provider.id })),
    ...(guests === undefined ? {} : { guests: { provider: guests.provider.id } }),
    // Cognito's role mappings belong to the pool: keep them to it if the providers are shared later.
    ...(mappings.length === 0 ? {} : { mappings: mappings.map((mapping) => mapping.id) }),
  };
  const document: TvmConfigInput = {
    version: 1,
    providers: [
      ...plans.map((plan) => plan.provider),
      ...(guests === undefined ? [] : [guests.provider]),
    ],
    mappings,
    identityPools: [identityPool],
  };
  const roleArns = [...new Set(mappings.map((mapping) => mapping.roleArn))];
  // Cognito's console puts roles under /service-role/; the TVM may assume only its own path.
  const outside = roleArns.filter((roleArn) => {
    const role = parseRoleRef(roleArn);
    return role !== undefined && !underRolePath(role, DEFAULT_ROLE_PATH);
  });
  if (outside.length > 0) {
    out.warnings.push(
      `role path: ${outside.length} role(s) sit outside the TVM's role path "${DEFAULT_ROLE_PATH}" (serverless.yml param rolePath), so its function role may not assume them; recreate them under /${DEFAULT_ROLE_PATH} or change rolePath: ${outside.join(', ')}`,
    );
  }
  return {
    ok: true,
    document,
    warnings: out.warnings,
    notes: out.notes,
    roleArns,
    poolName: pool.IdentityPoolName,
    poolId: pool.IdentityPoolId,
  };
}
