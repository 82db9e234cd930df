/**
 * A refused SAML request writes the `request rejected` line OIDC refusals write, with the reason,
 * the provider and the request id the error page shows, so that the id a user quotes finds it.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURE } from '../../../scripts/saml/fixture-builder.ts';
import { encode, fixtureText, SAML_TEST, startSamlHarness } from '../../support/saml-harness.ts';

interface Line {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

function recordingHarness(provider: Record<string, unknown> = {}) {
  const h = startSamlHarness({ provider: { ambiguity: 'first', ...provider } });
  const lines: Line[] = [];
  const record = (level: Line['level']) => (message: string, attributes: object) =>
    lines.push({ level, message, attributes: { ...attributes } });
  h.deps.core.logger = { info: record('info'), warn: record('warn'), error: record('error') };
  return { h, lines };
}

/** The request id as the page shows it to the user. */
function pageRequestId(body: string): string | undefined {
  return /quote request id <code>([^<]+)<\/code>/.exec(body)?.[1];
}

describe('saml refusals: the request rejected log line', () => {
  it.each([
    ['an unsigned assertion', 'invalid/signature-stripped.xml', 401, 'assertion_unsigned'],
    ['a wrong audience', 'invalid/audience-wrong.xml', 401, 'audience_mismatch'],
    [
      'an encrypted assertion',
      'invalid/encrypted-assertion.xml',
      401,
      'encrypted_assertion_unsupported',
    ],
  ])('logs %s with the request id the page shows', async (_, file, status, reason) => {
    // Prepare
    const { h, lines } = recordingHarness();
    await h.seedLogin();
    // Act
    const result = await h.postResponse(encode(fixtureText(file)));
    // Assess
    expect(result.status).toBe(status);
    expect(h.stsCalls()).toBe(0);
    expect(h.audits).toEqual([expect.objectContaining({ outcome: 'denied', reason })]);
    const shown = pageRequestId(result.body);
    expect(shown).toBe(result.requestId);
    const found = lines.filter((line) => line.attributes.requestId === shown);
    expect(found).toEqual([
      {
        level: 'warn',
        message: 'request rejected',
        attributes: expect.objectContaining({
          reason,
          status,
          code: 'ERR_AUTHENTICATION',
          provider: SAML_TEST.provider,
          route: 'POST /v1/saml/{provider}/acs',
        }),
      },
    ]);
    // The page never carries the reason; the line never carries the assertion's values.
    expect(result.body).not.toContain(reason);
    expect(JSON.stringify(lines)).not.toContain(FIXTURE.nameId);
  });

  it('logs a refusal of the core (no mapping) and of the form parser (RelayState) alike', async () => {
    // Prepare
    const { h, lines } = recordingHarness();
    h.config.mappings.splice(0);
    await h.seedLogin();
    // Act
    const noMapping = await h.postResponse(encode(fixtureText('valid/response.xml')));
    const badRelay = await h.postResponse(
      encode(fixtureText('valid/response.xml')),
      'https://evil.example',
    );
    // Assess
    expect(noMapping.status).toBe(403);
    expect(badRelay.status).toBe(400);
    expect(h.stsCalls()).toBe(0);
    const byId = (id: string) =>
      lines.find((line) => line.message === 'request rejected' && line.attributes.requestId === id)
        ?.attributes;
    expect(byId(noMapping.requestId)).toMatchObject({
      reason: 'no_matching_mapping',
      status: 403,
    });
    expect(byId(badRelay.requestId)).toMatchObject({ reason: 'relay_state_invalid', status: 400 });
  });

  it('keeps a malformed provider id out of the line', async () => {
    const { h, lines } = recordingHarness();
    const result = await h.call({ method: 'GET', path: '/v1/saml/bad%20id<x>/metadata' });
    expect(result.status).toBe(404);
    const line = lines.find((entry) => entry.attributes.requestId === result.requestId);
    expect(line?.message).toBe('request rejected');
    expect(line?.attributes.provider).toBeUndefined();
  });
});
