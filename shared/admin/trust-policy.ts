/**
 * A small evaluator of IAM role trust policies, for `tvm doctor`: would IAM let this principal
 * call this STS action on the role? It answers `allow`, `deny` (an explicit Deny), `none` (no
 * statement allows) or `unknown` with the reasons: whatever it cannot judge (an operator, a
 * condition key whose value depends on the user, NotPrincipal, policy variables) makes the answer
 * `unknown`, never `allow`, so a doctor line can only pass on a policy it fully understood.
 *
 * The rules it implements (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy
 * elements"): an explicit Deny wins over any Allow; Principal `"*"` or `{"AWS": "*"}` is anyone;
 * an account id or `:root` ARN trusts the whole account; actions match case-insensitively with
 * `*` and `?`; the keys of one condition operator, and the operators of one block, must all
 * hold; any of a key's values may match; a key absent from the request fails a positive operator
 * and passes a negated one (`StringNotEquals`), `...IfExists` passes on an absent key, and `Null`
 * tests presence.
 */

/** A condition key's value in the request: absent, present with a known value, or present only. */
export type KeyValue = { present: false } | { present: true; value?: string };

export type RequestPrincipal =
  /** An IAM role or user: matched by ARN, by its account, or by `*`. */
  | { type: 'AWS'; arn: string; account: string; partition: string }
  /** Any IAM SAML provider (AssumeRoleWithSAML): the doctor does not know which one the IdP names. */
  | { type: 'Federated'; samlProvider: true };

export interface TrustRequest {
  principal: RequestPrincipal;
  action: string;
  /** The condition keys this request is known to carry or lack; keys are case-insensitive. */
  context: Readonly<Record<string, KeyValue>>;
}

export type TrustVerdict =
  | { result: 'allow'; statement: string }
  | { result: 'deny'; statement: string }
  | { result: 'none'; notes: string[] }
  | { result: 'unknown'; why: string[] };

/** Three-valued: `undefined` is "cannot tell", with the reasons in `why`. */
interface Tri {
  value: boolean | undefined;
  why: string[];
}

const TRUE: Tri = { value: true, why: [] };
const FALSE: Tri = { value: false, why: [] };
const unknown = (why: string): Tri => ({ value: undefined, why: [why] });

/** AND: any false wins, then any unknown, then true. */
function all(parts: Tri[]): Tri {
  if (parts.some((part) => part.value === false)) return FALSE;
  const unsure = parts.filter((part) => part.value === undefined);
  if (unsure.length > 0) return { value: undefined, why: unsure.flatMap((part) => part.why) };
  return TRUE;
}

/** OR: any true wins, then any unknown, then false. */
function any(parts: Tri[]): Tri {
  if (parts.some((part) => part.value === true)) return TRUE;
  const unsure = parts.filter((part) => part.value === undefined);
  if (unsure.length > 0) return { value: undefined, why: unsure.flatMap((part) => part.why) };
  return FALSE;
}

/**
 * The document IAM's GetRole returns is URL-encoded JSON (RFC 3986); CloudFormation and the
 * console show it decoded. Accepts both; throws when it is not JSON either way.
 */
export function decodePolicyDocument(text: string): unknown {
  const trimmed = text.trim();
  return JSON.parse(trimmed.startsWith('{') ? trimmed : decodeURIComponent(trimmed));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string or a list of strings (IAM's own shorthand); undefined for anything else. */
function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) {
    return value as string[];
  }
  return undefined;
}

/** IAM's wildcard match: `*` any run, `?` one character. */
function globMatch(pattern: string, text: string, ignoreCase: boolean): boolean {
  const source = pattern
    .split(/([*?])/)
    .map((part) =>
      part === '*' ? '.*' : part === '?' ? '.' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(text);
}

const ROOT_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):root$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:/;
/** IAM writes a deleted principal's unique id in place of its ARN (AROA… roles, AIDA… users). */
const UNIQUE_ID = /^A[A-Z]{3}[A-Z0-9]{12,}$/;
const SAML_PROVIDER = /^arn:aws[a-z-]*:iam::\d{12}:saml-provider\/[\w+=,.@-]+$/;

function awsPrincipalMatches(
  value: string,
  principal: Extract<RequestPrincipal, { type: 'AWS' }>,
  notes: string[],
): Tri {
  if (value === '*') return TRUE;
  if (value === principal.arn) return TRUE;
  if (/^\d{12}$/.test(value)) return value === principal.account ? TRUE : FALSE;
  const root = ROOT_ARN.exec(value);
  if (root !== null) {
    return root[1] === principal.partition && root[2] === principal.account ? TRUE : FALSE;
  }
  if (value.includes('*') || value.includes('?')) {
    return unknown(`a wildcard in the principal ${value}`);
  }
  if (UNIQUE_ID.test(value)) {
    notes.push(
      `the policy names ${value}, the unique id IAM writes when the principal it trusted was deleted; a role created again under the same name does not match it`,
    );
    return FALSE;
  }
  if (PRINCIPAL_ARN.test(value)) {
    if (value.toLowerCase() === principal.arn.toLowerCase()) {
      return unknown(`the principal ${value} differs from ${principal.arn} only in case`);
    }
    return FALSE;
  }
  return unknown(`the principal ${JSON.stringify(value)}`);
}

function federatedMatches(value: string): Tri {
  if (value === '*' || SAML_PROVIDER.test(value)) return TRUE;
  if (value.includes('*') || value.includes('?')) {
    return unknown(`a wildcard in the principal ${value}`);
  }
  // Web identity providers (Cognito, OIDC) and the like: not an IAM SAML provider.
  return FALSE;
}

function principalMatches(
  statement: Record<string, unknown>,
  request: TrustRequest,
  notes: string[],
): Tri {
  if ('NotPrincipal' in statement) return unknown('NotPrincipal');
  const { Principal: principal } = statement;
  if (principal === '*') return TRUE;
  if (!isRecord(principal)) return unknown('a Principal that is neither "*" nor an object');
  const parts: Tri[] = [];
  for (const [type, raw] of Object.entries(principal)) {
    const values = stringList(raw);
    if (values === undefined) return unknown(`the Principal ${type} is not a string or a list`);
    if (type !== request.principal.type) continue;
    for (const value of values) {
      parts.push(
        request.principal.type === 'AWS'
          ? awsPrincipalMatches(value, request.principal, notes)
          : federatedMatches(value),
      );
    }
  }
  return any(parts);
}

function actionMatches(statement: Record<string, unknown>, action: string): Tri {
  const hasAction = 'Action' in statement;
  if (hasAction === 'NotAction' in statement)
    return unknown('a statement with Action and NotAction both or neither');
  const patterns = stringList(hasAction ? statement.Action : statement.NotAction);
  if (patterns === undefined) return unknown('an Action that is not a string or a list');
  const matched = patterns.some((pattern) => globMatch(pattern, action, true));
  return matched === hasAction ? TRUE : FALSE;
}

const OPERATORS = {
  StringEquals: { negated: false, like: false, ignoreCase: false },
  StringNotEquals: { negated: true, like: false, ignoreCase: false },
  StringEqualsIgnoreCase: { negated: false, like: false, ignoreCase: true },
  StringNotEqualsIgnoreCase: { negated: true, like: false, ignoreCase: true },
  StringLike: { negated: false, like: true, ignoreCase: false },
  StringNotLike: { negated: true, like: true, ignoreCase: false },
  // ArnEquals and ArnLike behave alike: both take wildcards (IAM condition operators reference).
  ArnEquals: { negated: false, like: true, ignoreCase: false },
  ArnLike: { negated: false, like: true, ignoreCase: false },
  ArnNotEquals: { negated: true, like: true, ignoreCase: false },
  ArnNotLike: { negated: true, like: true, ignoreCase: false },
} as const;

function conditionValues(raw: unknown): string[] | undefined {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) return undefined;
  const values: string[] = [];
  for (const value of list) {
    if (typeof value === 'string') values.push(value);
    else if (typeof value === 'number' || typeof value === 'boolean') values.push(String(value));
    else return undefined;
  }
  return values;
}

function lookup(request: TrustRequest, key: string): KeyValue | undefined {
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(request.context)) {
    if (name.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function oneCondition(operator: string, key: string, raw: unknown, request: TrustRequest): Tri {
  if (/^For(Any|All)Value:/i.test(operator)) return unknown(`the set operator ${operator}`);
  const values = conditionValues(raw);
  if (values === undefined) return unknown(`the values of ${operator} ${key}`);
  if (values.some((value) => value.includes('${'))) {
    return unknown(`a policy variable in ${operator} ${key}`);
  }
  const ifExists = operator.endsWith('IfExists');
  const base = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const seen = lookup(request, key);
  if (seen === undefined) return unknown(`a condition on ${key}, which depends on the request`);
  if (base === 'Null' && !ifExists) {
    const wantsAbsent = values.map((value) => value.toLowerCase());
    if (!wantsAbsent.every((value) => value === 'true' || value === 'false')) {
      return unknown(`Null ${key} with a value other than true or false`);
    }
    const absent = String(!seen.present);
    return wantsAbsent.some((value) => value === absent) ? TRUE : FALSE;
  }
  if (!Object.hasOwn(OPERATORS, base)) return unknown(`the condition operator ${operator}`);
  const spec = OPERATORS[base as keyof typeof OPERATORS];
  if (!seen.present) return ifExists || spec.negated ? TRUE : FALSE;
  if (seen.value === undefined) return unknown(`a condition on ${key}, whose value varies`);
  const actual = seen.value;
  const matched = values.some((value) =>
    spec.like
      ? globMatch(value, actual, spec.ignoreCase)
      : spec.ignoreCase
        ? value.toLowerCase() === actual.toLowerCase()
        : value === actual,
  );
  return matched !== spec.negated ? TRUE : FALSE;
}

function conditionMatches(statement: Record<string, unknown>, request: TrustRequest): Tri {
  if (!('Condition' in statement)) return TRUE;
  const { Condition: block } = statement;
  if (!isRecord(block)) return unknown('a Condition that is not an object');
  const parts: Tri[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    if (!isRecord(keys)) return unknown(`the Condition ${operator} is not an object`);
    for (const [key, raw] of Object.entries(keys)) {
      parts.push(oneCondition(operator, key, raw, request));
    }
  }
  return all(parts);
}

const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Condition',
]);

/** Evaluates one request against a parsed trust policy document. */
export function evaluateTrust(policy: unknown, request: TrustRequest): TrustVerdict {
  if (!isRecord(policy)) return { result: 'unknown', why: ['the policy is not a JSON object'] };
  const extra = Object.keys(policy).filter((key) => !['Version', 'Id', 'Statement'].includes(key));
  if (extra.length > 0) return { result: 'unknown', why: [`the policy element ${extra[0]}`] };
  if (
    policy.Version !== undefined &&
    !['2012-10-17', '2008-10-17'].includes(String(policy.Version))
  ) {
    return { result: 'unknown', why: [`the policy Version ${String(policy.Version)}`] };
  }
  const statements = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  const allows: { label: string; tri: Tri }[] = [];
  const denies: { label: string; tri: Tri }[] = [];
  const notes: string[] = [];
  for (const [index, statement] of statements.entries()) {
    if (!isRecord(statement))
      return { result: 'unknown', why: [`statement ${index + 1} is not an object`] };
    const label =
      typeof statement.Sid === 'string' && statement.Sid !== ''
        ? statement.Sid
        : `statement ${index + 1}`;
    const extraKey = Object.keys(statement).find((key) => !STATEMENT_KEYS.has(key));
    // Resource is refused in trust policies by IAM; whatever it is, this evaluator does not model it.
    const tri =
      extraKey !== undefined
        ? actionMatches(statement, request.action).value === false
          ? FALSE
          : unknown(`${label} has ${extraKey}`)
        : all([
            actionMatches(statement, request.action),
            principalMatches(statement, request, notes),
            conditionMatches(statement, request),
          ]);
    if (statement.Effect === 'Allow') allows.push({ label, tri });
    else if (statement.Effect === 'Deny') denies.push({ label, tri });
    else if (tri.value !== false) {
      return {
        result: 'unknown',
        why: [`${label} has the Effect ${JSON.stringify(statement.Effect)}`],
      };
    }
  }
  const denied = denies.find((deny) => deny.tri.value === true);
  if (denied !== undefined) return { result: 'deny', statement: denied.label };
  const allowed = allows.find((allow) => allow.tri.value === true);
  const unsureDenies = denies.filter((deny) => deny.tri.value === undefined);
  if (allowed !== undefined) {
    if (unsureDenies.length === 0) return { result: 'allow', statement: allowed.label };
    return {
      result: 'unknown',
      why: unsureDenies.map(
        (deny) => `whether Deny ${deny.label} applies (${deny.tri.why.join('; ')})`,
      ),
    };
  }
  const unsureAllows = allows.filter((allow) => allow.tri.value === undefined);
  if (unsureAllows.length > 0) {
    return {
      result: 'unknown',
      why: unsureAllows.map(
        (allow) => `whether ${allow.label} applies (${allow.tri.why.join('; ')})`,
      ),
    };
  }
  return { result: 'none', notes };
}
