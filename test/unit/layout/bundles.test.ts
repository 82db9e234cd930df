/**
 * What each Lambda bundle carries, read from esbuild's metafile with the options serverless.yml
 * gives serverless-esbuild: the SAML function builds no OIDC authenticator, so jose and the JWKS
 * store stay out of it; the credentials function carries no SAML code.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

async function bundleInputs(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

describe('lambda bundles', () => {
  it('the saml bundle has no jose and no OIDC authenticator', async () => {
    // Act
    const inputs = await bundleInputs('functions/saml/handler.ts');

    // Assess
    expect(
      inputs.some((input) => input.includes('xml-crypto') || input.includes('shared/saml/')),
    ).toBe(true);
    expect(inputs.filter((input) => input.includes('node_modules/jose/'))).toEqual([]);
    expect(inputs.filter((input) => /shared\/auth\/(oidc|jwks)\.ts$/.test(input))).toEqual([]);
  });

  it('the credentials bundle has jose and no SAML code (the control)', async () => {
    // Act
    const inputs = await bundleInputs('functions/credentials/handler.ts');

    // Assess
    expect(inputs.some((input) => input.includes('node_modules/jose/'))).toBe(true);
    expect(
      inputs.filter((input) => /shared\/saml\/|xml-crypto|functions\/saml\//.test(input)),
    ).toEqual([]);
  });

  it('the login bundle has neither the OIDC authenticator nor SAML response validation', async () => {
    // Act
    const inputs = await bundleInputs('functions/login/handler.ts');

    // Assess: a session is authenticated from the table, never from a token or an assertion.
    expect(inputs.some((input) => input.endsWith('shared/login/session.ts'))).toBe(true);
    expect(
      inputs.filter((input) =>
        /node_modules\/(jose|xml-crypto)\/|shared\/auth\/(oidc|jwks)\.ts$|shared\/saml\//.test(
          input,
        ),
      ),
    ).toEqual([]);
  });

  it('no Lambda bundle reaches admin code or scripts', async () => {
    for (const entry of [
      'functions/credentials/handler.ts',
      'functions/saml/handler.ts',
      'functions/health/handler.ts',
      'functions/login/handler.ts',
    ]) {
      const inputs = await bundleInputs(entry);
      expect(
        inputs.filter((input) => /shared\/admin\/|^scripts\//.test(input)),
        entry,
      ).toEqual([]);
    }
  });
});
