/** PKCE and the target's checks: values that end up in URLs, file names and the AWS config. */
import { describe, expect, it } from 'vitest';
import { LoginError } from '../../../scripts/login/errors.ts';
import { newPkce, newState, s256 } from '../../../scripts/login/pkce.ts';
import { parseBaseUrl, parseId, targetKey } from '../../../scripts/login/target.ts';

describe('PKCE', () => {
  it('computes S256 as RFC 7636 appendix B does', () => {
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes a fresh 43-character verifier and state each time', () => {
    const a = newPkce();
    const b = newPkce();
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.challenge).toBe(s256(a.verifier));
    expect(a.verifier).not.toBe(b.verifier);
    expect(newState()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('target', () => {
  it('normalises the base URL and keeps an API stage path', () => {
    expect(parseBaseUrl('https://TVM.example.com/')).toBe('https://tvm.example.com');
    expect(parseBaseUrl('https://abc.execute-api.eu-west-1.amazonaws.com/prod/')).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/prod',
    );
    expect(parseBaseUrl('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
    expect(parseBaseUrl('http://[::1]:3000')).toBe('http://[::1]:3000');
  });

  it.each([
    'http://tvm.example.com',
    'http://127.0.0.1.nip.io',
    'ftp://tvm.example.com',
    'https://u:p@tvm.example.com',
    'https://tvm.example.com/?x=1',
    'https://tvm.example.com/#x',
    'tvm.example.com',
  ])('refuses %s', (url) => {
    expect(() => parseBaseUrl(url)).toThrow(LoginError);
  });

  it('takes only config ids, so nothing can climb out of the cache directory', () => {
    expect(parseId('--role', 'corp-reader')).toBe('corp-reader');
    for (const bad of ['../x', 'a/b', 'A', '', '-x', 'x'.repeat(64), 'a b']) {
      expect(() => parseId('--role', bad), bad).toThrow(LoginError);
    }
  });

  it('keys the cache by url and provider', () => {
    const key = targetKey({ url: 'https://tvm.example.com', provider: 'corp' });
    expect(key).toMatch(/^corp-[0-9a-f]{16}$/);
    expect(targetKey({ url: 'https://other.example.com', provider: 'corp' })).not.toBe(key);
  });
});
