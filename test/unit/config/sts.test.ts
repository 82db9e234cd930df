/**
 * The STS and IAM patterns that validation, rendering, revoke and the SAML role attribute share:
 * the character-only and whole-value forms differ exactly by length, and the ARN patterns
 * capture what their callers read.
 */
import { describe, expect, it } from 'vitest';
import {
  POLICY_CLAIM_CHARACTER_PATTERN,
  POLICY_CLAIM_VALUE_PATTERN,
  ROLE_ARN_PATTERN,
  SAML_PROVIDER_ARN_PATTERN,
  SESSION_NAME_CHARACTERS_PATTERN,
  SESSION_NAME_PATTERN,
  TAG_CLAIM_CHARACTER_PATTERN,
  TAG_CLAIM_VALUE_PATTERN,
} from '#shared/config/sts.ts';

describe('sts patterns', () => {
  it('tells session name characters from a whole session name by length only', () => {
    // Prepare
    const cases = ['a', 'ab', 'alice@example.com', 'x'.repeat(64), 'x'.repeat(65), 'a b', ''];

    // Act
    const results = cases.map((value) => ({
      value,
      characters: SESSION_NAME_CHARACTERS_PATTERN.test(value),
      whole: SESSION_NAME_PATTERN.test(value),
    }));

    // Assess
    for (const { value, characters, whole } of results) {
      expect(whole).toBe(characters && value.length >= 2 && value.length <= 64);
    }
    expect(SESSION_NAME_CHARACTERS_PATTERN.test('a b')).toBe(false);
    expect(SESSION_NAME_CHARACTERS_PATTERN.test('x'.repeat(65))).toBe(true);
  });

  it('gives each claim alphabet a one-character form that agrees with the value form', () => {
    // Prepare
    const characters = [...'aZ09_.@:+=,- /*?{}"\\\u00e9\u00a0\u2028', '$'];

    // Act / Assess
    for (const character of characters) {
      expect(TAG_CLAIM_CHARACTER_PATTERN.test(character)).toBe(
        TAG_CLAIM_VALUE_PATTERN.test(character),
      );
      expect(POLICY_CLAIM_CHARACTER_PATTERN.test(character)).toBe(
        POLICY_CLAIM_VALUE_PATTERN.test(character),
      );
    }
    expect(TAG_CLAIM_VALUE_PATTERN.test('')).toBe(false);
    expect(POLICY_CLAIM_VALUE_PATTERN.test('')).toBe(false);
  });

  it('captures the partition, account and name of a role ARN, whatever its path', () => {
    // Act
    const match = ROLE_ARN_PATTERN.exec('arn:aws-us-gov:iam::123456789012:role/team/a/reader');

    // Assess
    expect(match?.slice(1)).toEqual(['aws-us-gov', '123456789012', 'reader']);
    expect(ROLE_ARN_PATTERN.test('arn:aws:iam::123456789012:role/')).toBe(false);
    expect(ROLE_ARN_PATTERN.test('arn:aws:iam::123456789012:role/a b')).toBe(false);
  });

  it('accepts an IAM SAML provider ARN and nothing after its name', () => {
    // Act / Assess
    expect(SAML_PROVIDER_ARN_PATTERN.test('arn:aws:iam::123456789012:saml-provider/corp')).toBe(
      true,
    );
    expect(SAML_PROVIDER_ARN_PATTERN.test('arn:aws:iam::123456789012:saml-provider/')).toBe(false);
    expect(SAML_PROVIDER_ARN_PATTERN.test('arn:aws:iam::123456789012:role/corp')).toBe(false);
  });
});
