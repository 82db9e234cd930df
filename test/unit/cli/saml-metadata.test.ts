import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseXml } from '#shared/xml/dom.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { fixtureText, samlConfig } from '../../support/saml-harness.ts';

const files: Record<string, string> = {
  'tvm.config.yaml': stringify(samlConfig()),
  'signed.yaml': stringify(samlConfig({ signAuthnRequests: true })),
};

/** What Parameter Store answers the CLI: a value, undefined (no such parameter), or an error. */
let parameterAnswer: () => Promise<string | undefined> = async () => {
  throw new Error('SSM must not be read for a provider without signAuthnRequests');
};
const parameterReads: string[] = [];

function deps(env: Record<string, string> = {}): CliDeps {
  return {
    env,
    openDoctor: () => ({
      aws: {
        getParameter: (name: string) => {
          parameterReads.push(name);
          return parameterAnswer();
        },
      } as never,
      fetch: globalThis.fetch,
    }),
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    openStore: () => {
      throw new Error('the store must not be opened with --config');
    },
  };
}

async function spMetadata(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['saml', 'sp-metadata', ...args],
    { out: (line) => out.push(line), err: (line) => err.push(line), color: false },
    deps(env),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tvm saml sp-metadata', () => {
  it('prints the metadata XML on stdout and the values for the IdP admin on stderr', async () => {
    // Act
    const result = await spMetadata([
      'corp',
      '--config',
      'tvm.config.yaml',
      '--base-url',
      'https://tvm.example.com',
    ]);
    // Assess
    expect(result.code).toBe(EXIT.ok);
    const root = parseXml(result.out).documentElement;
    expect(root.getAttribute('entityID')).toBe('https://tvm.test.example/v1/saml/corp/metadata');
    expect(result.out).toContain('Location="https://tvm.example.com/v1/saml/corp/acs"');
    expect(result.err).toContain(
      'ACS URL (HTTP-POST):       https://tvm.example.com/v1/saml/corp/acs',
    );
  });

  it('takes the base URL from TVM_PUBLIC_BASE_URL', async () => {
    const result = await spMetadata(['corp', '--config', 'tvm.config.yaml'], {
      TVM_PUBLIC_BASE_URL: 'https://sso.example.com',
    });
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toContain('https://sso.example.com/v1/saml/corp/acs');
  });

  it('refuses an unknown provider (exit 1) and a missing base URL (exit 2)', async () => {
    const unknown = await spMetadata([
      'nope',
      '--config',
      'tvm.config.yaml',
      '--base-url',
      'https://x.example',
    ]);
    expect(unknown.code).toBe(EXIT.invalid);
    expect(unknown.err).toContain('no SAML provider "nope" (SAML providers: corp)');
    const noBase = await spMetadata(['corp', '--config', 'tvm.config.yaml']);
    expect(noBase.code).toBe(EXIT.usage);
    expect(noBase.err).toContain('needs --base-url');
  });
});

describe('tvm saml sp-metadata: AuthnRequestsSigned as the served metadata says it', () => {
  const signed = (extra: string[] = []) =>
    spMetadata([
      'corp',
      '--config',
      'signed.yaml',
      '--base-url',
      'https://tvm.example.com',
      ...extra,
    ]);
  const pair = JSON.stringify({
    privateKey: fixtureText('keys/attacker.key'),
    certificate: fixtureText('keys/attacker.crt'),
  });
  const signsAttr = (xml: string) =>
    parseXml(xml)
      .documentElement.getElementsByTagNameNS(
        'urn:oasis:names:tc:SAML:2.0:metadata',
        'SPSSODescriptor',
      )[0]
      ?.getAttribute('AuthnRequestsSigned');

  it('says true, with the certificate, when the parameter holds the key pair', async () => {
    parameterAnswer = async () => pair;
    parameterReads.length = 0;
    const result = await signed(['--stage', 'prod']);
    expect(result.code).toBe(EXIT.ok);
    expect(signsAttr(result.out)).toBe('true');
    expect(result.out).toContain('<md:KeyDescriptor use="signing">');
    expect(result.out).not.toContain('PRIVATE KEY');
    expect(parameterReads).toEqual(['/tvm/prod/saml-signing-key']);
    expect(result.err).toContain('AuthnRequestsSigned:       true');
  });

  it('says false, and why, when the parameter does not exist', async () => {
    parameterAnswer = async () => undefined;
    const result = await signed(['--saml-key-parameter', '/custom/key']);
    expect(result.code).toBe(EXIT.ok);
    expect(signsAttr(result.out)).toBe('false');
    expect(result.err).toContain('/custom/key does not exist');
    expect(result.err).toContain('signed logins fail closed');
  });

  it('says plainly that it cannot know when the parameter cannot be read', async () => {
    parameterAnswer = async () => {
      throw new Error('AccessDeniedException: not authorized to perform ssm:GetParameter');
    };
    const result = await signed();
    expect(result.code).toBe(EXIT.ok);
    expect(result.err).toContain('cannot know AuthnRequestsSigned');
    expect(result.err).toContain('https://tvm.example.com/v1/saml/corp/metadata');
    // The XML says it too, for whoever only keeps stdout; and it still parses.
    expect(result.out).toMatch(/^<\?xml[^>]*\?>\n<!-- cannot know AuthnRequestsSigned/);
    expect(signsAttr(result.out)).toBe('false');
  });

  it('refuses (exit 1, no XML) a parameter whose key and certificate do not match', async () => {
    parameterAnswer = async () =>
      JSON.stringify({ ...JSON.parse(pair), certificate: fixtureText('keys/idp.crt') });
    const result = await signed();
    expect(result.code).toBe(EXIT.invalid);
    expect(result.out).toBe('');
    expect(result.err).toContain('does not match');
  });
});
