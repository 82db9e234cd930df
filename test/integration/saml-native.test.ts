/**
 * SAML native mode against moto's STS: the TVM passes the IdP's own response to
 * AssumeRoleWithSAML, and the session it gets back works (GetCallerIdentity).
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, inject, it } from 'vitest';
import { buildValidResponse } from '../../scripts/saml/fixture-builder.ts';
import { encode, SAML_TEST, startSamlHarness } from '../support/saml-harness.ts';

const ROLE = 'arn:aws:iam::123456789012:role/tvm/corp-admin';
const IDP = 'arn:aws:iam::123456789012:saml-provider/corp';

describe('saml native mode (moto STS)', () => {
  it('vends a working session with AssumeRoleWithSAML for an asserted, mapped role', async () => {
    // Prepare
    const endpoint = inject('motoEndpoint');
    const h = startSamlHarness({
      stsEndpoint: endpoint,
      provider: { mode: 'native' },
      mappings: [
        {
          id: 'native-admin',
          provider: SAML_TEST.provider,
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
          roleArn: ROLE,
          durationSeconds: 7200,
        },
      ],
    });
    await h.seedLogin({ target: 'credentials' });
    const response = buildValidResponse({
      attributes: {
        groups: ['aws-admins'],
        'https://aws.amazon.com/SAML/Attributes/Role': [`${ROLE},${IDP}`],
        'https://aws.amazon.com/SAML/Attributes/RoleSessionName': ['alice@corp.example'],
      },
    });
    // Act
    const result = await h.postResponse(encode(response));
    // Assess
    expect(result.status).toBe(200);
    const value = (key: string) => new RegExp(`${key} = (\\S+)`).exec(result.body)?.[1] ?? '';
    const sts = new STSClient({
      endpoint,
      region: 'eu-west-1',
      credentials: {
        accessKeyId: value('aws_access_key_id'),
        secretAccessKey: value('aws_secret_access_key'),
        sessionToken: value('aws_session_token'),
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe(
      'arn:aws:sts::123456789012:assumed-role/corp-admin/alice@corp.example',
    );
    // The audit record names the session as STS did (what revoke matches), not as the TVM would.
    expect(h.audits).toEqual([
      expect.objectContaining({
        outcome: 'allowed',
        mappingId: 'native-admin',
        durationSeconds: 7200,
        sessionNamedBy: 'assertion',
        roleSessionName: identity.Arn?.split('/').at(-1),
      }),
    ]);
    expect(h.audits[0]).not.toHaveProperty('sourceIdentity');
    sts.destroy();
  });
});
