/**
 * Nothing secret of a terminal login reaches a log line or an audit record: not the one-time
 * code, not the PKCE verifier, not the session handle, not the credentials. Run with the real
 * Powertools logger, on the happy path and on every kind of refusal.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CaptureOutput, captureOutput } from '../http/capture-output.ts';

/** Fresh modules, so the logger singleton is built at DEBUG (the tests' default is SILENT). */
async function load() {
  vi.resetModules();
  const { logger } = await import('#functions/http/observability.ts');
  const harness = await import('../../support/login-harness.ts');
  return { logger, ...harness };
}

describe('terminal login secrets', () => {
  let output: CaptureOutput;
  beforeEach(() => {
    // Every level the functions log at, not the tests' SILENT.
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    output = captureOutput();
  });
  afterEach(() => {
    output.restore();
    vi.unstubAllEnvs();
  });

  it('keeps codes, verifiers and session handles out of every log line and audit record', async () => {
    // Prepare
    const { logger, startLoginHarness, cliPkce } = await load();
    const h = startLoginHarness({ logger });
    const secrets: string[] = [];
    const pkce = cliPkce();
    const grant = (code: string, verifier = pkce.verifier) => ({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: pkce.redirectUri,
    });

    // Act: a wrong verifier (spends the code), a replay, then a good login and its session's life
    const spent = await h.code(pkce);
    const wrongVerifier = cliPkce().verifier;
    secrets.push(spent, wrongVerifier, pkce.verifier);
    expect((await h.token(grant(spent, wrongVerifier))).status).toBe(400);
    expect((await h.token(grant(spent))).status).toBe(400);
    const code = await h.code(pkce);
    secrets.push(code);
    const token = await h.token(grant(code));
    expect(token.status).toBe(200);
    const handle = String(token.json.session);
    secrets.push(handle, handle.slice('tvms_'.length));
    expect((await h.token(grant(code))).status).toBe(400);
    expect((await h.roles(handle)).status).toBe(200);
    const credentials = await h.credentials(handle, { mapping: 'corp-reader' });
    expect(credentials.status).toBe(200);
    secrets.push('test-secret-access-key', 'test-session-token');
    expect((await h.credentials(handle, { mapping: 'nope' })).status).toBe(403);
    expect((await h.logout(handle)).status).toBe(204);
    expect((await h.roles(handle)).status).toBe(401);
    expect((await h.logout(handle)).status).toBe(401);

    // Assess
    const logged = output.text();
    expect(output.records().filter((line) => line.message === 'audit')).toHaveLength(
      h.audits.length,
    );
    expect(output.records().some((line) => line.message === 'token request refused')).toBe(true);
    const audited = JSON.stringify(h.audits);
    expect(h.audits.length).toBeGreaterThanOrEqual(11);
    for (const secret of secrets) {
      expect(logged).not.toContain(secret);
      expect(audited).not.toContain(secret);
    }
  });
});
