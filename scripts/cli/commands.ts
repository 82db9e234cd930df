/**
 * Every command of the admin CLI, in the order the usage lists them: name, arguments, options
 * (type, default, help) and the function that runs it. Parsing, checks and help come from here.
 */
import { REVOKE_POLICY_NAME } from '#shared/admin/revoke.ts';
import { DEFAULT_ROLE_PATH } from '#shared/admin/role-template.ts';
import { AUDIT_OUTCOMES } from '#shared/audit/history.ts';
import { DEFAULT_DEV_ISSUER } from '../local/dev-token.ts';
import { command, UsageError } from './command.ts';
import * as audit from './commands/audit.ts';
import * as config from './commands/config.ts';
import * as deny from './commands/deny.ts';
import { devToken } from './commands/dev-token.ts';
import { doctor } from './commands/doctor.ts';
import { explain } from './commands/explain.ts';
import {
  checkAccount,
  checkRoleArn,
  checkRolePath,
  checkSamlProviderArn,
  roleTemplate,
} from './commands/iam.ts';
import { importCognitoCommand } from './commands/import-cognito.ts';
import { revoke } from './commands/revoke.ts';
import { spMetadata } from './commands/saml.ts';
import { samlCheck } from './commands/saml-check.ts';
import { checkReason, checkSubject } from './principal.ts';

/** Where the CLI reads from, for every command that reaches AWS. */
export const AWS = {
  stage: {
    type: 'string',
    value: '<s>',
    help: 'stage whose rules apply (default $TVM_STAGE or dev); http:// URLs are accepted for loopback hosts only in the local stage',
  },
  table: {
    type: 'string',
    value: '<name>',
    help: 'DynamoDB table (default $TVM_TABLE_NAME or tvm-<stage>)',
  },
  region: { type: 'string', value: '<r>', help: 'AWS region (default from the AWS environment)' },
  'endpoint-url': {
    type: 'string',
    value: '<u>',
    help: 'AWS endpoint, for the local emulator (default $AWS_ENDPOINT_URL)',
  },
} as const;

/** Who is acting, for the record, on every command that writes. */
export const BY = {
  by: {
    type: 'string',
    value: '<who>',
    help: 'who is applying or denying, for the record (default user@host)',
  },
} as const;

const FILE = { name: '<file>', help: 'the config file (YAML or JSON)' } as const;

const PROVIDER = {
  type: 'string',
  value: '<id>',
  required: true,
  help: 'a provider entry of the current config; its issuer and the subject name the principal, through every entry sharing that issuer',
} as const;

const SUBJECT = {
  type: 'string',
  value: '<sub>',
  required: true,
  help: 'the subject (OIDC sub, SAML NameID), at most 255 characters',
  check: checkSubject,
} as const;

const REASON = {
  type: 'string',
  value: '<text>',
  help: 'why, for the record (at most 1024 characters)',
  check: checkReason,
} as const;

const CONFIG_FILE = {
  type: 'string',
  value: '<file>',
  help: 'use this config file instead of the current generation',
} as const;

export const COMMANDS = [
  command({
    name: 'config validate',
    args: [FILE],
    options: { stage: AWS.stage },
    summary: 'check a config file; lists every problem',
    description:
      'Offline: the schema, semantic checks and STS limits for the stage. Exit 1 when invalid.',
    run: config.validate,
  }),
  command({
    name: 'config apply',
    args: [FILE],
    options: {
      'dry-run': { type: 'boolean', help: 'show what would change; apply nothing' },
      ...AWS,
      ...BY,
    },
    summary: 'validate, show what changes, and make it current atomically',
    description:
      'An invalid file changes nothing; a failed or raced apply (exit 4) leaves the previous generation current.',
    run: config.apply,
  }),
  command({
    name: 'config diff',
    args: [FILE],
    options: { ...AWS },
    summary: 'show what applying <file> would change',
    run: config.diff,
  }),
  command({
    name: 'config export',
    args: [],
    options: {
      generation: { type: 'integer', value: 'N', help: 'this generation instead of the current' },
      format: { type: 'choice', choices: ['yaml', 'json'], default: 'yaml', help: 'output format' },
      ...AWS,
    },
    summary: 'print the current (or a given) generation',
    run: config.exportConfig,
  }),
  command({
    name: 'config rollback',
    args: [],
    options: {
      to: { type: 'integer', value: 'N', help: 'this generation instead of the previous one' },
      ...AWS,
      ...BY,
    },
    summary: 'make the previous (or a given) generation current again',
    run: config.rollback,
  }),
  command({
    name: 'config history',
    args: [],
    options: {
      limit: { type: 'integer', value: 'N', default: 20, help: 'how many entries' },
      ...AWS,
    },
    summary: 'list applies and rollbacks, newest first',
    run: config.history,
  }),
  command({
    name: 'config import-cognito',
    args: [],
    options: {
      pool: {
        type: 'string',
        value: '<file>',
        required: true,
        help: 'the JSON of `aws cognito-identity describe-identity-pool --identity-pool-id <id>`',
      },
      roles: {
        type: 'string',
        value: '<file>',
        required: true,
        help: 'the JSON of `aws cognito-identity get-identity-pool-roles --identity-pool-id <id>` (same pool)',
      },
      out: {
        type: 'string',
        value: '<file>',
        help: 'write the config here, atomically (default: print it to stdout)',
      },
      force: { type: 'boolean', help: 'replace --out when it exists' },
      audience: {
        type: 'list',
        value: '<key>=<client-id>',
        help: "an OIDC provider's client id, by Logins key (login.example.com=my-app): the pool JSON does not hold them",
      },
      stage: AWS.stage,
    },
    summary: 'turn a Cognito identity pool and its role mappings into a TVM config file',
    description:
      'Offline. Imports user pools and OIDC providers, the rules (first-match order kept as priorities), the authenticated role, and guests with the unauthenticated role. Prints a warning for everything it cannot carry over (social and SAML logins, developer identities, Token role mappings) and lists the roles whose trust policy must change (docs/cognito.md, "Migrating from Cognito"). The output is validated like `config validate`; on any error nothing is written and the exit code is 1.',
    run: importCognitoCommand,
  }),
  command({
    name: 'explain',
    args: [],
    options: {
      provider: {
        ...PROVIDER,
        required: false,
        help: 'the provider entry the claims come through (or --identity-pool)',
      },
      claims: {
        type: 'string',
        value: '<file|json>',
        help: 'the claims: a JSON object inline, or a file holding one (required but for --guest)',
      },
      mapping: { type: 'string', value: '<id>', help: 'ask for this mapping, as a client may' },
      duration: { type: 'integer', value: 'N', help: 'ask for this duration in seconds' },
      'identity-pool': {
        type: 'string',
        value: '<id>',
        help: 'explain a GetCredentialsForIdentity call to this identity pool instead of --provider',
      },
      'logins-key': {
        type: 'string',
        value: '<key>',
        help: 'with --identity-pool: the Logins key the ID token is sent under (its claims in --claims)',
      },
      guest: { type: 'boolean', help: 'with --identity-pool: a guest (no Logins)' },
      'identity-id': {
        type: 'string',
        value: '<id>',
        help: 'with --identity-pool: the IdentityId (default: an example id in the pool region)',
      },
      'custom-role-arn': {
        type: 'string',
        value: '<arn>',
        help: 'with --identity-pool: the CustomRoleArn the app sends',
      },
      config: CONFIG_FILE,
      ...AWS,
    },
    summary: 'show which mappings match these claims and why, and what the chosen one renders',
    description:
      'Shows the chosen mapping and its rendered tags, session policy and session name, against the current generation (or --config <file>); no STS call is made. With --identity-pool it resolves the provider through the pool (--logins-key or --guest), lists the mappings the pool makes reachable (its `mappings`, --custom-role-arn), stamps the IdentityId on the session, and says in words why the route would refuse. Exit 0 when a mapping is chosen, 1 when denied.',
    run: explain,
  }),
  command({
    name: 'dev-token',
    args: [],
    options: {
      sub: { type: 'string', value: '<sub>', required: true, help: 'the subject' },
      claim: {
        type: 'list',
        value: 'k=v',
        help: 'a claim; a repeated key makes a list',
      },
      issuer: {
        type: 'string',
        value: '<url>',
        default: DEFAULT_DEV_ISSUER,
        help: 'the development issuer',
      },
      'expires-in': { type: 'integer', value: '<s>', help: 'lifetime in seconds' },
    },
    summary: 'print an ID token from the development issuer that npm start runs (local only)',
    run: devToken,
  }),
  command({
    name: 'deny add',
    args: [],
    options: {
      provider: PROVIDER,
      subject: SUBJECT,
      until: {
        type: 'string',
        value: '<time|30m|2h|7d|2w>',
        help: 'an ISO 8601 time with a zone, a date (midnight UTC), or a duration from now (default: until removed)',
      },
      reason: REASON,
      ...AWS,
      ...BY,
    },
    summary: 'refuse this principal from its next request (403), whatever its token says',
    description:
      'The principal stays denied until removed or until --until. Credentials already issued stay valid until they expire; `revoke` ends them too.',
    run: deny.add,
  }),
  command({
    name: 'deny remove',
    args: [],
    options: { provider: PROVIDER, subject: SUBJECT, ...AWS },
    summary: 'lift a deny entry (sessions already revoked stay revoked)',
    run: deny.remove,
  }),
  command({
    name: 'deny list',
    args: [],
    options: { provider: PROVIDER, ...AWS },
    summary: "the deny entries of the provider's issuer; expired ones are marked",
    run: deny.list,
  }),
  command({
    name: 'saml sp-metadata',
    args: [{ name: '<provider>', help: 'a SAML provider of the config' }],
    options: {
      'base-url': {
        type: 'string',
        value: '<url>',
        help: "the API's public URL (default $TVM_PUBLIC_BASE_URL)",
      },
      config: CONFIG_FILE,
      'saml-key-parameter': {
        type: 'string',
        value: '<name>',
        help: 'the SSM parameter of the SAML signing key (default $TVM_SAML_SIGNING_KEY_PARAMETER or /tvm/<stage>/saml-signing-key)',
      },
      ...AWS,
    },
    summary: 'print the SP metadata XML to give the IdP admin (entity id, ACS URL, NameID formats)',
    description:
      'The SP entity id, ACS URL and login URL go to stderr, the XML to stdout. For a provider with signAuthnRequests it reads the signing key parameter, as the served metadata does, and says so plainly when it cannot.',
    run: spMetadata,
  }),
  command({
    name: 'saml check',
    args: [],
    options: {
      metadata: {
        type: 'string',
        value: '<url|file>',
        required: true,
        help: "the IdP's SAML metadata: its URL, or a file",
      },
      response: {
        type: 'string',
        value: '<file>',
        help: "a SAMLResponse a user captured (the browser's form post to /acs, base64; or its XML)",
      },
      provider: {
        type: 'string',
        value: '<id>',
        help: 'check against this SAML provider of the config (entity ids, certificates, attributeMap, mappings)',
      },
      config: CONFIG_FILE,
      'base-url': {
        type: 'string',
        value: '<url>',
        help: "the API's public URL, for the ACS URL (default $TVM_PUBLIC_BASE_URL)",
      },
      'posted-at': {
        type: 'string',
        value: '<time>',
        help: 'when the browser posted the response (ISO 8601), to judge the IdP clock (default: now, or its IssueInstant when older)',
      },
      'idp-initiated': {
        type: 'boolean',
        help: 'the response came from a login started at the IdP (an app tile)',
      },
      format: {
        type: 'choice',
        choices: ['text', 'json'],
        default: 'text',
        help: 'text: one line per finding with its advice; json: the report',
      },
      ...AWS,
    },
    summary: 'say what TVM would refuse about an IdP, and which IdP setting to change',
    description:
      "Reads the IdP's metadata and, optionally, a captured SAMLResponse, and runs them through the ACS's own checks: unsigned assertions, SHA-1, Issuer, Audience, Destination, clock, encryption, NameID format, attributeMap and mappings. It never vends and prints no NameID or attribute value, only names and formats. Exit 1 when TVM would refuse something.",
    run: samlCheck,
  }),
  command({
    name: 'revoke',
    args: [],
    options: {
      provider: PROVIDER,
      subject: SUBJECT,
      reason: REASON,
      'dry-run': { type: 'boolean', help: 'show what would change; change nothing' },
      prune: { type: 'boolean', help: 'drop revocations older than 12 h' },
      'iam-profile': {
        type: 'string',
        value: '<profile>',
        help: 'another AWS profile for the IAM calls (roles in another account)',
        check: (profile: string) => {
          if (profile === '') throw new UsageError('--iam-profile needs a profile name');
        },
      },
      ...AWS,
      ...BY,
    },
    summary: 'deny the principal, then end the sessions already issued to it',
    description: `Every role it could reach gets a Deny for its source identities issued before now (inline policy ${REVOKE_POLICY_NAME}). Exit 3 if any role was not covered.`,
    run: revoke,
  }),
  command({
    name: 'audit list',
    args: [],
    options: {
      provider: PROVIDER,
      subject: SUBJECT,
      since: {
        type: 'string',
        value: '<time|30m|2h|7d|2w>',
        help: 'only decisions at or after this: an ISO 8601 time with a zone, a date (midnight UTC), or a duration back from now',
      },
      outcome: {
        type: 'string',
        value: `<${AUDIT_OUTCOMES.join('|')}>`,
        help: 'only decisions with this outcome',
      },
      limit: { type: 'integer', value: 'N', default: 100, help: 'at most this many, newest first' },
      ...AWS,
    },
    summary:
      'one line per decision about the principal: time, route, outcome, reason, mapping, role, access key, request',
    description:
      "The principal is the provider's issuer plus the subject, hashed as the audit records are, through every provider entry sharing that issuer. One Query per partition on the table's keys, never a Scan.",
    run: audit.list,
  }),
  command({
    name: 'audit key',
    args: [{ name: '<access-key-id>', help: 'an access key id from CloudTrail (ASIA…)' }],
    options: { ...AWS },
    summary:
      'who got this access key: the decision that vended it, its mapping, role and SourceIdentity',
    description:
      'Reads the access-key index (byAccessKeyId), then each record it names; prints what to search CloudTrail for. Exit 1 when no record carries the key.',
    run: audit.key,
  }),
  command({
    name: 'iam role-template',
    args: [],
    options: {
      mapping: {
        type: 'string',
        value: '<id>',
        help: "this mapping's role (covering every mapping of that role)",
      },
      all: { type: 'boolean', help: 'every role of the config, one template each' },
      'tvm-role-arn': {
        type: 'string',
        value: '<arn>',
        help: "the TVM's function role, which the roles trust",
        check: checkRoleArn,
      },
      account: {
        type: 'string',
        value: '<id>',
        help: "the TVM's account: derives the function role tvm-<stage>-<region>-lambdaRole instead of --tvm-role-arn",
        check: checkAccount,
      },
      'role-path': {
        type: 'string',
        value: '<path>',
        default: DEFAULT_ROLE_PATH,
        help: "the stage's rolePath in serverless.yml: chained roles outside it are flagged",
        check: checkRolePath,
      },
      'saml-provider-arn': {
        type: 'string',
        value: '<arn>',
        help: 'the IAM SAML provider that SAML native-mode roles trust (default: a placeholder to replace)',
        check: checkSamlProviderArn,
      },
      format: {
        type: 'choice',
        choices: ['text', 'json', 'cloudformation'],
        default: 'text',
        help: 'text: both, with what each action is for; json: the templates; cloudformation: one Resources block',
      },
      config: CONFIG_FILE,
      ...AWS,
    },
    summary: "print each mapped role's trust policy (JSON) and a CloudFormation snippet",
    description:
      "The role trusts the TVM's function role with sts:AssumeRole and sts:SetSourceIdentity, plus sts:TagSession when a mapping sets tags or an identity pool reaches it, an sts:ExternalId condition when the mappings set one, and a MaxSessionDuration that fits. SAML native-mode mappings trust the IAM SAML provider (AssumeRoleWithSAML). Against the current generation or --config <file>; no AWS call otherwise.",
    run: roleTemplate,
  }),
  command({
    name: 'doctor',
    args: [],
    options: {
      'tvm-role-arn': {
        type: 'string',
        value: '<arn>',
        help: "the TVM's function role, which every chained role must trust (default: derived, see --account)",
        check: checkRoleArn,
      },
      account: {
        type: 'string',
        value: '<id>',
        help: "the TVM's account, to derive its function role tvm-<stage>-<region>-lambdaRole (default: the caller's)",
        check: checkAccount,
      },
      'role-path': {
        type: 'string',
        value: '<path>',
        default: DEFAULT_ROLE_PATH,
        help: "the stage's rolePath in serverless.yml: the only roles the functions may assume",
        check: checkRolePath,
      },
      'saml-key-parameter': {
        type: 'string',
        value: '<name>',
        help: 'the SSM parameter of the SAML signing key (default $TVM_SAML_SIGNING_KEY_PARAMETER or /tvm/<stage>/saml-signing-key)',
      },
      format: {
        type: 'choice',
        choices: ['text', 'json'],
        default: 'text',
        help: 'text: one line per check, with the fix under each failure; json: the checks',
      },
      ...AWS,
    },
    summary: 'check a deployed or local stage end to end: table, config, roles, issuers, SAML',
    description:
      "Read-only. The table and its TTL; the current config loads and validates; for every mapped role: it exists, its trust policy lets the TVM's function role call sts:AssumeRole, sts:SetSourceIdentity and (tags, identity pools) sts:TagSession, requires the sts:ExternalId a mapping sets, its MaxSessionDuration fits and its path is under --role-path (SAML native: AssumeRoleWithSAML by an IAM SAML provider); each OIDC issuer's discovery document and JWKS; each SAML signing certificate (warns 30 days before expiry); the SAML signing key parameter when requests are signed. Exit 0 when nothing fails, 1 otherwise.",
    run: doctor,
  }),
];
