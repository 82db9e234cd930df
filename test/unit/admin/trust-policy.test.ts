import { describe, expect, it } from 'vitest';
import {
  decodePolicyDocument,
  evaluateTrust,
  type KeyValue,
  type TrustRequest,
} from '#shared/admin/trust-policy.ts';

const ACCOUNT = '111122223333';
const TVM = `arn:aws:iam::${ACCOUNT}:role/tvm-prod-eu-west-1-lambdaRole`;
const SAML = `arn:aws:iam::${ACCOUNT}:saml-provider/corp`;

/** The TVM's AssumeRole, as the doctor asks it: ExternalId absent unless given. */
function tvmRequest(
  action = 'sts:AssumeRole',
  context: Record<string, KeyValue> = {},
): TrustRequest {
  return {
    principal: { type: 'AWS', arn: TVM, account: ACCOUNT, partition: 'aws' },
    action,
    context: {
      'sts:ExternalId': { present: false },
      'aws:PrincipalArn': { present: true, value: TVM },
      'sts:SourceIdentity': { present: true },
      ...context,
    },
  };
}

const withExternalId = (value: string) =>
  tvmRequest('sts:AssumeRole', { 'sts:ExternalId': { present: true, value } });

const samlRequest: TrustRequest = {
  principal: { type: 'Federated', samlProvider: true },
  action: 'sts:AssumeRoleWithSAML',
  context: { 'SAML:aud': { present: true, value: 'https://signin.aws.amazon.com/saml' } },
};

function policy(...statements: Record<string, unknown>[]) {
  return { Version: '2012-10-17', Statement: statements };
}

/** A statement as JSON would hold it: a field set to undefined is left out. */
function statement(fields: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function allow(fields: Record<string, unknown> = {}) {
  return statement({
    Sid: 'Trust',
    Effect: 'Allow',
    Principal: { AWS: TVM },
    Action: 'sts:AssumeRole',
    ...fields,
  });
}

function deny(fields: Record<string, unknown> = {}) {
  return { Sid: 'Block', Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:*', ...fields };
}

const result = (document: unknown, request: TrustRequest = tvmRequest()) =>
  evaluateTrust(document, request).result;

describe('trust policy evaluator', () => {
  describe('principals', () => {
    it.each([
      ['the exact role ARN', TVM],
      ['the account id', ACCOUNT],
      ['the account root ARN', `arn:aws:iam::${ACCOUNT}:root`],
      ['AWS "*"', '*'],
      ['a list holding the role', ['arn:aws:iam::999988887777:root', TVM]],
    ])('allows the TVM when the principal is %s', (_case, principal) => {
      expect(result(policy(allow({ Principal: { AWS: principal } })))).toBe('allow');
    });

    it('allows anyone under Principal "*"', () => {
      expect(result(policy(allow({ Principal: '*' })))).toBe('allow');
      expect(
        result(policy(allow({ Principal: '*', Action: 'sts:AssumeRoleWithSAML' })), samlRequest),
      ).toBe('allow');
    });

    it.each([
      ['another role', `arn:aws:iam::${ACCOUNT}:role/other`],
      ['another account id', '999988887777'],
      ['the root of another account', 'arn:aws:iam::999988887777:root'],
      ['the root of the same account id in another partition', `arn:aws-cn:iam::${ACCOUNT}:root`],
      ['a user', `arn:aws:iam::${ACCOUNT}:user/tvm-prod-eu-west-1-lambdaRole`],
    ])('does not allow the TVM when the principal is %s', (_case, principal) => {
      expect(result(policy(allow({ Principal: { AWS: principal } })))).toBe('none');
    });

    it('says so when the policy names a deleted role by its unique id', () => {
      // Act
      const verdict = evaluateTrust(
        policy(allow({ Principal: { AWS: 'AROAXXXXXXXXXXXXXXXXX' } })),
        tvmRequest(),
      );

      // Assess
      expect(verdict).toMatchObject({ result: 'none' });
      expect(verdict.result === 'none' && verdict.notes.join(' ')).toContain('deleted');
    });

    it('cannot judge a wildcard ARN, a principal differing only in case, or NotPrincipal', () => {
      expect(
        result(policy(allow({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/tvm-*` } }))),
      ).toBe('unknown');
      expect(
        result(
          policy(
            allow({ Principal: { AWS: TVM.toUpperCase().replace('ARN:AWS:IAM', 'arn:aws:iam') } }),
          ),
        ),
      ).toBe('unknown');
      expect(result(policy(allow({ Principal: undefined, NotPrincipal: { AWS: 'x' } })))).toBe(
        'unknown',
      );
      expect(result(policy(allow({ Principal: [TVM] })))).toBe('unknown');
      // NotPrincipal is refused on sight, even beside a Principal that would match.
      expect(
        result(policy(allow({ NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` } }))),
      ).toBe('unknown');
    });

    it('does not let service or web identity principals stand for the TVM or a SAML provider', () => {
      expect(result(policy(allow({ Principal: { Service: 'lambda.amazonaws.com' } })))).toBe(
        'none',
      );
      expect(
        result(
          policy(
            allow({
              Principal: { Federated: 'cognito-identity.amazonaws.com' },
              Action: 'sts:AssumeRoleWithSAML',
            }),
          ),
          samlRequest,
        ),
      ).toBe('none');
      expect(result(policy(allow({ Action: 'sts:AssumeRoleWithSAML' })), samlRequest)).toBe('none');
    });

    it('allows AssumeRoleWithSAML for an IAM SAML provider with the AWS audience', () => {
      // Prepare
      const statement = allow({
        Principal: { Federated: SAML },
        Action: 'sts:AssumeRoleWithSAML',
        Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
      });

      // Act + Assess
      expect(result(policy(statement), samlRequest)).toBe('allow');
      expect(
        result(
          policy({
            ...statement,
            Condition: { StringEquals: { 'SAML:aud': 'https://tvm.example.com/acs' } },
          }),
          samlRequest,
        ),
      ).toBe('none');
      // A federated principal is no AWS principal: the TVM itself gets nothing from it.
      expect(result(policy({ ...statement, Action: 'sts:*' }))).toBe('none');
    });
  });

  describe('actions', () => {
    it.each([
      ['sts:AssumeRole', 'sts:AssumeRole'],
      ['STS:assumerole', 'sts:AssumeRole'],
      ['sts:*', 'sts:TagSession'],
      ['*', 'sts:SetSourceIdentity'],
      ['sts:Assume*', 'sts:AssumeRoleWithSAML'],
      ['sts:TagSessio?', 'sts:TagSession'],
      [['sts:TagSession', 'sts:AssumeRole'], 'sts:AssumeRole'],
    ])('Action %j covers %s', (action, asked) => {
      expect(result(policy(allow({ Action: action })), tvmRequest(asked))).toBe('allow');
    });

    it.each([
      ['sts:AssumeRoleWithWebIdentity', 'sts:AssumeRole'],
      ['sts:AssumeRole', 'sts:AssumeRoleWithSAML'],
      ['sts:Tag?', 'sts:TagSession'],
      ['iam:*', 'sts:AssumeRole'],
      [['sts:AssumeRole', 'sts:SetSourceIdentity'], 'sts:TagSession'],
    ])('Action %j does not cover %s', (action, asked) => {
      expect(result(policy(allow({ Action: action })), tvmRequest(asked))).toBe('none');
    });

    it('reads NotAction as every action but those', () => {
      const document = policy(allow({ Action: undefined, NotAction: ['sts:TagSession'] }));
      expect(result(document, tvmRequest('sts:AssumeRole'))).toBe('allow');
      expect(result(document, tvmRequest('sts:TagSession'))).toBe('none');
    });

    it('cannot judge a statement with both Action and NotAction', () => {
      expect(result(policy(allow({ NotAction: 'iam:*' })))).toBe('unknown');
    });
  });

  describe('Deny', () => {
    it('cancels an Allow of the same action', () => {
      expect(evaluateTrust(policy(allow(), deny()), tvmRequest())).toEqual({
        result: 'deny',
        statement: 'Block',
      });
    });

    it('wins whatever the order, and alone', () => {
      expect(result(policy(deny(), allow()))).toBe('deny');
      expect(result(policy(deny()))).toBe('deny');
    });

    it('cancels nothing it does not match: another principal, another action', () => {
      expect(
        result(policy(allow(), deny({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/x` } }))),
      ).toBe('allow');
      expect(result(policy(allow(), deny({ Action: 'sts:TagSession' })))).toBe('allow');
    });

    it('makes an Allow unknown when it may apply (a condition it cannot judge)', () => {
      // Act
      const verdict = evaluateTrust(
        policy(allow(), deny({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })),
        tvmRequest(),
      );

      // Assess
      expect(verdict.result).toBe('unknown');
      expect(verdict.result === 'unknown' && verdict.why.join(' ')).toContain('Block');
    });

    it('reads a negated condition on an absent key as true (IAM: the key is not there, so it is "not equal")', () => {
      const document = policy(
        allow(),
        deny({ Condition: { StringNotEquals: { 'sts:ExternalId': 'partner-1' } } }),
      );
      expect(result(document, withExternalId('partner-1'))).toBe('allow');
      expect(result(document, withExternalId('partner-2'))).toBe('deny');
      expect(result(document, tvmRequest())).toBe('deny');
    });

    it('does not turn an unsure Deny into an Allow when nothing allows', () => {
      expect(
        result(policy(deny({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }))),
      ).toBe('none');
    });
  });

  describe('conditions', () => {
    const requireId = (operator: string, value: unknown) =>
      policy(allow({ Condition: { [operator]: { 'sts:ExternalId': value } } }));

    it('StringEquals on sts:ExternalId: the value, one of a list, never absent or another', () => {
      expect(result(requireId('StringEquals', 'partner-1'), withExternalId('partner-1'))).toBe(
        'allow',
      );
      expect(
        result(requireId('StringEquals', ['a', 'partner-1']), withExternalId('partner-1')),
      ).toBe('allow');
      expect(result(requireId('StringEquals', 'partner-1'), withExternalId('partner-2'))).toBe(
        'none',
      );
      expect(result(requireId('StringEquals', 'partner-1'), withExternalId('PARTNER-1'))).toBe(
        'none',
      );
      expect(result(requireId('StringEquals', 'partner-1'), tvmRequest())).toBe('none');
    });

    it('StringLike and StringEqualsIgnoreCase', () => {
      expect(result(requireId('StringLike', 'partner-*'), withExternalId('partner-7'))).toBe(
        'allow',
      );
      expect(result(requireId('StringLike', 'partner-?'), withExternalId('partner-77'))).toBe(
        'none',
      );
      expect(
        result(requireId('StringEqualsIgnoreCase', 'Partner-1'), withExternalId('partner-1')),
      ).toBe('allow');
    });

    it('...IfExists passes on an absent key, so it does not require the ExternalId', () => {
      expect(result(requireId('StringEqualsIfExists', 'partner-1'), tvmRequest())).toBe('allow');
      expect(result(requireId('StringEqualsIfExists', 'partner-1'), withExternalId('x'))).toBe(
        'none',
      );
    });

    it('StringNotEquals passes on an absent key', () => {
      expect(result(requireId('StringNotEquals', 'bad'), tvmRequest())).toBe('allow');
      expect(result(requireId('StringNotEquals', 'bad'), withExternalId('bad'))).toBe('none');
    });

    it('Null tests presence, also of a key whose value varies', () => {
      expect(result(requireId('Null', 'false'), tvmRequest())).toBe('none');
      expect(result(requireId('Null', 'false'), withExternalId('x'))).toBe('allow');
      expect(result(requireId('Null', 'true'), tvmRequest())).toBe('allow');
      const sourceIdentity = policy(
        allow({
          Action: 'sts:SetSourceIdentity',
          Condition: { Null: { 'sts:SourceIdentity': 'false' } },
        }),
      );
      expect(result(sourceIdentity, tvmRequest('sts:SetSourceIdentity'))).toBe('allow');
    });

    it('needs every key of an operator and every operator of the block', () => {
      // Prepare
      const both = policy(
        allow({
          Condition: {
            StringEquals: { 'sts:ExternalId': 'partner-1', 'aws:PrincipalArn': TVM },
            StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/tvm-*' },
          },
        }),
      );
      const wrongArn = policy(
        allow({
          Condition: {
            StringEquals: { 'sts:ExternalId': 'partner-1' },
            ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/other-*' },
          },
        }),
      );

      // Act + Assess
      expect(result(both, withExternalId('partner-1'))).toBe('allow');
      expect(result(both, withExternalId('partner-2'))).toBe('none');
      expect(result(wrongArn, withExternalId('partner-1'))).toBe('none');
    });

    it('matches condition keys case-insensitively, as IAM does', () => {
      expect(
        result(
          policy(allow({ Condition: { StringEquals: { 'STS:EXTERNALID': 'partner-1' } } })),
          withExternalId('partner-1'),
        ),
      ).toBe('allow');
    });

    it.each([
      [
        'a key the request context does not define',
        { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      ],
      ['a key whose value varies by user', { StringLike: { 'sts:SourceIdentity': 'alice*' } }],
      ['a set operator', { 'ForAnyValue:StringEquals': { 'sts:ExternalId': 'x' } }],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, on purpose
      ['a policy variable', { StringEquals: { 'sts:ExternalId': '${aws:username}' } }],
      ['an operator it does not model', { NumericLessThan: { 'sts:ExternalId': '3' } }],
      ['Bool', { Bool: { 'sts:ExternalId': 'true' } }],
      ['a value that is an object', { StringEquals: { 'sts:ExternalId': { a: 1 } } }],
      ['a prototype key as operator', { constructor: { 'sts:ExternalId': 'x' } }],
    ])('cannot judge %s: unknown, never allow', (_case, condition) => {
      expect(result(policy(allow({ Condition: condition })), withExternalId('x'))).toBe('unknown');
    });

    it('still refuses when another condition of the statement is certainly false', () => {
      expect(
        result(
          policy(
            allow({
              Condition: {
                StringEquals: { 'sts:ExternalId': 'partner-1' },
                IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
              },
            }),
          ),
          withExternalId('partner-2'),
        ),
      ).toBe('none');
    });

    it('lets a certain Allow stand beside one it cannot judge', () => {
      expect(
        result(
          policy(
            allow({ Sid: 'Odd', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
            allow(),
          ),
        ),
      ).toBe('allow');
    });
  });

  describe('documents', () => {
    it('reads the URL-encoded JSON that GetRole returns, and plain JSON', () => {
      // Prepare
      const document = policy(
        allow({ Condition: { StringEquals: { 'sts:ExternalId': 'a b%c' } } }),
      );
      const json = JSON.stringify(document);

      // Act + Assess
      expect(decodePolicyDocument(encodeURIComponent(json))).toEqual(document);
      expect(decodePolicyDocument(` ${json}\n`)).toEqual(document);
      expect(() => decodePolicyDocument('%7Bnot json')).toThrow();
    });

    it('takes a single statement object and the 2008 version', () => {
      expect(result({ Version: '2008-10-17', Statement: allow() })).toBe('allow');
      expect(result({ Statement: [allow()] })).toBe('allow');
    });

    it.each([
      ['not an object', 'sts:AssumeRole'],
      ['an unknown version', { Version: '2024-01-01', Statement: [allow()] }],
      ['an unknown element', { Version: '2012-10-17', Statement: [allow()], Extra: 1 }],
      ['no statement', { Version: '2012-10-17' }],
      ['a statement that is not an object', { Statement: ['x'] }],
      ['a Resource (IAM refuses it in trust policies)', policy(allow({ Resource: '*' }))],
      ['an Effect it does not know', policy(allow({ Effect: 'allow' }))],
    ])('cannot judge %s', (_case, document) => {
      expect(result(document)).toBe('unknown');
    });

    it('ignores an odd statement whose action cannot match', () => {
      expect(result(policy(allow(), { Effect: 'Maybe', Principal: '*', Action: 'iam:*' }))).toBe(
        'allow',
      );
      expect(result(policy(allow(), allow({ Action: 'iam:PassRole', Resource: '*' })))).toBe(
        'allow',
      );
    });
  });
});
