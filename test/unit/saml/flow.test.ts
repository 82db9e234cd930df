/**
 * The SAML routes end to end in-process: metadata, SP-initiated login, the three outcomes
 * (console redirect, role chooser, credentials page) and native mode.
 */
import { verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { AssumeRoleCommand, AssumeRoleWithSAMLCommand } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { parseXml } from '#shared/xml/dom.ts';
import { buildValidResponse } from '../../../scripts/saml/fixture-builder.ts';
import {
  encode,
  expectSamlRejection,
  fixtureText,
  SAML_TEST,
  startSamlHarness,
} from '../../support/saml-harness.ts';
import { stsMock } from '../../support/vend-harness.ts';

const provider = SAML_TEST.provider;
const valid = () => encode(fixtureText('valid/response.xml'));

function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (match?.[1] === undefined) throw new Error(`no hidden ${name}`);
  return match[1];
}

describe('saml metadata', () => {
  it('serves SP metadata with the entity id, the POST ACS, NameID formats and WantAssertionsSigned', async () => {
    // Act
    const h = startSamlHarness();
    const result = await h.call({ method: 'GET', path: `/v1/saml/${provider}/metadata` });
    // Assess
    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toBe('application/samlmetadata+xml');
    const document = parseXml(result.body);
    const root = document.documentElement;
    expect(root.localName).toBe('EntityDescriptor');
    expect(root.getAttribute('entityID')).toBe(SAML_TEST.spEntityId);
    const sp = root.getElementsByTagNameNS(
      'urn:oasis:names:tc:SAML:2.0:metadata',
      'SPSSODescriptor',
    )[0];
    expect(sp?.getAttribute('WantAssertionsSigned')).toBe('true');
    const acs = root.getElementsByTagNameNS(
      'urn:oasis:names:tc:SAML:2.0:metadata',
      'AssertionConsumerService',
    )[0];
    expect(acs?.getAttribute('Location')).toBe(SAML_TEST.acsUrl);
    expect(acs?.getAttribute('Binding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    const formats = root.getElementsByTagNameNS(
      'urn:oasis:names:tc:SAML:2.0:metadata',
      'NameIDFormat',
    );
    expect(formats.length).toBe(3);
  });

  it('answers 404 for an unknown provider', async () => {
    const h = startSamlHarness();
    const result = await h.call({ method: 'GET', path: '/v1/saml/nobody/metadata' });
    expect(result.status).toBe(404);
    expect(result.body).toContain('Sign-in failed');
  });
});

describe('saml login', () => {
  it('redirects to the IdP with an AuthnRequest whose id is stored with an opaque RelayState', async () => {
    // Prepare
    const h = startSamlHarness();
    // Act
    const result = await h.call({
      method: 'GET',
      path: `/v1/saml/${provider}/login`,
      query: { target: 'credentials' },
    });
    // Assess
    expect(result.status).toBe(302);
    expect(result.headers['cache-control']).toBe('no-store');
    const location = new URL(result.headers.location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe('https://idp.corp.example/sso');
    const relayState = location.searchParams.get('RelayState') ?? '';
    expect(relayState).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const request = inflateRawSync(
      Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    const authn = parseXml(request).documentElement;
    const id = authn.getAttribute('ID') ?? '';
    expect(authn.getAttribute('AssertionConsumerServiceURL')).toBe(SAML_TEST.acsUrl);
    expect([...h.state.logins.keys()]).toEqual([id]);
    expect(h.state.logins.get(id)).toMatchObject({ provider, target: 'credentials' });
    expect(JSON.stringify([...h.state.logins.values()])).not.toContain(relayState);
  });

  it('signs the redirect (SigAlg + Signature over the query) when the provider asks for it', async () => {
    // Prepare: the SP key pair (the fixtures' attacker pair stands in for it).
    const h = startSamlHarness({ provider: { signAuthnRequests: true } });
    const privateKey = fixtureText('keys/attacker.key');
    const certificate = fixtureText('keys/attacker.crt');
    h.deps.signingKey = async () => ({ privateKey, certificate });
    // Act
    const result = await h.call({ method: 'GET', path: `/v1/saml/${provider}/login` });
    // Assess: HTTP-Redirect binding signature (bindings §3.4.4.1) over the raw query parameters.
    const query = (result.headers.location ?? '').split('?')[1] ?? '';
    const raw = new Map(query.split('&').map((pair) => pair.split('=') as [string, string]));
    expect(decodeURIComponent(raw.get('SigAlg') ?? '')).toBe(
      'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    );
    const signed = ['SAMLRequest', 'RelayState', 'SigAlg']
      .map((name) => `${name}=${raw.get(name)}`)
      .join('&');
    const signature = Buffer.from(decodeURIComponent(raw.get('Signature') ?? ''), 'base64');
    expect(verify('RSA-SHA256', Buffer.from(signed), certificate, signature)).toBe(true);
    const metadata = await h.call({ method: 'GET', path: `/v1/saml/${provider}/metadata` });
    expect(metadata.body).toContain('AuthnRequestsSigned="true"');
  });

  it('fails closed when a provider wants signed requests and no SP key is configured', async () => {
    const h = startSamlHarness({ provider: { signAuthnRequests: true } });
    const result = await h.call({ method: 'GET', path: `/v1/saml/${provider}/login` });
    expect(result.status).toBe(503);
    expect(result.headers.location).toBeUndefined();
    expect(h.state.logins.size).toBe(0);
  });

  it('binds the login to the browser: only the browser that started it may post the answer', async () => {
    // Prepare: a real login, then a signed answer to exactly that AuthnRequest.
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    const started = await h.call({
      method: 'GET',
      path: `/v1/saml/${provider}/login`,
      query: { target: 'credentials' },
    });
    const setCookie = started.headers['set-cookie'] ?? '';
    expect(setCookie).toMatch(
      /^tvm_login=[A-Za-z0-9_-]{43}; Path=\/v1\/saml\/corp\/acs; Max-Age=600; HttpOnly; SameSite=None; Secure$/,
    );
    const location = new URL(started.headers.location ?? '');
    const relayState = location.searchParams.get('RelayState') ?? '';
    const [requestId] = [...h.state.logins.keys()];
    const answer = encode(buildValidResponse({ inResponseTo: requestId ?? '' }));
    // Act: the attacker posts their own answer from the victim's browser (no login cookie).
    const withoutCookie = await h.postResponse(answer, relayState, '');
    // Assess
    expectSamlRejection(h, withoutCookie, { status: 401, reason: 'login_not_bound' });
  });

  it('finishes the login from the browser that started it, and reuses its cookie for a second tab', async () => {
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    const first = await h.call({ method: 'GET', path: `/v1/saml/${provider}/login` });
    const browser = (first.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    const second = await h.call({
      method: 'GET',
      path: `/v1/saml/${provider}/login`,
      cookie: browser,
    });
    expect((second.headers['set-cookie'] ?? '').split(';')[0]).toBe(browser);
    const [firstId] = [...h.state.logins.keys()];
    const relayState = new URL(first.headers.location ?? '').searchParams.get('RelayState') ?? '';
    const result = await h.postResponse(
      encode(buildValidResponse({ inResponseTo: firstId ?? '' })),
      relayState,
      browser,
    );
    expect(result.status).toBe(302);
    expect(h.stsCalls()).toBe(1);
  });

  it('refuses an unknown target', async () => {
    const h = startSamlHarness();
    const result = await h.call({
      method: 'GET',
      path: `/v1/saml/${provider}/login`,
      query: { target: 'https://evil.example' },
    });
    expect(result.status).toBe(400);
    expect(h.state.logins.size).toBe(0);
  });
});

describe('saml outcomes', () => {
  it('console: AssumeRole without DurationSeconds, a sign-in token, and a 302 to the console', async () => {
    // Prepare
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    await h.seedLogin({ target: 'console' });
    // Act
    const result = await h.postResponse(valid());
    // Assess
    expect(result.status).toBe(302);
    const input = stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input;
    expect(input?.RoleArn).toBe('arn:aws:iam::123456789012:role/tvm/corp-admin');
    expect(input?.DurationSeconds).toBeUndefined();
    expect(input?.Tags).toEqual([{ Key: 'department', Value: 'engineering' }]);
    const [tokenCall] = h.federationCalls;
    expect(tokenCall?.searchParams.get('Action')).toBe('getSigninToken');
    expect(JSON.parse(tokenCall?.searchParams.get('Session') ?? '{}')).toEqual({
      sessionId: 'ASIATESTACCESSKEY',
      sessionKey: 'test-secret-access-key',
      sessionToken: 'test-session-token',
    });
    expect(tokenCall?.searchParams.has('SessionDuration')).toBe(false);
    const location = new URL(result.headers.location ?? '');
    expect(location.searchParams.get('Action')).toBe('login');
    expect(location.searchParams.get('SigninToken')).toBe('test-signin-token');
    expect(location.searchParams.get('Destination')).toBe(
      'https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1',
    );
    expect(location.searchParams.get('Issuer')).toBe(
      `${SAML_TEST.baseUrl}/v1/saml/${provider}/login?target=console`,
    );
    expect(JSON.stringify(h.audits)).not.toContain('test-signin-token');
  });

  it('console: a federation endpoint that fails gives a generic 503 page, no sign-in URL', async () => {
    const h = startSamlHarness({
      provider: { ambiguity: 'first' },
      federation: () => new Response('no', { status: 500 }),
    });
    await h.seedLogin({ target: 'console' });
    const result = await h.postResponse(valid());
    expect(result.status).toBe(503);
    expect(result.headers.location).toBeUndefined();
    expect(result.body).toContain('Sign-in failed');
  });

  it('credentials: one page with shell exports, a profile block and the expiry', async () => {
    // Prepare
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    await h.seedLogin({ target: 'credentials' });
    // Act
    const result = await h.postResponse(valid());
    // Assess
    expect(result.status).toBe(200);
    expect(result.headers['cache-control']).toBe('no-store');
    expect(result.body).toContain('export AWS_ACCESS_KEY_ID=&#39;ASIATESTACCESSKEY&#39;');
    expect(result.body).toContain('aws_session_token = test-session-token');
    expect(result.body).toContain('[corp-admin]');
    expect(result.body).toContain('2030-01-01T01:00:00.000Z');
    expect(result.body).not.toMatch(/<script/i);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input.DurationSeconds).toBe(3600);
  });

  it('several mappings: an escaped chooser page, then /select vends the chosen role once', async () => {
    // Prepare
    const h = startSamlHarness();
    await h.seedLogin({ target: 'credentials' });
    // Act 1: the ACS offers a choice and vends nothing.
    const chooser = await h.postResponse(valid());
    // Assess
    expect(chooser.status).toBe(200);
    expect(chooser.headers['cache-control']).toBe('no-store');
    expect(chooser.body).toContain('Read-only &lt;everyone&gt;');
    expect(chooser.body).not.toContain('<everyone>');
    expect(chooser.body).not.toMatch(/<script/i);
    expect(h.stsCalls()).toBe(0);
    expect(h.audits).toEqual([
      expect.objectContaining({ outcome: 'pending', reason: 'role_choice_offered' }),
    ]);
    const token = hidden(chooser.body, 'token');
    const cookie = (chooser.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    expect(chooser.headers['set-cookie']).toMatch(/HttpOnly; SameSite=Strict; Secure$/);
    // The choice's answer redirects to the federation endpoint: CSP form-action must allow it.
    expect(chooser.headers['content-security-policy']).toContain(
      "form-action 'self' https://signin.aws.amazon.com;",
    );
    expect([...h.state.selections.keys()]).not.toContain(token);
    // Act 2
    const chosen = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'corp-reader' },
      cookie,
    });
    // Assess 2
    expect(chosen.status).toBe(200);
    expect(stsMock.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn).toBe(
      'arn:aws:iam::123456789012:role/tvm/corp-reader',
    );
    expect(h.audits[1]).toMatchObject({ outcome: 'allowed', mappingId: 'corp-reader' });
    // Act 3: the token is single use.
    h.audits.length = 0;
    stsMock.resetHistory();
    const again = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'corp-reader' },
      cookie,
    });
    expectSamlRejection(h, again, { status: 401, reason: 'selection_invalid' });
  });

  it('refuses a selection token posted without the browser cookie it was bound to', async () => {
    const h = startSamlHarness();
    await h.seedLogin();
    const chooser = await h.postResponse(valid());
    const token = hidden(chooser.body, 'token');
    h.audits.length = 0;
    const result = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'corp-reader' },
      cookie: 'tvm_select=attacker',
    });
    expectSamlRejection(h, result, { status: 401, reason: 'selection_not_bound' });
  });

  it('refuses a mapping that was not offered, even one that matches by the time of the choice', async () => {
    // Prepare: the chooser offers corp-admin and corp-reader.
    const h = startSamlHarness();
    await h.seedLogin();
    const chooser = await h.postResponse(valid());
    const token = hidden(chooser.body, 'token');
    const cookie = (chooser.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    // A config change adds a mapping alice matches: decide() alone would allow it now.
    const [admin] = h.config.mappings;
    h.config.mappings.push({ ...(admin as (typeof h.config.mappings)[number]), id: 'corp-late' });
    h.audits.length = 0;
    // Act
    const result = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'corp-late' },
      cookie,
    });
    // Assess: only what the user was offered (and the token was bound to) can be chosen.
    expectSamlRejection(h, result, { status: 403, reason: 'mapping_not_allowed' });
  });

  it('claims each assertion id once per IdP, whichever provider entry it was posted to', async () => {
    // Prepare
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    await h.seedLogin();

    // Act
    const result = await h.postResponse(valid());

    // Assess: keyed on the entity id, so a second entry of this IdP cannot accept it again.
    expect(result.status).toBe(200);
    expect([...h.state.replays.keys()]).toEqual([
      JSON.stringify([SAML_TEST.idpEntityId, '_assert-fixture-0001']),
    ]);
  });

  it('refuses a choice offered for another IdP principal (the selection records its issuer)', async () => {
    // Prepare: the chooser offers corp-admin and corp-reader; then the stored choice names
    // another issuer, as after an entity id change between offer and answer.
    const h = startSamlHarness();
    await h.seedLogin({ target: 'credentials' });
    const chooser = await h.postResponse(valid());
    const token = hidden(chooser.body, 'token');
    const cookie = (chooser.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    for (const selection of h.state.selections.values()) {
      selection.issuer = 'https://another-idp.example/saml';
    }
    h.audits.length = 0;

    // Act
    const result = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'corp-reader' },
      cookie,
    });

    // Assess
    expectSamlRejection(h, result, { status: 401, reason: 'selection_invalid' });
  });

  it('refuses a denied principal after a valid assertion', async () => {
    const h = startSamlHarness({ provider: { ambiguity: 'first' } });
    await h.seedLogin();
    await h.denyList.add({
      issuer: SAML_TEST.idpEntityId,
      provider,
      subject: 'alice@corp.example',
      by: 'test',
      at: '',
    });
    const result = await h.postResponse(valid());
    expectSamlRejection(h, result, { status: 403, reason: 'denied_principal' });
  });

  it('refuses an identity no mapping matches', async () => {
    const h = startSamlHarness();
    await h.seedLogin();
    const nobody = encode(buildValidResponse({ attributes: { groups: ['contractors'] } }));
    const result = await h.postResponse(nobody);
    expectSamlRejection(h, result, { status: 403, reason: 'no_matching_mapping' });
  });
});

describe('saml native mode', () => {
  const ROLE = 'arn:aws:iam::123456789012:role/tvm/corp-admin';
  const IDP = 'arn:aws:iam::123456789012:saml-provider/corp';
  const nativeResponse = (roles: string[]) =>
    encode(
      buildValidResponse({
        attributes: {
          groups: ['aws-admins'],
          'https://aws.amazon.com/SAML/Attributes/Role': roles,
        },
      }),
    );
  const nativeMappings = [
    {
      id: 'native-admin',
      provider,
      priority: 10,
      match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
      roleArn: ROLE,
      durationSeconds: 43200,
    },
  ];

  it('calls AssumeRoleWithSAML with the assertion and the asserted provider ARN', async () => {
    // Prepare
    const h = startSamlHarness({ provider: { mode: 'native' }, mappings: nativeMappings });
    await h.seedLogin({ target: 'credentials' });
    const encoded = nativeResponse([`${ROLE},${IDP}`]);
    // Act
    const result = await h.postResponse(encoded);
    // Assess
    expect(result.status).toBe(200);
    expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    const input = stsMock.commandCalls(AssumeRoleWithSAMLCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      RoleArn: ROLE,
      PrincipalArn: IDP,
      SAMLAssertion: encoded,
      DurationSeconds: 43200,
    });
  });

  it('audits the session name and SourceIdentity the assertion sets, never the TVM values', async () => {
    // Prepare: the IdP names the session; STS takes these two attributes, nothing from the TVM.
    const h = startSamlHarness({ provider: { mode: 'native' }, mappings: nativeMappings });
    await h.seedLogin({ target: 'credentials' });
    const named = (extra: Record<string, string[]>) =>
      encode(
        buildValidResponse({
          attributes: {
            groups: ['aws-admins'],
            'https://aws.amazon.com/SAML/Attributes/Role': [`${ROLE},${IDP}`],
            'https://aws.amazon.com/SAML/Attributes/RoleSessionName': ['alice.smith'],
            ...extra,
          },
        }),
      );

    // Act
    const result = await h.postResponse(
      named({ 'https://aws.amazon.com/SAML/Attributes/SourceIdentity': ['alice-si'] }),
    );

    // Assess
    expect(result.status).toBe(200);
    expect(h.audits).toEqual([
      expect.objectContaining({
        outcome: 'allowed',
        sessionNamedBy: 'assertion',
        roleSessionName: 'alice.smith',
        sourceIdentity: 'alice-si',
      }),
    ]);
  });

  it('audits no SourceIdentity for a native session whose assertion sets none', async () => {
    // Prepare
    const h = startSamlHarness({ provider: { mode: 'native' }, mappings: nativeMappings });
    await h.seedLogin({ target: 'credentials' });
    const response = buildValidResponse({
      attributes: {
        groups: ['aws-admins'],
        'https://aws.amazon.com/SAML/Attributes/Role': [`${ROLE},${IDP}`],
        'https://aws.amazon.com/SAML/Attributes/RoleSessionName': ['alice.smith'],
      },
    });

    // Act
    const result = await h.postResponse(encode(response));

    // Assess: the TVM's would-be `<nameId>@<tag>` is in no session, so it is in no record.
    expect(result.status).toBe(200);
    expect(h.audits[0]).toMatchObject({
      sessionNamedBy: 'assertion',
      roleSessionName: 'alice.smith',
    });
    expect(h.audits[0]).not.toHaveProperty('sourceIdentity');
  });

  it('the role chooser carries what the assertion names the session to the audit record', async () => {
    // Prepare: two asserted, mapped roles tie, so the user chooses.
    const READER = 'arn:aws:iam::123456789012:role/tvm/corp-reader';
    const h = startSamlHarness({
      provider: { mode: 'native' },
      mappings: [...nativeMappings, { ...nativeMappings[0], id: 'native-reader', roleArn: READER }],
    });
    await h.seedLogin({ target: 'credentials' });
    const encoded = encode(
      buildValidResponse({
        attributes: {
          groups: ['aws-admins'],
          'https://aws.amazon.com/SAML/Attributes/Role': [`${ROLE},${IDP}`, `${READER},${IDP}`],
          'https://aws.amazon.com/SAML/Attributes/RoleSessionName': ['alice.smith'],
        },
      }),
    );
    const chooser = await h.postResponse(encoded);
    const token = hidden(chooser.body, 'token');
    const cookie = (chooser.headers['set-cookie'] ?? '').split(';')[0] ?? '';

    // Act
    const chosen = await h.call({
      path: `/v1/saml/${provider}/select`,
      form: { token, mapping: 'native-reader', SAMLResponse: encoded },
      cookie,
    });

    // Assess
    expect(chosen.status).toBe(200);
    expect(h.audits[1]).toMatchObject({
      outcome: 'allowed',
      mappingId: 'native-reader',
      sessionNamedBy: 'assertion',
      roleSessionName: 'alice.smith',
    });
    expect(h.audits[1]).not.toHaveProperty('sourceIdentity');
  });

  it('refuses when the mapping role is not among the asserted roles', async () => {
    const h = startSamlHarness({ provider: { mode: 'native' }, mappings: nativeMappings });
    await h.seedLogin();
    const result = await h.postResponse(
      nativeResponse([`arn:aws:iam::123456789012:role/other,${IDP}`]),
    );
    expectSamlRejection(h, result, { status: 403, reason: 'no_matching_mapping' });
  });
});

describe('saml provider with IdP metadata instead of pinned certificates', () => {
  const metadata = (certificatePem: string, use = 'signing') => {
    const body = certificatePem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${SAML_TEST.idpEntityId}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.corp.example/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  };

  it('verifies with the signing certificate of the metadata', async () => {
    const h = startSamlHarness({
      provider: {
        ambiguity: 'first',
        certificates: undefined,
        metadataXml: metadata(fixtureText('keys/idp.crt')),
      },
    });
    await h.seedLogin();
    const result = await h.postResponse(valid());
    expect(result.status).toBe(200);
    expect(h.stsCalls()).toBe(1);
  });

  it('ignores encryption-only keys and refuses a response the metadata key did not sign', async () => {
    const h = startSamlHarness({
      provider: {
        ambiguity: 'first',
        certificates: undefined,
        metadataXml: metadata(fixtureText('keys/idp.crt'), 'encryption').replace(
          '</md:IDPSSODescriptor>',
          `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${fixtureText(
            'keys/attacker.crt',
          )
            .replace(/-----[^-]+-----/g, '')
            .replace(
              /\s+/g,
              '',
            )}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor>`,
        ),
      },
    });
    await h.seedLogin();
    const result = await h.postResponse(valid());
    expectSamlRejection(h, result, { status: 401, reason: 'signature_invalid' });
  });
});
