/**
 * The SP signing key from SSM Parameter Store (moto): read on first use, checked as a matching
 * pair, absent = undefined (signed logins then fail closed), cached, and used to sign a login.
 */
import { randomUUID, verify } from 'node:crypto';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, inject, it } from 'vitest';
import { SigningKeyError, ssmSigningKey } from '#shared/saml/signing-key.ts';
import { LOCAL_REGION } from '../../scripts/local/aws-stack.ts';
import { fixtureText, startSamlHarness } from '../support/saml-harness.ts';

const ssm = () =>
  new SSMClient({
    endpoint: inject('motoEndpoint'),
    region: LOCAL_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

async function putKey(name: string, value: string) {
  await ssm().send(
    new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }),
  );
}

const pair = {
  privateKey: fixtureText('keys/attacker.key'),
  certificate: fixtureText('keys/attacker.crt'),
};

describe('saml signing key (SSM)', () => {
  it('reads the key pair and signs an SP-initiated login with it', async () => {
    // Prepare
    const name = `/tvm/test-${randomUUID().slice(0, 8)}/saml-signing-key`;
    await putKey(name, JSON.stringify(pair));
    const h = startSamlHarness({ provider: { signAuthnRequests: true } });
    h.deps.signingKey = ssmSigningKey(ssm(), name, { ttlMs: 60_000 });
    // Act
    const result = await h.call({ method: 'GET', path: '/v1/saml/corp/login' });
    // Assess
    expect(result.status).toBe(302);
    const query = (result.headers.location ?? '').split('?')[1] ?? '';
    const raw = new Map(query.split('&').map((part) => part.split('=') as [string, string]));
    const signed = ['SAMLRequest', 'RelayState', 'SigAlg']
      .map((k) => `${k}=${raw.get(k)}`)
      .join('&');
    const signature = Buffer.from(decodeURIComponent(raw.get('Signature') ?? ''), 'base64');
    expect(verify('RSA-SHA256', Buffer.from(signed), pair.certificate, signature)).toBe(true);
  });

  it('answers undefined for a missing parameter, and the login fails closed', async () => {
    const h = startSamlHarness({ provider: { signAuthnRequests: true } });
    h.deps.signingKey = ssmSigningKey(ssm(), '/tvm/nowhere/saml-signing-key', { ttlMs: 60_000 });
    expect(await h.deps.signingKey()).toBeUndefined();
    const result = await h.call({ method: 'GET', path: '/v1/saml/corp/login' });
    expect(result.status).toBe(503);
    expect(h.state.logins.size).toBe(0);
  });

  it('refuses a key and certificate that do not belong together', async () => {
    const name = `/tvm/test-${randomUUID().slice(0, 8)}/saml-signing-key`;
    await putKey(name, JSON.stringify({ ...pair, certificate: fixtureText('keys/idp.crt') }));
    await expect(ssmSigningKey(ssm(), name, { ttlMs: 0 })()).rejects.toBeInstanceOf(
      SigningKeyError,
    );
  });

  it('keeps the key for its TTL, then reads the rotated one', async () => {
    // Prepare
    const name = `/tvm/test-${randomUUID().slice(0, 8)}/saml-signing-key`;
    await putKey(name, JSON.stringify(pair));
    let clock = 0;
    const load = ssmSigningKey(ssm(), name, { ttlMs: 1_000, now: () => clock });
    const first = await load();
    const rotated = {
      privateKey: fixtureText('keys/idp.key'),
      certificate: fixtureText('keys/idp.crt'),
    };
    await putKey(name, JSON.stringify(rotated));
    // Act / Assess
    expect(await load()).toEqual(first);
    clock = 1_001;
    expect(await load()).toEqual(rotated);
  });
});
