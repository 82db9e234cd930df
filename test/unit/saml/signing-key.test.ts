/**
 * The SP signing key loader against a fake SSM and a fake clock: a parameter created after a
 * signed login failed closed is used by the next login at most 30 s later, while a key that was
 * found is kept for the whole TTL (rotation within minutes, one SSM call per container).
 */
import { type GetParameterCommand, ParameterNotFound, type SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { MISSING_KEY_RETRY_MS, ssmSigningKey } from '#shared/saml/signing-key.ts';
import { fixtureText, startSamlHarness } from '../../support/saml-harness.ts';

const NAME = '/tvm/local/saml-signing-key';
const PAIR = {
  privateKey: fixtureText('keys/attacker.key'),
  certificate: fixtureText('keys/attacker.crt'),
};

/** Parameter Store with one parameter that may or may not exist yet; counts GetParameter calls. */
function fakeSsm() {
  const store = new Map<string, string>();
  let calls = 0;
  const client = {
    async send(command: GetParameterCommand) {
      calls += 1;
      const value = store.get(command.input.Name ?? '');
      if (value === undefined) {
        throw new ParameterNotFound({ message: 'ParameterNotFound', $metadata: {} });
      }
      return { Parameter: { Name: command.input.Name, Value: value } };
    },
  };
  return {
    client: client as unknown as SSMClient,
    create: () => store.set(NAME, JSON.stringify(PAIR)),
    calls: () => calls,
  };
}

describe('saml signing key: a missing parameter', () => {
  it('is read again on the first use after 30 s, and then found', async () => {
    // Prepare
    const ssm = fakeSsm();
    let clock = 1_000_000;
    const load = ssmSigningKey(ssm.client, NAME, { ttlMs: 300_000, now: () => clock });
    // Act / Assess: absent, and believed absent for a while (no SSM call per login)
    expect(await load()).toBeUndefined();
    ssm.create();
    clock += 10_000;
    expect(await load()).toBeUndefined();
    expect(ssm.calls()).toBe(1);
    // Within 30 s of the first read, the next use reads it again and finds it.
    clock = 1_000_000 + MISSING_KEY_RETRY_MS;
    expect(await load()).toEqual(PAIR);
    expect(ssm.calls()).toBe(2);
    expect(MISSING_KEY_RETRY_MS).toBeLessThanOrEqual(30_000);
  });

  it('keeps a key it found for the whole TTL', async () => {
    const ssm = fakeSsm();
    ssm.create();
    let clock = 0;
    const load = ssmSigningKey(ssm.client, NAME, { ttlMs: 300_000, now: () => clock });
    expect(await load()).toEqual(PAIR);
    clock = 299_999;
    expect(await load()).toEqual(PAIR);
    expect(ssm.calls()).toBe(1);
  });

  it('never believes "missing" longer than the TTL of a found key', async () => {
    const ssm = fakeSsm();
    let clock = 0;
    const load = ssmSigningKey(ssm.client, NAME, { ttlMs: 5_000, now: () => clock });
    expect(await load()).toBeUndefined();
    ssm.create();
    clock = 5_000;
    expect(await load()).toEqual(PAIR);
  });

  it('lets a signed login that failed closed succeed within 30 s of creating the parameter', async () => {
    // Prepare
    const ssm = fakeSsm();
    let clock = 0;
    const h = startSamlHarness({ provider: { signAuthnRequests: true } });
    h.deps.signingKey = ssmSigningKey(ssm.client, NAME, { ttlMs: 300_000, now: () => clock });
    // Act
    const before = await h.call({ method: 'GET', path: '/v1/saml/corp/login' });
    ssm.create();
    clock += 30_000;
    const after = await h.call({ method: 'GET', path: '/v1/saml/corp/login' });
    // Assess
    expect(before.status).toBe(503);
    expect(after.status).toBe(302);
    expect(after.headers.location).toContain('&Signature=');
  });
});
