import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Claims } from '#shared/auth/identity.ts';
import type { ClaimType, ClaimTypes } from '#shared/config/claims.ts';
import { type Condition, ConditionSchema, type MatchNode } from '#shared/config/schema.ts';
import { evaluateMatch, globMatches, type MatchResult, traceMatch } from '#shared/mapping/match.ts';
import { identityOf } from './support.ts';

const TYPES: Record<string, ClaimType> = Object.fromEntries(
  Object.entries({
    sub: 'string',
    email: 'string',
    email_verified: 'string',
    age: 'string',
    tenant: 'string',
    groups: 'list',
    empty: 'list',
    roles: 'list',
    constructor: 'string',
    ['__proto__']: 'string',
    toString: 'string',
    hasOwnProperty: 'string',
  } as Record<string, ClaimType>),
);
const typeOf: ClaimTypes = (name) => (Object.hasOwn(TYPES, name) ? TYPES[name] : undefined);

const claims = identityOf({
  sub: 'user-1',
  email: 'alice@example.com',
  groups: ['readers', 'data-admins', 'ops'],
  roles: 'data-admins',
  empty: [],
  email_verified: true,
  age: 42,
}).claims;

const condition = (claim: string, op: string, value?: unknown): Condition =>
  ConditionSchema.parse(value === undefined ? { claim, op } : { claim, op, value });

const evaluate = (node: MatchNode, from: Claims = claims): MatchResult =>
  evaluateMatch(node, from, typeOf);

describe('match conditions', () => {
  it.each<[string, Condition, MatchResult]>([
    ['equals is case-sensitive', condition('sub', 'equals', 'USER-1'), false],
    ['glob is anchored at the end', condition('email', 'glob', '*@example.co'), false],
    ['glob is anchored at the start', condition('email', 'glob', 'lice@*'), false],
    ['glob ? is exactly one character', condition('sub', 'glob', 'user-?'), true],
    ['startsWith does not match inside', condition('email', 'startsWith', 'example'), false],
    [
      'includesSubstring is the substring test',
      condition('email', 'includesSubstring', '@example.'),
      true,
    ],
    ['contains on a list is element equality', condition('groups', 'contains', 'ops'), true],
    ['contains on a list is never a substring', condition('groups', 'contains', 'admin'), false],
    ['a single string is a one-element list', condition('roles', 'contains', 'data-admins'), true],
    ['a single string is never a substring', condition('roles', 'contains', 'data'), false],
    [
      'a boolean string claim is its JSON text',
      condition('email_verified', 'equals', 'true'),
      true,
    ],
    ['a boolean is not "True"', condition('email_verified', 'equals', 'True'), false],
    ['a number string claim is its JSON text', condition('age', 'in', ['41', '42']), true],
    ['a number is not 42.0', condition('age', 'equals', '42.0'), false],
    [
      'an undeclared claim refuses, even absent',
      condition('department', 'exists', false),
      'malformed',
    ],
    [
      'a list operator on a string claim refuses',
      condition('sub', 'contains', 'user'),
      'malformed',
    ],
    [
      'a string operator on a list claim refuses',
      condition('groups', 'equals', 'ops'),
      'malformed',
    ],
  ])('%s', (_name, node, expected) => {
    // Act
    const result = evaluate(node);

    // Assess
    expect(result).toBe(expected);
  });

  it('a user in one group and a user in several decide the same way', () => {
    // Prepare: the same group as a bare string (one AttributeValue) and as a one-element list.
    const single = identityOf({ sub: 'u', groups: 'aws-admins-requests' }).claims;
    const list = identityOf({ sub: 'u', groups: ['aws-admins-requests'] }).claims;
    const rule = condition('groups', 'contains', 'aws-admins');

    // Act / Assess: the docs' own idiom is element equality, never a substring test.
    expect(evaluate(rule, single)).toBe(false);
    expect(evaluate(rule, list)).toBe(false);
    expect(evaluate(condition('groups', 'contains', 'aws-admins-requests'), single)).toBe(true);
  });

  it('reports which list element decided the result', () => {
    // Act
    const contains = traceMatch(condition('groups', 'contains', 'ops'), claims, typeOf);
    const any = traceMatch(condition('groups', 'containsAny', ['x', 'readers']), claims, typeOf);

    // Assess
    expect(contains).toMatchObject({ result: true, claim: 'list', length: 3, element: 2 });
    expect(any).toMatchObject({ result: true, claim: 'list', element: 0 });
  });

  it.each<[string, unknown]>([
    ['a number inside a list', ['contractors', 1]],
    ['an object', { contractors: true }],
    ['null', null],
    ['a nested list', [['contractors']]],
  ])('a list claim holding %s is malformed, never missing, under any not', (_name, value) => {
    // Prepare: the finding: `not contains contractors` read a wrong-typed claim as missing.
    const odd = identityOf({ sub: 'u', groups: value }).claims;
    const notContractor: MatchNode = { not: condition('groups', 'contains', 'contractors') };

    // Act / Assess
    expect(evaluate(notContractor, odd)).toBe('malformed');
    expect(evaluate({ not: notContractor }, odd)).toBe('malformed');
    expect(evaluate({ any: [condition('sub', 'equals', 'u'), notContractor] }, odd)).toBe(
      'malformed',
    );
    expect(evaluate(condition('groups', 'exists', false), odd)).toBe('malformed');
    expect(traceMatch(notContractor, odd, typeOf)).toMatchObject({
      result: 'malformed',
      child: { claim: 'malformed' },
    });
  });

  it.each<[string, unknown]>([
    ['a list', ['acme']],
    ['an object', { name: 'acme' }],
    ['null', null],
  ])('a string claim holding %s is malformed', (_name, value) => {
    const odd = identityOf({ sub: 'u', tenant: value }).claims;
    expect(evaluate(condition('tenant', 'equals', 'acme'), odd)).toBe('malformed');
    expect(evaluate({ not: condition('tenant', 'exists') }, odd)).toBe('malformed');
  });
});

/** One row of the operator table in docs/configuration.md. */
interface TableRow {
  type: ClaimType;
  condition: Condition;
  cells: Record<'present' | 'missing' | 'malformed' | 'emptyList' | 'emptyString', MatchResult>;
}

/** Reads the operator × claim state table between its markers in docs/configuration.md. */
function operatorTable(): TableRow[] {
  const text = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  const start = text.indexOf('<!-- operator-table:start -->');
  const end = text.indexOf('<!-- operator-table:end -->');
  const cell = (value: string): MatchResult => {
    if (value === 'refuse') return 'malformed';
    if (value === 'true' || value === 'false') return value === 'true';
    throw new Error(`unknown cell ${value}`);
  };
  return text
    .slice(start, end)
    .split('\n')
    .filter((line) => /^\| (string|list) /.test(line))
    .map((line) => {
      const [type, spec, present, missing, malformed, emptyList, emptyString] = line
        .split('|')
        .slice(1, -1)
        .map((part) => part.trim());
      const [op, ...rest] = (spec ?? '').replaceAll('`', '').split(' ');
      const argument = rest.join(' ');
      const value =
        argument === ''
          ? undefined
          : argument === 'false'
            ? false
            : argument.startsWith('[')
              ? argument.slice(1, -1).split(', ')
              : argument;
      return {
        type: type as ClaimType,
        condition: condition('claim', op ?? '', value),
        cells: {
          present: cell(present ?? ''),
          missing: cell(missing ?? ''),
          malformed: cell(malformed ?? ''),
          emptyList: cell(emptyList ?? ''),
          emptyString: cell(emptyString ?? ''),
        },
      };
    });
}

describe('the operator table in docs/configuration.md', () => {
  const rows = operatorTable();
  const states = {
    string: { present: 'acme', malformed: ['acme'] },
    list: { present: ['admins', 'ops'], malformed: ['admins', 1] },
  } as const;

  it('covers every operator of both types', () => {
    const ops = new Set(rows.map((row) => `${row.type} ${row.condition.op}`));
    expect([...ops].sort()).toEqual(
      [
        'list contains',
        'list containsAll',
        'list containsAny',
        'list exists',
        'string equals',
        'string exists',
        'string glob',
        'string in',
        'string includesSubstring',
        'string notEquals',
        'string startsWith',
      ].sort(),
    );
  });

  it.each(
    rows.flatMap((row) =>
      Object.entries(row.cells).map(([state, expected]) => ({ row, state, expected })),
    ),
  )(
    '$row.type $row.condition.op $row.condition.value on $state is $expected',
    ({ row, state, expected }) => {
      // Prepare
      const types: ClaimTypes = (name) => (name === 'claim' ? row.type : undefined);
      const values: Record<string, unknown> = {
        present: states[row.type].present,
        malformed: states[row.type].malformed,
        emptyList: [],
        emptyString: '',
      };
      const input = identityOf(
        state === 'missing' ? { sub: 'u' } : { sub: 'u', claim: values[state] },
      ).claims;

      // Act
      const direct = evaluateMatch(row.condition, input, types);
      const negated = evaluateMatch({ not: row.condition }, input, types);

      // Assess: and `not` inverts true/false but never a refusal.
      expect(direct).toBe(expected);
      expect(negated).toBe(expected === 'malformed' ? 'malformed' : !expected);
    },
  );
});

describe('match trees', () => {
  const yes = condition('sub', 'equals', 'user-1');
  const no = condition('sub', 'equals', 'user-2');

  it.each<[string, MatchNode, MatchResult]>([
    ['all true', { all: [yes, yes] }, true],
    ['all with one false', { all: [yes, no] }, false],
    ['any with one true', { any: [no, yes] }, true],
    ['any all false', { any: [no, no] }, false],
    ['not false', { not: no }, true],
    ['not true', { not: yes }, false],
    ['nested', { all: [yes, { any: [no, { not: no }] }] }, true],
    ['not on a missing claim inverts false', { not: condition('tenant', 'equals', 'x') }, true],
  ])('%s', (_name, node, expected) => {
    expect(evaluate(node)).toBe(expected);
  });

  it('traces every condition, without short-circuiting', () => {
    // Act
    const trace = traceMatch({ any: [yes, { not: no }] }, claims, typeOf);

    // Assess
    expect(trace).toEqual({
      kind: 'any',
      result: true,
      children: [
        { kind: 'condition', result: true, condition: yes, claim: 'string' },
        {
          kind: 'not',
          result: true,
          child: { kind: 'condition', result: false, condition: no, claim: 'string' },
        },
      ],
    });
  });
});

describe('__proto__ and constructor claims', () => {
  it('an inherited property is never a claim', () => {
    // Prepare: a claims record whose prototype carries values (prototype pollution).
    const polluted = Object.create({ groups: ['admins'], tenant: 'admin' }) as Claims;

    // Act / Assess
    expect(evaluate(condition('groups', 'contains', 'admins'), polluted)).toBe(false);
    expect(evaluate(condition('tenant', 'equals', 'admin'), polluted)).toBe(false);
    expect(evaluate(condition('tenant', 'exists'), polluted)).toBe(false);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    '"%s" is absent unless the token literally carries it',
    (name) => {
      // Prepare: a plain object, where these names resolve to Object.prototype members.
      const plain = { sub: 'user-1' } as Claims;

      // Act / Assess
      expect(evaluate(condition(name, 'exists'), plain)).toBe(false);
      expect(evaluate(condition(name, 'glob', '*'), plain)).toBe(false);
      expect(evaluate(condition(name, 'notEquals', 'x'), plain)).toBe(false);
      expect(evaluate(condition(name, 'exists', false), plain)).toBe(true);
    },
  );

  it('a token that sets __proto__ gets a plain claim, and cannot inject other claims', () => {
    // Prepare: what JSON.parse makes of a hostile payload.
    const identity = identityOf(
      JSON.parse('{"sub":"u","__proto__":{"groups":["admins"]},"constructor":"admins"}'),
    );
    const stringProto = identityOf(JSON.parse('{"sub":"u","__proto__":"admins"}'));

    // Act / Assess
    expect(evaluate(condition('groups', 'contains', 'admins'), identity.claims)).toBe(false);
    expect(evaluate(condition('__proto__', 'exists'), identity.claims)).toBe('malformed');
    expect(evaluate(condition('constructor', 'equals', 'admins'), identity.claims)).toBe(true);
    expect(evaluate(condition('constructor', 'equals', 'x'), identity.claims)).toBe(false);
    expect(evaluate(condition('__proto__', 'equals', 'admins'), stringProto.claims)).toBe(true);
    expect(evaluate(condition('groups', 'exists'), stringProto.claims)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: the matcher against a small reference model written here, from the docs' words.

const NAMES = { string: ['s1', 's2'], list: ['l1', 'l2'] } as const;
const MODEL_TYPES: ClaimTypes = (name) =>
  (NAMES.string as readonly string[]).includes(name)
    ? 'string'
    : (NAMES.list as readonly string[]).includes(name)
      ? 'list'
      : undefined;

/** A small pool, so that conditions do match; plus empty, long and non-ASCII values. */
const word = fc.constantFrom('a', 'b', 'ab', 'A', '', 'ü', 'a*b', '😀', 'x'.repeat(300));
const claimValue = fc.oneof(
  word,
  fc.array(word, { maxLength: 4 }),
  fc.array(fc.oneof(word, fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 4 }),
  fc.dictionary(fc.constantFrom('a', 'b'), word, { maxKeys: 2 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.array(word, { maxLength: 2 }), { minLength: 1, maxLength: 2 }),
);
const claimsArbitrary = fc.record(
  { s1: claimValue, s2: claimValue, l1: claimValue, l2: claimValue },
  { requiredKeys: [] },
);
const stringCondition = fc.oneof(
  fc.record({
    claim: fc.constantFrom(...NAMES.string),
    op: fc.constantFrom('equals', 'notEquals', 'startsWith', 'includesSubstring', 'glob'),
    value: word,
  }),
  fc.record({
    claim: fc.constantFrom(...NAMES.string),
    op: fc.constant('in'),
    value: fc.array(word, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    claim: fc.constantFrom(...NAMES.string),
    op: fc.constant('exists'),
    value: fc.boolean(),
  }),
);
const listCondition = fc.oneof(
  fc.record({ claim: fc.constantFrom(...NAMES.list), op: fc.constant('contains'), value: word }),
  fc.record({
    claim: fc.constantFrom(...NAMES.list),
    op: fc.constantFrom('containsAny', 'containsAll'),
    value: fc.array(word, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    claim: fc.constantFrom(...NAMES.list),
    op: fc.constant('exists'),
    value: fc.boolean(),
  }),
);
const { tree } = fc.letrec<{ tree: MatchNode }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.oneof(stringCondition, listCondition) as fc.Arbitrary<MatchNode>,
    fc.record({ all: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('tree') }),
  ),
}));

type ModelValue = { ok: true; value: string | string[] } | { ok: false } | undefined;

/** The model's reading of a claim: the docs' "Typed claims" rules, written independently. */
function modelRead(input: Record<string, unknown>, name: string): ModelValue {
  if (!(name in input)) return undefined;
  const value = input[name];
  if (MODEL_TYPES(name) === 'string') {
    if (typeof value === 'string') return { ok: true, value };
    if (typeof value === 'number' || typeof value === 'boolean')
      return { ok: true, value: JSON.stringify(value) };
    return { ok: false };
  }
  if (typeof value === 'string') return { ok: true, value: [value] };
  if (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    return { ok: true, value };
  return { ok: false };
}

function conditionsOf(node: MatchNode): Condition[] {
  if ('all' in node) return node.all.flatMap(conditionsOf);
  if ('any' in node) return node.any.flatMap(conditionsOf);
  if ('not' in node) return conditionsOf(node.not);
  return [node];
}

function modelHolds(node: MatchNode, input: Record<string, unknown>): boolean {
  if ('all' in node) return node.all.every((child) => modelHolds(child, input));
  if ('any' in node) return node.any.some((child) => modelHolds(child, input));
  if ('not' in node) return !modelHolds(node.not, input);
  const read = modelRead(input, node.claim);
  if (read === undefined) return node.op === 'exists' && node.value === false;
  if (!read.ok) throw new Error('unreachable: malformed trees are decided before');
  const { value } = read;
  switch (node.op) {
    case 'exists':
      return node.value;
    case 'equals':
      return value === node.value;
    case 'notEquals':
      return value !== node.value;
    case 'in':
      return node.value.some((candidate) => candidate === value);
    case 'startsWith':
      return (value as string).slice(0, node.value.length) === node.value;
    case 'includesSubstring':
      return (value as string).indexOf(node.value) !== -1;
    case 'glob':
      return new RegExp(
        `^${[...node.value].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`,
        'su',
      ).test(value as string);
    case 'contains':
      return (value as string[]).some((item) => item === node.value);
    case 'containsAny':
      return (value as string[]).some((item) => node.value.includes(item));
    case 'containsAll':
      return node.value.every((wanted) => (value as string[]).includes(wanted));
  }
}

function model(node: MatchNode, input: Record<string, unknown>): MatchResult {
  const malformed = conditionsOf(node).some((c) => modelRead(input, c.claim)?.ok === false);
  return malformed ? 'malformed' : modelHolds(node, input);
}

describe('the matcher against a reference model (fast-check)', () => {
  it('no malformed claim ever yields a match, and every well-formed input agrees with the model', () => {
    fc.assert(
      fc.property(claimsArbitrary, tree, (raw, node) => {
        const input = identityOf({ sub: 'u', ...raw }).claims;
        const actual = evaluateMatch(node, input, MODEL_TYPES);
        const expected = model(node, raw as Record<string, unknown>);
        const readsMalformed = conditionsOf(node).some(
          (c) => modelRead(raw as Record<string, unknown>, c.claim)?.ok === false,
        );
        if (readsMalformed && actual !== 'malformed') return false;
        return actual === expected;
      }),
      { numRuns: 3000, seed: 20261202 },
    );
  });
});

describe('globMatches', () => {
  it.each<[string, string, boolean]>([
    ['', '', true],
    ['', 'a', false],
    ['*', '', true],
    ['*', 'anything at all', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['*a', 'banana', true],
    ['??', 'ab', true],
    ['??', 'abc', false],
    ['?', '😀', true], // one code point, not one UTF-16 unit
    ['.*', 'ab', false], // regex syntax is literal
    ['a.c', 'abc', false],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['(a|b)', 'a', false],
    ['^a$', 'a', false],
    ['a\\*', 'a\\xyz', true], // no escapes: backslash is literal, * still a wildcard
    ['a+', 'aa', false],
    ['a+', 'a+', true],
  ])('glob %j against %j is %s', (pattern, value, expected) => {
    expect(globMatches(pattern, value)).toBe(expected);
  });

  it('stays fast on patterns that make regex engines backtrack', () => {
    // Prepare
    const pattern = `${'*a'.repeat(30)}b`;
    const value = 'a'.repeat(5000);

    // Act
    const started = performance.now();
    const result = globMatches(pattern, value);

    // Assess
    expect(result).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
