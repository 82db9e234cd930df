/** The config's `accounts` (the portal's aliases): shape, IAM's alias rule, one alias per account. */
import { describe, expect, it } from 'vitest';
import { configHash } from '#shared/config/store.ts';
import { validateConfig } from '#shared/config/validate.ts';
import { samlConfig } from '../../support/saml-config.ts';

function validate(accounts: unknown) {
  return validateConfig({ ...samlConfig(), accounts }, { stage: 'local' });
}

describe('config accounts', () => {
  it('accepts aliases by 12-digit account id, and defaults to none', () => {
    const result = validate({ '123456789012': { alias: 'prod' }, '210987654321': {} });
    expect(result.ok && result.config.accounts).toEqual({
      '123456789012': { alias: 'prod' },
      '210987654321': {},
    });
    const none = validateConfig(samlConfig(), { stage: 'local' });
    expect(none.ok && none.config.accounts).toEqual({});
  });

  it.each([
    ['a short id', { '12345': { alias: 'prod' } }, 'accounts'],
    [
      'an upper-case alias',
      { '123456789012': { alias: 'Prod' } },
      'accounts["123456789012"].alias',
    ],
    ['a leading hyphen', { '123456789012': { alias: '-prod' } }, 'accounts["123456789012"].alias'],
    ['two characters', { '123456789012': { alias: 'pr' } }, 'accounts["123456789012"].alias'],
    ['an unknown field', { '123456789012': { name: 'prod' } }, 'accounts["123456789012"]'],
  ])('refuses %s', (_label, accounts, path) => {
    const result = validate(accounts);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.path).join(' ')).toContain(path);
  });

  it('refuses one alias on two accounts', () => {
    const result = validate({
      '123456789012': { alias: 'prod' },
      '210987654321': { alias: 'prod' },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toContainEqual({
        path: 'accounts["210987654321"].alias',
        message:
          'duplicate account alias "prod" (also accounts["123456789012"].alias); each alias must name one account',
      });
    }
  });

  it('no accounts keeps the hash a generation had before the field existed', () => {
    const result = validate({});
    if (!result.ok) throw new Error('invalid');
    const { accounts: _accounts, ...older } = result.config;
    expect(configHash(result.config)).toBe(configHash(older as typeof result.config));
    const withAlias = validate({ '123456789012': { alias: 'prod' } });
    if (!withAlias.ok) throw new Error('invalid');
    expect(configHash(withAlias.config)).not.toBe(configHash(result.config));
  });
});
