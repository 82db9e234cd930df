import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseXml } from '#shared/xml/dom.ts';
import { type CliDeps, EXIT, runCli } from '../../../scripts/cli/main.ts';
import { samlConfig } from '../../support/saml-harness.ts';

const files: Record<string, string> = { 'tvm.config.yaml': stringify(samlConfig()) };

function deps(env: Record<string, string> = {}): CliDeps {
  return {
    env,
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
