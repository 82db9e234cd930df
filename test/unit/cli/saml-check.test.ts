/** `tvm saml check`: the command around shared/saml/check.ts (files, URL, formats, exit codes). */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { FIXTURE } from '../../../scripts/saml/fixture-builder.ts';
import { encode, fixtureText, SAML_TEST, samlConfig } from '../../support/saml-config.ts';

const certificateBody = fixtureText('keys/idp.crt')
  .replaceAll(/-----(BEGIN|END) CERTIFICATE-----/g, '')
  .replaceAll(/\s+/g, '');
const METADATA = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${SAML_TEST.idpEntityId}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.corp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`;

const valid = encode(fixtureText('valid/response.xml'));
const files: Record<string, string> = {
  'idp.xml': METADATA,
  'tvm.config.yaml': stringify(samlConfig({ ambiguity: 'first' })),
  'valid.b64': `${valid}\n`,
  'unsigned.b64': encode(fixtureText('invalid/signature-stripped.xml')),
  // As copied from the browser's request body: url-encoded, with the field name.
  'copied.txt': `SAMLResponse=${encodeURIComponent(valid)}&RelayState=console`,
};
const fetched: string[] = [];

function deps(): CliDeps {
  return {
    env: {},
    now: () => new Date(SAML_TEST.t0.getTime() + 60_000),
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    openStore: () => {
      throw new Error('the store must not be opened with --config');
    },
    openDoctor: () => ({
      aws: {} as never,
      fetch: (async (url: string | URL | Request) => {
        fetched.push(String(url));
        return new Response(METADATA, { headers: { 'content-type': 'application/xml' } });
      }) as typeof fetch,
    }),
  };
}

async function samlCheck(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['saml', 'check', ...args],
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps(),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const AGAINST_CORP = [
  '--provider',
  'corp',
  '--config',
  'tvm.config.yaml',
  '--base-url',
  SAML_TEST.baseUrl,
];

describe('tvm saml check', () => {
  it('explains a refusal in the IdP settings words, and exits 1', async () => {
    const result = await samlCheck([
      '--metadata',
      'idp.xml',
      '--response',
      'unsigned.b64',
      ...AGAINST_CORP,
    ]);
    expect(result.code).toBe(EXIT.invalid);
    expect(result.out).toContain('✗ assertion_unsigned: the assertion is not signed');
    expect(result.out).toContain('→ turn on Sign assertions');
    expect(result.out).not.toContain(FIXTURE.nameId);
  });

  it('passes a good response (exit 0), naming attributes and mappings but no values', async () => {
    const result = await samlCheck([
      '--metadata',
      'idp.xml',
      '--response',
      'valid.b64',
      ...AGAINST_CORP,
    ]);
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('Attributes (names only): email, groups, department');
    expect(result.out).toContain('Mappings this user matches: corp-admin, corp-reader');
    expect(result.out).toContain('nothing TVM would refuse');
    for (const value of [FIXTURE.nameId, 'aws-admins', 'engineering']) {
      expect(result.out).not.toContain(value);
    }
  });

  it('reads the metadata from a URL and a response copied url-encoded; prints JSON', async () => {
    const result = await samlCheck([
      '--metadata',
      'https://idp.corp.example/metadata',
      '--response',
      'copied.txt',
      ...AGAINST_CORP,
      '--format',
      'json',
    ]);
    expect(result.code).toBe(EXIT.ok);
    expect(fetched).toContain('https://idp.corp.example/metadata');
    const report = JSON.parse(result.out) as { ok: boolean; idpEntityId: string };
    expect(report).toMatchObject({ ok: true, idpEntityId: SAML_TEST.idpEntityId });
  });

  it('checks the metadata alone, and refuses --config without --provider', async () => {
    const alone = await samlCheck(['--metadata', 'idp.xml']);
    expect(alone.code).toBe(EXIT.ok);
    expect(alone.out).toContain('only the metadata was checked');
    const usage = await samlCheck(['--metadata', 'idp.xml', '--config', 'tvm.config.yaml']);
    expect(usage.code).toBe(EXIT.usage);
    const missing = await samlCheck(['--metadata', 'nowhere.xml']);
    expect(missing.code).toBe(EXIT.invalid);
    expect(missing.err).toContain('cannot read the metadata');
  });
});
