import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  expectRejection,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

/**
 * The HTTP edges of the credentials route: only GET and POST vend, and a POST
 * body is read only as application/json. Each refusal: status, problem body, no STS call, audited.
 */
describe('credentials route edges', () => {
  let harness: Harness;

  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(async () => {
    await harness.stop();
  });

  describe('methods other than GET and POST (405)', () => {
    it.each(['HEAD', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'])(
      '%s with a valid token vends nothing and says Allow: GET, POST',
      async (method) => {
        // Prepare: a token and a query that GET would vend for.
        const token = await harness.mint();

        // Act
        const result = await harness.call({ method, token, query: { format: 'process' } });

        // Assess
        expectRejection(harness, result, { status: 405, reason: 'method_not_allowed' });
        expect(result.headers.allow).toBe('GET, POST');
        expect(result.body).toEqual({
          type: 'urn:tvm:problem:method-not-allowed',
          title: 'Method Not Allowed',
          status: 405,
          requestId: expect.any(String),
        });
        expect(harness.audits[0]?.route).toBe(`${method} /v1/credentials`);
      },
    );

    it('is refused before authentication: no token still gets 405, not 401', async () => {
      const result = await harness.call({ method: 'HEAD' });
      expectRejection(harness, result, { status: 405, reason: 'method_not_allowed' });
      expect(result.headers['www-authenticate']).toBeUndefined();
    });
  });

  describe('a POST body that is not application/json (415)', () => {
    it.each([
      ['text/plain (a browser sends it cross-origin without a preflight)', 'text/plain'],
      ['a form', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['no Content-Type at all', null],
      ['a JSON look-alike', 'application/jsonx'],
      ['a vendor JSON type', 'application/vnd.api+json'],
      ['two media types', 'application/json, text/plain'],
      ['a charset other than UTF-8', 'application/json; charset=iso-8859-1'],
      ['a parameter without a value', 'application/json; charset'],
    ])('%s', async (_label, contentType) => {
      const token = await harness.mint();
      const result = await harness.call({ token, body: '{}', contentType });
      expectRejection(harness, result, { status: 415, reason: 'unsupported_media_type' });
      expect(result.body).toEqual({
        type: 'urn:tvm:problem:unsupported-media-type',
        title: 'Unsupported Media Type',
        status: 415,
        detail: 'the body must be application/json',
        requestId: expect.any(String),
      });
    });

    it.each([
      ['application/json', 'application/json', '{}'],
      ['with charset=utf-8', 'application/json; charset=utf-8', '{}'],
      ['in any case, charset quoted', 'Application/JSON;Charset="UTF-8"', '{}'],
      ['no body and no Content-Type', null, undefined],
    ])('accepts %s', async (_label, contentType, body) => {
      const token = await harness.mint();
      const result = await harness.call({
        token,
        contentType,
        ...(body === undefined ? {} : { body }),
      });
      expect(result.status).toBe(200);
      expect(stsMock.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    });

    it('a Content-Type announces a body: none at all is refused too', async () => {
      const token = await harness.mint();
      const json = await harness.call({ token, body: '', contentType: 'application/json' });
      expectRejection(harness, json, { status: 400, reason: 'bad_request' });
      expect(json.body.detail).toBe('the body must be a JSON object');
      harness.audits.length = 0;
      const text = await harness.call({ token, body: '', contentType: 'text/plain' });
      expectRejection(harness, text, { status: 415, reason: 'unsupported_media_type' });
    });

    it('is checked after the token shape: no token is still the generic 401', async () => {
      const result = await harness.call({ body: '{}', contentType: 'text/plain' });
      expectRejection(harness, result, { status: 401, reason: 'missing_token' });
    });
  });
});
