/**
 * Typed claims through POST /v1/credentials with real signed tokens: the exact
 * requests that got a role before now get the documented refusal, with zero STS calls and the
 * audit reason; and one group as a bare string decides like the same group in a list.
 */
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestIssuer } from '../../support/oidc-issuer.ts';
import { TEST_AUDIENCE } from '../../support/oidc-issuer.ts';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

/** The docs' own idioms: `contains` on groups, and `not contains contractors`. */
function typedConfig(issuer: Pick<TestIssuer, 'issuer' | 'jwksUri'>): unknown {
  return {
    version: 1,
    providers: [
      {
        id: 'mobile',
        type: 'oidc',
        issuer: issuer.issuer,
        jwksUri: issuer.jwksUri,
        audiences: [TEST_AUDIENCE],
        preset: 'cognito',
        claims: { groups: { type: 'list' }, tenant: { type: 'string', maxLength: 32 } },
      },
    ],
    mappings: [
      {
        id: 'admin',
        provider: 'mobile',
        priority: 200,
        match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/admin',
      },
      {
        id: 'employee',
        provider: 'mobile',
        priority: 100,
        match: {
          all: [
            { claim: 'tenant', op: 'exists' },
            { not: { claim: 'groups', op: 'contains', value: 'contractors' } },
          ],
        },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/employee',
      },
    ],
  };
}

describe('typed claims through POST /v1/credentials', () => {
  let harness: Harness;

  beforeEach(async () => {
    harness = await startHarness({ config: typedConfig });
  });
  afterEach(async () => {
    await harness.stop();
  });

  const vend = async (claims: Record<string, unknown>) =>
    harness.call({ token: await harness.mint(claims) });
  const roleOf = (result: { body: Record<string, unknown> }) => result.body.mapping;

  it('a single group that merely contains "aws-admins" gets no admin role', async () => {
    // Act: before, `contains` on the bare string was a substring test and granted admin.
    const result = await vend({ tenant: undefined, groups: 'aws-admins-requests' });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'no_matching_mapping' });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });

  it('one group as a bare string and as a one-element list decide the same way', async () => {
    // Act
    const asString = await vend({ groups: 'aws-admins' });
    const asList = await vend({ groups: ['aws-admins'] });
    const nearMissString = await vend({ groups: 'aws-admins-requests' });
    const nearMissList = await vend({ groups: ['aws-admins-requests'] });

    // Assess
    expect([asString.status, roleOf(asString)]).toEqual([200, 'admin']);
    expect([asList.status, roleOf(asList)]).toEqual([200, 'admin']);
    expect([nearMissString.status, roleOf(nearMissString)]).toEqual([200, 'employee']);
    expect([nearMissList.status, roleOf(nearMissList)]).toEqual([200, 'employee']);
  });

  it.each<[string, unknown]>([
    ['a number inside the list', ['contractors', 1]],
    ['an object', { contractors: true }],
    ['null', null],
  ])('groups holding %s refuses, never reads as "not a contractor"', async (_n, groups) => {
    // Act: before, the wrong-typed claim was "missing" and `not contains contractors` was true.
    const result = await vend({ groups });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'claim_malformed' });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(harness.audits.at(-1)).toMatchObject({ outcome: 'denied', reason: 'claim_malformed' });
  });

  it('a contractor in a list, or no groups at all, decide as documented', async () => {
    // Act / Assess
    const contractor = await vend({ groups: ['contractors'] });
    expectRejection(harness, contractor, { status: 403, reason: 'no_matching_mapping' });
    const noGroups = await vend({});
    expect([noGroups.status, roleOf(noGroups)]).toEqual([200, 'employee']);
  });

  it('a malformed string claim (a list for tenant) refuses too', async () => {
    // Act
    const result = await vend({ tenant: ['acme'], groups: ['aws-admins'] });

    // Assess
    expectRejection(harness, result, { status: 403, reason: 'claim_malformed' });
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
  });
});

describe('a malformed claim that no match tree reads', () => {
  it('still refuses the decision with claim_malformed (a template reads it)', async () => {
    // Prepare: `team` is declared a string and only rendered into a tag.
    const harness = await startHarness({
      config: (issuer) => {
        const config = typedConfig(issuer) as {
          providers: Record<string, unknown>[];
          mappings: Record<string, unknown>[];
        };
        const [provider] = config.providers;
        if (provider !== undefined) {
          provider.claims = { groups: { type: 'list' }, team: { type: 'string' } };
        }
        config.mappings = [
          {
            id: 'admin',
            provider: 'mobile',
            priority: 200,
            match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
            roleArn: 'arn:aws:iam::123456789012:role/tvm/admin',
            sessionTags: { team: '{{claims.team}}' },
          },
        ];
        return config;
      },
    });
    try {
      // Act
      const result = await harness.call({
        token: await harness.mint({ groups: ['aws-admins'], team: ['blue', 'red'] }),
      });

      // Assess
      expectRejection(harness, result, { status: 403, reason: 'claim_malformed' });
      expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    } finally {
      await harness.stop();
    }
  });
});
