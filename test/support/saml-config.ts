/**
 * The SAML test constants and config, with no side effects (no STS mock), so that tests that
 * talk to a real STS (moto) can use them too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './process.ts';

export const SAML_FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'saml');

/** The values every generated fixture was signed with (scripts/saml/fixture-builder.ts). */
export const SAML_TEST = {
  t0: new Date('2026-01-01T00:00:00Z'),
  idpEntityId: 'https://idp.corp.example/saml',
  spEntityId: 'https://tvm.test.example/v1/saml/corp/metadata',
  baseUrl: 'https://tvm.test.example',
  acsUrl: 'https://tvm.test.example/v1/saml/corp/acs',
  requestId: '_req-fixture-0001',
  provider: 'corp',
} as const;

export function fixtureText(relative: string): string {
  return readFileSync(path.join(SAML_FIXTURES, relative), 'utf8');
}

export function encode(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}

/** A SAML provider + two mappings: alice (aws-readers and aws-admins) matches both. */
export function samlConfig(
  provider: Record<string, unknown> = {},
  mappings?: Record<string, unknown>[],
): Record<string, unknown> {
  return {
    version: 1,
    providers: [
      {
        id: SAML_TEST.provider,
        type: 'saml',
        entityId: SAML_TEST.idpEntityId,
        ssoUrl: 'https://idp.corp.example/sso',
        certificates: [fixtureText('keys/idp.crt')],
        spEntityId: SAML_TEST.spEntityId,
        attributeMap: { groups: 'groups', email: 'email', department: 'department' },
        claims: {
          groups: { type: 'list' },
          email: { type: 'string' },
          department: { type: 'string' },
        },
        consoleRegion: 'eu-west-1',
        ...provider,
      },
    ],
    mappings: mappings ?? [
      {
        id: 'corp-admin',
        provider: SAML_TEST.provider,
        description: 'Administrators',
        priority: 20,
        match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-admin',
        sessionTags: { department: '{{claims.department}}' },
      },
      {
        id: 'corp-reader',
        provider: SAML_TEST.provider,
        description: 'Read-only <everyone>',
        priority: 10,
        match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/corp-reader',
      },
    ],
  };
}
