import { describe, expect, it } from 'vitest';
import type { Claims } from '#shared/auth/identity.ts';
import { type Condition, ConditionSchema, type MatchNode } from '#shared/config/schema.ts';
import { evaluateMatch, globMatches, traceMatch } from '#shared/mapping/match.ts';
import { identityOf } from './support.ts';

const claims = identityOf({
  sub: 'user-1',
  email: 'alice@example.com',
  groups: ['readers', 'data-admins', 'ops'],
  empty: [],
  email_verified: true,
  age: 42,
  ratio: 1.5,
}).claims;

const condition = (claim: string, op: string, value?: unknown): Condition =>
  ConditionSchema.parse(value === undefined ? { claim, op } : { claim, op, value });

describe('match conditions', () => {
  it.each<[string, Condition, boolean]>([
    // equals
    ['equals on a string', condition('sub', 'equals', 'user-1'), true],
    ['equals is case-sensitive', condition('sub', 'equals', 'USER-1'), false],
    ['equals on a list: any element', condition('groups', 'equals', 'ops'), true],
    ['equals on a list: no element', condition('groups', 'equals', 'data'), false],
    ['equals on a missing claim', condition('tenant', 'equals', ''), false],
    // notEquals
    ['notEquals on a different string', condition('sub', 'notEquals', 'user-2'), true],
    ['notEquals on the same string', condition('sub', 'notEquals', 'user-1'), false],
    ['notEquals on a list: no element equals', condition('groups', 'notEquals', 'admins'), true],
    ['notEquals on a list: one element equals', condition('groups', 'notEquals', 'ops'), false],
    ['notEquals on an empty list', condition('empty', 'notEquals', 'ops'), true],
    ['notEquals on a missing claim is false', condition('tenant', 'notEquals', 'x'), false],
    // startsWith
    ['startsWith on a string', condition('email', 'startsWith', 'alice@'), true],
    ['startsWith does not match inside', condition('email', 'startsWith', 'example'), false],
    ['startsWith on a list', condition('groups', 'startsWith', 'data-'), true],
    ['startsWith on a missing claim', condition('tenant', 'startsWith', ''), false],
    // contains
    ['contains: substring of a string', condition('email', 'contains', '@example.'), true],
    ['contains: not a substring', condition('email', 'contains', 'bob'), false],
    ['contains on a list: an equal element', condition('groups', 'contains', 'ops'), true],
    ['contains on a list: never a substring', condition('groups', 'contains', 'admin'), false],
    ['contains on an empty list', condition('empty', 'contains', 'ops'), false],
    // glob
    ['glob suffix', condition('email', 'glob', '*@example.com'), true],
    ['glob is anchored at the end', condition('email', 'glob', '*@example.co'), false],
    ['glob is anchored at the start', condition('email', 'glob', 'lice@*'), false],
    ['glob ? is exactly one character', condition('sub', 'glob', 'user-?'), true],
    ['glob ? is not zero characters', condition('sub', 'glob', 'user-1?'), false],
    ['glob on a list: any element', condition('groups', 'glob', 'data-*'), true],
    ['glob on a list: no element', condition('groups', 'glob', '*-readers'), false],
    ['glob on a missing claim', condition('tenant', 'glob', '*'), false],
    // in
    ['in: one of the values', condition('sub', 'in', ['user-0', 'user-1']), true],
    ['in: none of the values', condition('sub', 'in', ['user-0', 'user-2']), false],
    ['in on a list: any element', condition('groups', 'in', ['ops', 'support']), true],
    ['in on a list: no element', condition('groups', 'in', ['support']), false],
    ['in on a missing claim', condition('tenant', 'in', ['']), false],
    // exists
    ['exists on a string', condition('sub', 'exists'), true],
    ['exists on an empty list', condition('empty', 'exists', true), true],
    ['exists on a missing claim', condition('tenant', 'exists', true), false],
    ['exists false on a missing claim', condition('tenant', 'exists', false), true],
    ['exists false on a present claim', condition('sub', 'exists', false), false],
    // numbers and booleans compare as their JSON text
    ['a boolean equals "true"', condition('email_verified', 'equals', 'true'), true],
    ['a boolean is not "True"', condition('email_verified', 'equals', 'True'), false],
    ['a boolean notEquals "false"', condition('email_verified', 'notEquals', 'false'), true],
    ['a number equals its text', condition('age', 'equals', '42'), true],
    ['a number in a list of texts', condition('ratio', 'in', ['1.5', '2']), true],
    ['a number glob', condition('age', 'glob', '4?'), true],
    ['a number is not 42.0', condition('age', 'equals', '42.0'), false],
  ])('%s', (_name, node, expected) => {
    // Act
    const result = evaluateMatch(node, claims);

    // Assess
    expect(result).toBe(expected);
  });

  it('reports which list element decided the result', () => {
    // Act
    const contains = traceMatch(condition('groups', 'contains', 'ops'), claims);
    const notEquals = traceMatch(condition('groups', 'notEquals', 'data-admins'), claims);

    // Assess
    expect(contains).toMatchObject({ result: true, claim: 'list', length: 3, element: 2 });
    expect(notEquals).toMatchObject({ result: false, claim: 'list', element: 1 });
  });

  it('treats a claim of a type it does not know as absent', () => {
    // Prepare: claims are typed by toClaims, but a caller could hand over anything.
    const odd = Object.assign(Object.create(null), {
      nested: { a: 'b' },
      mixed: ['a', 1],
      nan: Number.NaN,
    }) as Claims;

    // Act / Assess
    for (const name of ['nested', 'mixed', 'nan']) {
      expect(evaluateMatch(condition(name, 'exists'), odd)).toBe(false);
      expect(evaluateMatch(condition(name, 'exists', false), odd)).toBe(true);
      expect(evaluateMatch(condition(name, 'notEquals', 'x'), odd)).toBe(false);
    }
  });
});

describe('match trees', () => {
  const yes = condition('sub', 'equals', 'user-1');
  const no = condition('sub', 'equals', 'user-2');

  it.each<[string, MatchNode, boolean]>([
    ['all true', { all: [yes, yes] }, true],
    ['all with one false', { all: [yes, no] }, false],
    ['any with one true', { any: [no, yes] }, true],
    ['any all false', { any: [no, no] }, false],
    ['not false', { not: no }, true],
    ['not true', { not: yes }, false],
    ['nested', { all: [yes, { any: [no, { not: no }] }] }, true],
    ['not on a missing claim inverts false', { not: condition('tenant', 'equals', 'x') }, true],
  ])('%s', (_name, node, expected) => {
    expect(evaluateMatch(node, claims)).toBe(expected);
  });

  it('traces every condition, without short-circuiting', () => {
    // Act
    const trace = traceMatch({ any: [yes, { not: no }] }, claims);

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
    const polluted = Object.create({ groups: ['admins'], role: 'admin' }) as Claims;

    // Act / Assess
    expect(evaluateMatch(condition('groups', 'contains', 'admins'), polluted)).toBe(false);
    expect(evaluateMatch(condition('role', 'equals', 'admin'), polluted)).toBe(false);
    expect(evaluateMatch(condition('role', 'exists'), polluted)).toBe(false);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    '"%s" is absent unless the token literally carries it',
    (name) => {
      // Prepare: a plain object, where these names resolve to Object.prototype members.
      const plain = { sub: 'user-1' } as Claims;

      // Act / Assess
      expect(evaluateMatch(condition(name, 'exists'), plain)).toBe(false);
      expect(evaluateMatch(condition(name, 'glob', '*'), plain)).toBe(false);
      expect(evaluateMatch(condition(name, 'notEquals', 'x'), plain)).toBe(false);
      expect(evaluateMatch(condition(name, 'exists', false), plain)).toBe(true);
    },
  );

  it('a token that sets __proto__ gets a plain claim, and cannot inject other claims', () => {
    // Prepare: what JSON.parse makes of a hostile payload.
    const identity = identityOf(
      JSON.parse('{"sub":"u","__proto__":{"groups":["admins"]},"constructor":"admins"}'),
    );
    const stringProto = identityOf(JSON.parse('{"sub":"u","__proto__":"admins"}'));

    // Act / Assess
    expect(evaluateMatch(condition('groups', 'contains', 'admins'), identity.claims)).toBe(false);
    expect(evaluateMatch(condition('__proto__', 'exists'), identity.claims)).toBe(false);
    expect(evaluateMatch(condition('constructor', 'equals', 'admins'), identity.claims)).toBe(true);
    expect(evaluateMatch(condition('constructor', 'equals', 'x'), identity.claims)).toBe(false);
    expect(evaluateMatch(condition('__proto__', 'equals', 'admins'), stringProto.claims)).toBe(
      true,
    );
    expect(evaluateMatch(condition('groups', 'exists'), stringProto.claims)).toBe(false);
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
