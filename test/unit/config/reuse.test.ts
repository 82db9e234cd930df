import { describe, expect, it } from 'vitest';
import { validateConfig } from '#shared/config/validate.ts';
import { mapping, oidcProvider } from '../../support/config-fixtures.ts';

describe('mapping reuse config', () => {
  const config = (reuse: unknown, durationSeconds = 900) => ({
    version: 1,
    providers: [oidcProvider()],
    mappings: [mapping('m0', 1, { reuse, durationSeconds })],
  });

  it('accepts a minRemainingSeconds below the duration', () => {
    expect(validateConfig(config({ minRemainingSeconds: 300 }), { stage: 'prod' }).ok).toBe(true);
  });

  it('rejects a minRemainingSeconds that would never allow a reuse', () => {
    const result = validateConfig(config({ minRemainingSeconds: 900 }), { stage: 'prod' });
    expect(result.ok ? [] : result.problems).toMatchObject([
      {
        path: 'mappings[0].reuse.minRemainingSeconds',
        message: expect.stringMatching(/less than .* durationSeconds \(900\)/),
      },
    ]);
  });

  it.each([[{ minRemainingSeconds: 10 }], [{ minRemainingSeconds: 300, extra: true }], [{}]])(
    'rejects a malformed reuse block %j',
    (reuse) => {
      expect(validateConfig(config(reuse), { stage: 'prod' }).ok).toBe(false);
    },
  );
});
