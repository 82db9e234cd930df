/**
 * The implicit session name and SourceIdentity read the verified subject itself (OIDC allows 255
 * characters) and hash what does not fit; only explicit templates are held to the claim limits.
 * And both are the principal's (issuer + subject), whichever provider entry matched.
 */
import { createHash } from 'node:crypto';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_AUDIENCE, type TestIssuer } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** Two entries of the one test issuer (`dev`, `dev2`), each with a mapping; `extra` goes on both. */
const twoEntries =
  (extra: Record<string, unknown> = {}) =>
  (issuer: TestIssuer) => ({
    version: 1,
    providers: ['dev', 'dev2'].map((id) => ({
      id,
      type: 'oidc',
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audiences: [TEST_AUDIENCE],
    })),
    mappings: ['dev', 'dev2'].map((provider) => ({
      id: `${provider}-everyone`,
      provider,
      priority: 1,
      match: { claim: 'sub', op: 'exists' },
      roleArn: `arn:aws:iam::123456789012:role/tvm/${provider}`,
      durationSeconds: 900,
      ...extra,
    })),
  });

const assumeRoleInputs = () =>
  stsMock.commandCalls(AssumeRoleCommand).map((call) => call.args[0].input);

describe('long and unusual subjects', () => {
  let harness: Harness;

  afterEach(async () => {
    await harness.stop();
  });

  it.each([
    ['200 characters', 'u'.repeat(200)],
    ['255 characters with characters STS refuses', `auth0|${'x'.repeat(245)} é/9`],
  ])('a sub of %s gets credentials under a mapping without templates', async (_name, sub) => {
    // Prepare
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint({ sub });

    // Act
    const result = await harness.call({ token, body: JSON.stringify({ provider: 'dev' }) });

    // Assess: hashed (SourceIdentity) and cut (session name), computed here by hand.
    expect(result.status).toBe(200);
    const [input] = assumeRoleInputs();
    const hashed = `sha256-${sha256(JSON.stringify([harness.issuer.issuer, sub])).slice(0, 40)}`;
    expect(input?.SourceIdentity).toBe(hashed);
    expect(input?.RoleSessionName).toMatch(SESSION_NAME);
    expect(input?.RoleSessionName).toHaveLength(64);
    expect(harness.audits[0]).toMatchObject({ outcome: 'allowed', sourceIdentity: hashed });
  });

  it('an explicit {{claims.sub}} template over the claim limit is refused (403)', async () => {
    // Prepare: sub is undeclared, so the template holds it to defaultClaimMaxLength (128).
    harness = await startHarness({ config: twoEntries({ sourceIdentity: '{{claims.sub}}' }) });
    const token = await harness.mint({ sub: 'u'.repeat(200) });

    // Act
    const result = await harness.call({ token, body: JSON.stringify({ provider: 'dev' }) });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'claim_value_rejected' });
  });

  it('one principal through two provider entries of its issuer gets the same names', async () => {
    // Prepare
    harness = await startHarness({ config: twoEntries() });
    const token = await harness.mint({ sub: 'alice' });

    // Act
    const first = await harness.call({ token, body: JSON.stringify({ provider: 'dev' }) });
    const second = await harness.call({ token, body: JSON.stringify({ provider: 'dev2' }) });

    // Assess: `alice@<8 hex of sha256(iss)>`, whichever entry the client picked.
    expect([first.status, second.status]).toEqual([200, 200]);
    const [one, two] = assumeRoleInputs();
    const expected = `alice@${sha256(harness.issuer.issuer).slice(0, 8)}`;
    expect(one?.SourceIdentity).toBe(expected);
    expect(two?.SourceIdentity).toBe(expected);
    expect(two?.RoleSessionName).toBe(one?.RoleSessionName);
    expect(harness.audits.map((record) => record.subjectHash)).toEqual([
      sha256(`${harness.issuer.issuer}\u0000alice`),
      sha256(`${harness.issuer.issuer}\u0000alice`),
    ]);
  });
});
