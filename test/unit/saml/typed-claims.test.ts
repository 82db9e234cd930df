/**
 * Typed claims through the ACS with signed assertions: a single AttributeValue is a
 * one-element list (never a substring test), and a string claim with several values is malformed
 * and refuses, whatever `not`s surround it.
 */
import { describe, expect, it } from 'vitest';
import { buildValidResponse } from '../../../scripts/saml/fixture-builder.ts';
import {
  encode,
  expectSamlRejection,
  SAML_TEST,
  startSamlHarness,
} from '../../support/saml-harness.ts';

const ADMIN = {
  id: 'corp-admin',
  provider: SAML_TEST.provider,
  priority: 20,
  match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
  roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
};
const NOT_CONTRACTOR = {
  id: 'corp-employee',
  provider: SAML_TEST.provider,
  priority: 10,
  match: { not: { claim: 'department', op: 'equals', value: 'contractors' } },
  roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-employee',
};

async function login(
  attributes: Record<string, string[]>,
  mappings: Record<string, unknown>[] = [ADMIN],
) {
  const h = startSamlHarness({ mappings });
  await h.seedLogin({ target: 'credentials' });
  const result = await h.postResponse(encode(buildValidResponse({ attributes })));
  return { h, result };
}

describe('typed claims through the ACS', () => {
  it('one AttributeValue "aws-admins-requests" no longer matches contains aws-admins', async () => {
    // Act: before, the single value became a string and `contains` was a substring test.
    const { h, result } = await login({ groups: ['aws-admins-requests'] });

    // Assess
    expectSamlRejection(h, result, { status: 403, reason: 'no_matching_mapping' });
  });

  it('one AttributeValue and several decide the same way', async () => {
    // Act
    const one = await login({ groups: ['aws-admins'] });
    const several = await login({ groups: ['aws-admins', 'aws-readers'] });
    const nearMiss = await login({ groups: ['aws-admins-requests', 'aws-readers'] });

    // Assess
    expect(one.result.status).toBe(200);
    expect(one.h.audits[0]).toMatchObject({ outcome: 'allowed', mappingId: 'corp-admin' });
    expect(several.result.status).toBe(200);
    expect(several.h.audits[0]).toMatchObject({ outcome: 'allowed', mappingId: 'corp-admin' });
    expectSamlRejection(nearMiss.h, nearMiss.result, {
      status: 403,
      reason: 'no_matching_mapping',
    });
  });

  it('a string claim with two values is malformed, not "not a contractor"', async () => {
    // Act: `department` is declared a string; the IdP sends two values.
    const { h, result } = await login(
      { groups: ['aws-readers'], department: ['contractors', 'engineering'] },
      [NOT_CONTRACTOR],
    );

    // Assess
    expectSamlRejection(h, result, { status: 403, reason: 'claim_malformed' });
  });

  it('the same mapping admits one department value, and refuses the contractor', async () => {
    // Act
    const engineer = await login({ department: ['engineering'] }, [NOT_CONTRACTOR]);
    const contractor = await login({ department: ['contractors'] }, [NOT_CONTRACTOR]);

    // Assess
    expect(engineer.result.status).toBe(200);
    expect(engineer.h.audits[0]).toMatchObject({ outcome: 'allowed', mappingId: 'corp-employee' });
    expectSamlRejection(contractor.h, contractor.result, {
      status: 403,
      reason: 'no_matching_mapping',
    });
  });
});
