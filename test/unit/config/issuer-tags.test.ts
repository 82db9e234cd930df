/**
 * The default SourceIdentity tells issuers apart by 8 hex of SHA-256 of the issuer. A real
 * collision costs ~2^32 hashes to find, so the tag function is replaced here by one that
 * collides on purpose; validation must refuse two distinct issuers that share a tag.
 */
import { describe, expect, it, vi } from 'vitest';
import { validateConfig } from '#shared/config/validate.ts';
import { CERTIFICATE_VALID_AT, oidcProvider } from '../../fixtures/config/documents.ts';

vi.mock('#shared/auth/principal.ts', async (original) => ({
  ...(await original<typeof import('#shared/auth/principal.ts')>()),
  issuerTag: () => 'deadbeef',
}));

const validate = (providers: Record<string, unknown>[]) =>
  validateConfig(
    { version: 1, providers, mappings: [] },
    { stage: 'prod', now: CERTIFICATE_VALID_AT },
  );

describe('issuer tags', () => {
  it('refuses two distinct issuers whose tags collide, naming the field', () => {
    // Act
    const result = validate([
      oidcProvider(),
      oidcProvider({ id: 'other', issuer: 'https://other.example.com' }),
    ]);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      {
        path: 'providers[1].issuer',
        message: expect.stringContaining(
          'its issuer tag "deadbeef" (first 8 hex of SHA-256, used in default SourceIdentity values) equals that of providers[0], another issuer',
        ),
      },
    ]);
  });

  it('accepts two provider entries of one issuer (one tag, one principal namespace)', () => {
    const result = validate([oidcProvider(), oidcProvider({ id: 'mobile2', audiences: ['c2'] })]);
    expect(result.ok).toBe(true);
  });
});
