/**
 * docs/openapi.yaml must describe what the code does: the routes serverless.yml deploys, the
 * bodies and headers the real handlers answer with, and the error examples the real error
 * paths produce. docs/api.md must list every audit reason code the code can write.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDocument, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';
import { MAX_AUTHORIZATION_BYTES, MAX_BODY_BYTES } from '#functions/credentials/route.ts';
import { problemType } from '#functions/http/problem-json.ts';
import { ID_PATTERN, STS_LIMITS } from '#shared/config/schema.ts';
import { APP_ERROR_CODES, AUDIT_REASONS } from '#shared/errors.ts';
import { health, handler as healthHandler } from '../../../functions/health/handler.ts';
import { fakeContext, httpEvent } from '../../support/lambda-fakes.ts';
import { cliPkce, type HttpAnswer, startLoginHarness } from '../../support/login-harness.ts';
import {
  type CallOptions,
  type CallResult,
  type Harness,
  startHarness,
  stsMock,
} from '../../support/vend-harness.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string): string => readFileSync(`${root}${file}`, 'utf8');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses YAML and fails on any error or warning (an unknown tag is a warning). */
function parseYaml(text: string, customTags: Tags = []): unknown {
  const document = parseDocument(text, { customTags });
  expect(document.errors.map(String)).toEqual([]);
  expect(document.warnings.map(String)).toEqual([]);
  return document.toJS();
}

/** CloudFormation's short-form intrinsic functions, so that serverless.yml parses cleanly. */
const CLOUDFORMATION_TAGS: Tags = [
  'Base64',
  'Cidr',
  'Condition',
  'Equals',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'And',
  'Or',
  'Ref',
  'Select',
  'Split',
  'Sub',
].flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const fromCollection = (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [key]: node.toJSON() });
  return [
    { tag: `!${name}`, resolve: (value: string) => ({ [key]: value }) },
    { tag: `!${name}`, collection: 'seq' as const, resolve: fromCollection },
    { tag: `!${name}`, collection: 'map' as const, resolve: fromCollection },
  ];
});

const spec = parseYaml(read('docs/openapi.yaml')) as JsonObject;

/** Follows `$ref`s inside this document (`#/components/...`). */
function deref(value: Json | undefined): Json | undefined {
  let current = value;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops += 1) {
    if (hops > 20) throw new Error('$ref cycle');
    const pointer = current.$ref;
    if (!pointer.startsWith('#/')) throw new Error(`external $ref ${pointer}`);
    current = pointer
      .slice(2)
      .split('/')
      .reduce<Json | undefined>((node, part) => (isObject(node) ? node[part] : undefined), spec);
    if (current === undefined) throw new Error(`dangling $ref ${pointer}`);
  }
  return current;
}

function child(value: Json | undefined, ...keys: string[]): Json | undefined {
  return keys.reduce<Json | undefined>((node, key) => {
    const resolved = deref(node);
    return isObject(resolved) ? resolved[key] : undefined;
  }, value);
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** `GET /v1/health`-style keys of every operation the spec documents. */
function documentedRoutes(): string[] {
  const paths = spec.paths as JsonObject;
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item as JsonObject)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/**
 * `x-tvm-refused-methods` of each path: methods serverless.yml routes to a function only so that
 * it refuses them with 405 and `Allow`. They are not operations (a client never uses them).
 */
function refusedRoutes(): string[] {
  const paths = spec.paths as JsonObject;
  return Object.entries(paths).flatMap(([path, item]) => {
    const refused = child(item, 'x-tvm-refused-methods');
    return Array.isArray(refused)
      ? refused.map((method) => `${String(method).toUpperCase()} ${path}`)
      : [];
  });
}

/** The `Allow` header a path must send with its 405: the methods it documents, sorted. */
function allowedMethods(path: string): string {
  return Object.keys((spec.paths as JsonObject)[path] as JsonObject)
    .filter((key) => HTTP_METHODS.includes(key))
    .map((method) => method.toUpperCase())
    .sort()
    .join(', ');
}

/** Every `functions.*.events[].httpApi` route in serverless.yml, in either of its two forms. */
function deployedRoutes(): string[] {
  const serverless = parseYaml(read('serverless.yml'), CLOUDFORMATION_TAGS) as {
    functions: Record<
      string,
      { events?: { httpApi?: string | { method: string; path: string } }[] }
    >;
  };
  return Object.values(serverless.functions).flatMap((fn) =>
    (fn.events ?? []).flatMap((event) => {
      const route = event.httpApi;
      if (route === undefined) return [];
      if (typeof route === 'string') {
        const [method = '', path = ''] = route.trim().split(/\s+/);
        return [`${method.toUpperCase()} ${path}`];
      }
      return [`${route.method.toUpperCase()} ${route.path}`];
    }),
  );
}

/** The id the spec's components are registered under, so any schema can `$ref` into them. */
const SPEC_ID = 'https://tvm.example/openapi.json';

/**
 * A copy of a schema for ajv: every object schema with `properties` gets
 * `additionalProperties: false` (the schemas stay open for clients, since new fields may come,
 * but everything the code sends today must be documented), and `#/...` refs point into SPEC_ID.
 * Examples, enums and defaults are data, not schemas: copied as they are.
 */
function closedSchema(value: Json | undefined): Json {
  if (Array.isArray(value)) return value.map(closedSchema);
  if (!isObject(value)) return value ?? null;
  const copy: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    if (['const', 'enum', 'default', 'example', 'examples'].includes(key)) copy[key] = inner;
    else if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/')) {
      copy[key] = `${SPEC_ID}${inner}`;
    } else copy[key] = closedSchema(inner);
  }
  if (isObject(value.properties) && !('additionalProperties' in value)) {
    copy.additionalProperties = false;
  }
  return copy;
}

/** OpenAPI 3.1 schemas are JSON Schema 2020-12; strict, so a misspelt keyword fails the test. */
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv, ['date-time', 'uri']);
// Only the components are registered: the rest of the document is not a schema.
ajv.addKeyword({ keyword: 'components', schemaType: 'object' });
ajv.addSchema({ $id: SPEC_ID, components: closedSchema(spec.components) as JsonObject });
const compiled = new WeakMap<object, ValidateFunction>();

/** What is wrong with `value` under `schemaRef` (a schema of the spec, or a `$ref` into it). */
function validate(schemaRef: Json | undefined, value: unknown): string[] {
  if (!isObject(schemaRef)) return ['no schema'];
  let check = compiled.get(schemaRef);
  if (check === undefined) {
    check = ajv.compile(closedSchema(schemaRef) as JsonObject);
    compiled.set(schemaRef, check);
  }
  if (check(value)) return [];
  return (check.errors ?? []).map((error) => {
    const extra =
      error.keyword === 'additionalProperties' ? `: ${JSON.stringify(error.params)}` : '';
    return `${error.instancePath || '$'} ${error.message ?? error.keyword}${extra}`;
  });
}

function operation(method: string, path: string): JsonObject {
  const found = child(spec.paths, path, method);
  if (!isObject(found)) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
  return found;
}

function documentedResponse(method: string, path: string, status: number): JsonObject {
  const found = deref(child(operation(method, path).responses, String(status)));
  if (!isObject(found)) throw new Error(`${method} ${path} does not document ${status}`);
  return found;
}

/** Headers the code sets that a client relies on: each one it sends must be documented. */
const DOCUMENTED_HEADERS = ['allow', 'cache-control', 'pragma', 'retry-after'];

/** Checks a real answer against the documented response: media type, body and headers. */
function expectDocumented(method: string, path: string, result: CallResult): JsonObject {
  return expectResponse(documentedResponse(method, path, result.status), result);
}

function expectResponse(response: JsonObject, result: CallResult): JsonObject {
  const content = response.content as JsonObject;
  const mediaType = result.headers['content-type'] ?? '';
  expect(Object.keys(content), `${result.status} media type`).toContain(mediaType);
  expect(validate(child(content, mediaType, 'schema'), result.body)).toEqual([]);
  const headers = isObject(response.headers) ? response.headers : {};
  const documented = Object.keys(headers).map((name) => name.toLowerCase());
  for (const name of DOCUMENTED_HEADERS) {
    if (result.headers[name] !== undefined) expect(documented, `${result.status}`).toContain(name);
  }
  for (const [name, header] of Object.entries(headers)) {
    const sent = result.headers[name.toLowerCase()];
    if (child(header, 'required') === true) expect(sent, `header ${name}`).toBeDefined();
    if (sent === undefined) continue;
    const schema = child(header, 'schema');
    const typed = child(schema, 'type') === 'integer' ? Number(sent) : sent;
    expect(validate(schema, typed), `header ${name}`).toEqual([]);
  }
  return content[mediaType] as JsonObject;
}

function examplesOf(media: JsonObject): Record<string, Json> {
  const examples = isObject(media.examples) ? media.examples : {};
  return Object.fromEntries(
    Object.entries(examples).map(([name, example]) => [name, child(example, 'value') as Json]),
  );
}

/** Every request/response example in the spec, with the schema it claims to follow. */
function allExamples(): { where: string; schema: Json | undefined; value: Json }[] {
  const found: { where: string; schema: Json | undefined; value: Json }[] = [];
  const collect = (where: string, media: Json | undefined) => {
    if (!isObject(media)) return;
    for (const [name, value] of Object.entries(examplesOf(media))) {
      found.push({ where: `${where} example ${name}`, schema: media.schema, value });
    }
  };
  for (const route of documentedRoutes()) {
    const [method = '', path = ''] = route.split(' ');
    const op = operation(method.toLowerCase(), path);
    for (const [type, media] of Object.entries(
      (child(op.requestBody, 'content') ?? {}) as JsonObject,
    )) {
      collect(`${route} request ${type}`, media);
    }
    for (const [status, response] of Object.entries(op.responses as JsonObject)) {
      for (const [type, media] of Object.entries(
        (child(response, 'content') ?? {}) as JsonObject,
      )) {
        collect(`${route} ${status} ${type}`, media);
      }
    }
  }
  return found;
}

describe('docs/openapi.yaml', () => {
  it('is OpenAPI 3.1 with the v1 routes, SAML included', () => {
    expect(String(spec.openapi)).toMatch(/^3\.1\.\d+$/);
    expect(documentedRoutes().sort()).toEqual([
      'DELETE /v1/login/session',
      'GET /v1/credentials',
      'GET /v1/device',
      'GET /v1/health',
      'GET /v1/login/roles',
      'GET /v1/portal',
      'GET /v1/saml/{provider}/login',
      'GET /v1/saml/{provider}/metadata',
      'POST /v1/cognito-identity',
      'POST /v1/credentials',
      'POST /v1/device',
      'POST /v1/device/authorize',
      'POST /v1/device/confirm',
      'POST /v1/device/token',
      'POST /v1/login/credentials',
      'POST /v1/login/token',
      'POST /v1/portal/actions',
      'POST /v1/portal/signout',
      'POST /v1/saml/{provider}/acs',
      'POST /v1/saml/{provider}/select',
    ]);
  });

  it('documents exactly the routes serverless.yml deploys, refused methods apart', () => {
    expect([...documentedRoutes(), ...refusedRoutes()].sort()).toEqual(deployedRoutes().sort());
    // OPTIONS is API Gateway's CORS preflight: a route for it would send preflights to a Lambda.
    expect(deployedRoutes().filter((route) => route.startsWith('OPTIONS '))).toEqual([]);
    expect(refusedRoutes().sort()).toEqual([
      'DELETE /v1/cognito-identity',
      'DELETE /v1/credentials',
      'DELETE /v1/device',
      'DELETE /v1/device/authorize',
      'DELETE /v1/device/confirm',
      'DELETE /v1/device/token',
      'DELETE /v1/health',
      'DELETE /v1/login/credentials',
      'DELETE /v1/login/roles',
      'DELETE /v1/login/token',
      'DELETE /v1/portal',
      'DELETE /v1/portal/actions',
      'DELETE /v1/portal/signout',
      'GET /v1/cognito-identity',
      'GET /v1/device/authorize',
      'GET /v1/device/confirm',
      'GET /v1/device/token',
      'GET /v1/login/credentials',
      'GET /v1/login/session',
      'GET /v1/login/token',
      'GET /v1/portal/actions',
      'GET /v1/portal/signout',
      'GET /v1/saml/{provider}/acs',
      'HEAD /v1/cognito-identity',
      'HEAD /v1/credentials',
      'HEAD /v1/device',
      'HEAD /v1/device/authorize',
      'HEAD /v1/device/confirm',
      'HEAD /v1/device/token',
      'HEAD /v1/health',
      'HEAD /v1/login/credentials',
      'HEAD /v1/login/roles',
      'HEAD /v1/login/session',
      'HEAD /v1/login/token',
      'HEAD /v1/portal',
      'HEAD /v1/portal/actions',
      'HEAD /v1/portal/signout',
      'PATCH /v1/cognito-identity',
      'PATCH /v1/credentials',
      'PATCH /v1/device',
      'PATCH /v1/device/authorize',
      'PATCH /v1/device/confirm',
      'PATCH /v1/device/token',
      'PATCH /v1/health',
      'PATCH /v1/login/credentials',
      'PATCH /v1/login/roles',
      'PATCH /v1/login/session',
      'PATCH /v1/login/token',
      'PATCH /v1/portal',
      'PATCH /v1/portal/actions',
      'PATCH /v1/portal/signout',
      'POST /v1/health',
      'POST /v1/login/roles',
      'POST /v1/login/session',
      'POST /v1/portal',
      'PUT /v1/cognito-identity',
      'PUT /v1/credentials',
      'PUT /v1/device',
      'PUT /v1/device/authorize',
      'PUT /v1/device/confirm',
      'PUT /v1/device/token',
      'PUT /v1/health',
      'PUT /v1/login/credentials',
      'PUT /v1/login/roles',
      'PUT /v1/login/session',
      'PUT /v1/login/token',
      'PUT /v1/portal',
      'PUT /v1/portal/actions',
      'PUT /v1/portal/signout',
    ]);
  });

  it('requires the bearer token everywhere except the health route', () => {
    expect(child(spec.components, 'securitySchemes', 'idToken')).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(spec.security).toEqual([{ idToken: [] }]);
    expect(operation('get', '/v1/health').security).toEqual([]);
    expect(operation('get', '/v1/credentials').security).toBeUndefined();
    expect(operation('post', '/v1/credentials').security).toBeUndefined();
  });

  it('states the limits the code enforces', () => {
    expect(child(spec.components, 'schemas', 'Id', 'pattern')).toBe(ID_PATTERN.source);
    expect(child(spec.components, 'schemas', 'DurationSeconds')).toMatchObject({
      minimum: STS_LIMITS.minDurationSeconds,
      maximum: STS_LIMITS.maxDurationSeconds,
    });
    const text = read('docs/openapi.yaml');
    expect(text).toContain(MAX_AUTHORIZATION_BYTES.toLocaleString('en-US'));
    expect(text).toContain(MAX_BODY_BYTES.toLocaleString('en-US'));
    const query = (operation('get', '/v1/credentials').parameters as Json[]).map((p) =>
      child(p, 'name'),
    );
    expect(query.sort()).toEqual(['durationSeconds', 'format', 'mapping', 'provider']);
    expect(child(spec.components, 'parameters', 'Format', 'schema', 'enum')).toEqual([
      'container',
      'process',
    ]);
  });

  it('has a schema check that refuses undocumented fields, wrong types and bad formats', () => {
    const problem = { $ref: '#/components/schemas/Problem' };
    const valid = {
      type: 'urn:tvm:problem:forbidden',
      title: 'Forbidden',
      status: 403,
      requestId: 'r',
    };
    expect(validate(problem, valid)).toEqual([]);
    expect(validate(problem, { ...valid, reason: 'denied_principal' })).not.toEqual([]);
    expect(validate(problem, { ...valid, status: '403' })).not.toEqual([]);
    expect(validate(problem, { ...valid, type: 'urn:tvm:problem:Forbidden!' })).not.toEqual([]);
    const { requestId: _, ...withoutId } = valid;
    expect(validate(problem, withoutId)).not.toEqual([]);
  });

  it('has examples that follow their own schemas', () => {
    const examples = allExamples();
    expect(examples.length).toBeGreaterThan(10);
    for (const { where, schema, value } of examples) {
      expect(validate(schema, value), where).toEqual([]);
    }
  });

  it('uses only problem types the code can produce', () => {
    const codes = APP_ERROR_CODES.map(problemType);
    expect(codes).toContain('urn:tvm:problem:bad-request');
    const used = [...read('docs/openapi.yaml').matchAll(/urn:tvm:problem:[a-z-]+/g)].map(
      (match) => match[0],
    );
    expect(used.length).toBeGreaterThan(0);
    for (const type of used) expect(codes).toContain(type);
  });

  const validator = `${root}.venv/bin/openapi-spec-validator`;
  it('passes openapi-spec-validator', () => {
    expect(existsSync(validator), `${validator} is missing: run \`npm run setup\``).toBe(true);
    const run = spawnSync(validator, ['--schema', '3.1', `${root}docs/openapi.yaml`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.error).toBeUndefined();
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
  }, 90_000);
});

describe('docs/openapi.yaml against the real health handler', () => {
  it('GET /v1/health', async () => {
    const result = await health(httpEvent({ method: 'GET', path: '/v1/health' }));
    expectDocumented('get', '/v1/health', {
      status: result.statusCode ?? 0,
      headers: result.headers as Record<string, string>,
      body: JSON.parse(String(result.body)) as Record<string, unknown>,
      raw: String(result.body),
    });
  });

  const refusedHealth = refusedRoutes()
    .filter((route) => route.endsWith(' /v1/health'))
    .map((route) => route.split(' ')[0] ?? '');
  it.each(refusedHealth)('%s /v1/health is the documented 405 with Allow', async (method) => {
    const result = await healthHandler(httpEvent({ method, path: '/v1/health' }), fakeContext());
    const call = {
      status: result.statusCode ?? 0,
      headers: result.headers as Record<string, string>,
      body: JSON.parse(String(result.body)) as Record<string, unknown>,
      raw: String(result.body),
    };
    expect(call.status).toBe(405);
    expectResponse(
      deref(child(spec.components, 'responses', 'MethodNotAllowed')) as JsonObject,
      call,
    );
    expect(call.headers.allow).toBe(allowedMethods('/v1/health'));
  });
});

describe('docs/openapi.yaml against the real credentials route', () => {
  let harness: Harness;

  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(async () => {
    await harness.stop();
  });

  it('POST /v1/credentials answers the documented JSON, never cached', async () => {
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(200);
    expectDocumented('post', '/v1/credentials', result);
    expect(result.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache' });
  });

  it.each([
    ['container', {}, 'ContainerCredentials'],
    ['container', { format: 'container' }, 'ContainerCredentials'],
    ['process', { format: 'process' }, 'ProcessCredentials'],
  ])(
    'GET /v1/credentials in the %s format, as its documented oneOf branch and example',
    async (name, query, schemaName) => {
      const result = await harness.call({ method: 'GET', token: await harness.mint(), query });
      expect(result.status).toBe(200);
      const media = expectDocumented('get', '/v1/credentials', result);
      expect(validate({ $ref: `#/components/schemas/${schemaName}` }, result.body)).toEqual([]);
      expect(Object.keys(result.body).sort()).toEqual(
        Object.keys(examplesOf(media)[name] as JsonObject).sort(),
      );
      expect(result.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache' });
    },
  );

  /** [documented status, its example, the request that must reproduce it exactly]. */
  const errorCases: [number, string, string, (token: string) => CallOptions][] = [
    [
      400,
      'unknownField',
      'a body naming a role ARN',
      (token) => ({
        token,
        body: JSON.stringify({ roleArn: 'arn:aws:iam::999999999999:role/tvm/admin' }),
      }),
    ],
    [
      400,
      'duration',
      'durationSeconds 43200',
      (token) => ({
        token,
        body: JSON.stringify({ durationSeconds: 43_200 }),
      }),
    ],
    [400, 'notJson', 'a body that is not JSON', (token) => ({ token, body: '{"mapping":' })],
    [
      415,
      'unsupportedMediaType',
      'a text/plain body',
      (token) => ({ token, body: '{}', contentType: 'text/plain' }),
    ],
    [401, 'unauthorized', 'no Authorization header (GET)', () => ({ method: 'GET' })],
    [
      401,
      'unauthorized',
      'a Basic Authorization header',
      () => ({
        authorization: 'Basic dXNlcjpwYXNz',
      }),
    ],
    [401, 'unauthorized', 'a bearer that is not a JWT', () => ({ token: 'not-a-jwt' })],
    [
      401,
      'unauthorized',
      'a provider the token was not issued by',
      (token) => ({
        token,
        body: JSON.stringify({ provider: 'other' }),
      }),
    ],
    [
      403,
      'forbidden',
      'a mapping the caller does not match',
      (token) => ({
        token,
        body: JSON.stringify({ mapping: 'admin' }),
      }),
    ],
    [
      413,
      'body',
      'a body over the limit',
      (token) => ({
        token,
        body: JSON.stringify({ mapping: 'x'.repeat(MAX_BODY_BYTES) }),
      }),
    ],
    [
      413,
      'authorization',
      'an Authorization header over the limit',
      () => ({
        authorization: `Bearer ${'a'.repeat(MAX_AUTHORIZATION_BYTES)}`,
      }),
    ],
  ];

  it.each(errorCases)('%i %s: %s', async (status, example, _label, build) => {
    const call = build(await harness.mint());
    const result = await harness.call(call);
    expect(result.status).toBe(status);
    const media = expectDocumented(
      (call.method ?? 'POST').toLowerCase(),
      '/v1/credentials',
      result,
    );
    expect({ ...result.body, requestId: 'x' }).toEqual({
      ...(examplesOf(media)[example] as JsonObject),
      requestId: 'x',
    });
    expect(result.headers['cache-control']).toBe('no-store');
  });

  const refusedCredentials = refusedRoutes()
    .filter((route) => route.endsWith(' /v1/credentials'))
    .map((route) => route.split(' ')[0] ?? '');
  it.each(refusedCredentials)(
    '%s /v1/credentials is the documented 405 with Allow, as its example',
    async (method) => {
      const result = await harness.call({ method, token: await harness.mint() });
      expect(result.status).toBe(405);
      const response = deref(child(spec.components, 'responses', 'MethodNotAllowed')) as JsonObject;
      const media = expectResponse(response, result);
      expect(result.headers.allow).toBe(allowedMethods('/v1/credentials'));
      expect({ ...result.body, requestId: 'x' }).toEqual({
        ...(examplesOf(media).methodNotAllowed as JsonObject),
        requestId: 'x',
      });
    },
  );

  it('500 is what the code answers when STS fails in an unforeseen way', async () => {
    stsMock.on(AssumeRoleCommand).rejects(new Error('something nobody foresaw'));
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(500);
    const media = expectDocumented('post', '/v1/credentials', result);
    expect({ ...result.body, requestId: 'x' }).toEqual({
      ...(examplesOf(media).internal as JsonObject),
      requestId: 'x',
    });
  });

  it('503 with Retry-After is what the code answers when a dependency is down', async () => {
    stsMock
      .on(AssumeRoleCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'Throttling' }));
    const result = await harness.call({ token: await harness.mint() });
    expect(result.status).toBe(503);
    const media = expectDocumented('post', '/v1/credentials', result);
    expect(Number(result.headers['retry-after'])).toBeGreaterThan(0);
    expect({ ...result.body, requestId: 'x' }).toEqual({
      ...(examplesOf(media).upstream as JsonObject),
      requestId: 'x',
    });
  });

  it('503 with Retry-After when no config was ever applied (GET too)', async () => {
    const bare = await startHarness({ withoutConfig: true });
    try {
      const result = await bare.call({ method: 'GET', token: await bare.mint() });
      expect(result.status).toBe(503);
      expectDocumented('get', '/v1/credentials', result);
      expect(result.headers['retry-after']).toBe('30');
    } finally {
      await bare.stop();
    }
  });
});

describe('docs/openapi.yaml against the real login routes', () => {
  const asCall = (answer: HttpAnswer): CallResult => ({
    status: answer.status,
    headers: answer.headers,
    body: answer.json,
    raw: answer.body,
  });

  it('each /v1/login route answers as documented, success and refusal', async () => {
    const h = startLoginHarness();
    const pkce = cliPkce();
    const code = await h.code(pkce);
    const grant = {
      grant_type: 'authorization_code',
      code,
      code_verifier: pkce.verifier,
      redirect_uri: pkce.redirectUri,
    };
    const token = await h.token(grant);
    expect(token.status).toBe(200);
    expectDocumented('post', '/v1/login/token', asCall(token));
    const replay = await h.token(grant);
    expect(replay.status).toBe(400);
    expectDocumented('post', '/v1/login/token', asCall(replay));
    const handle = String(token.json.session);
    const roles = await h.roles(handle);
    expect(roles.status).toBe(200);
    expectDocumented('get', '/v1/login/roles', asCall(roles));
    const vended = await h.credentials(handle, { mapping: 'corp-reader' });
    expect(vended.status).toBe(200);
    expectDocumented('post', '/v1/login/credentials', asCall(vended));
    const forbidden = await h.credentials(handle, { mapping: 'nope' });
    expect(forbidden.status).toBe(403);
    expectDocumented('post', '/v1/login/credentials', asCall(forbidden));
    const ended = await h.logout(handle);
    expect(ended.status).toBe(204);
    expect(ended.headers['cache-control']).toBe('no-store');
    for (const answer of [await h.roles(handle), await h.logout(handle)]) {
      expect(answer.status).toBe(401);
      expectDocumented('get', '/v1/login/roles', asCall(answer));
    }
    const started = await h.start({ target: 'cli', redirect_uri: 'https://evil.example/' });
    expect(started.status).toBe(400);
    expect(
      Object.keys(
        documentedResponse('get', '/v1/saml/{provider}/login', 400).content as JsonObject,
      ),
    ).toContain(started.headers['content-type']);
  });
});

describe('docs/api.md', () => {
  const guide = read('docs/api.md');

  it('lists every audit reason of the one vocabulary (shared/errors.ts)', () => {
    const missing = AUDIT_REASONS.filter((reason) => !guide.includes(`\`${reason}\``));
    expect(missing).toEqual([]);
  });

  it('links the OpenAPI file and the SAML guide, and names every SAML route', () => {
    expect(guide).toContain('openapi.yaml');
    expect(guide).toContain('(saml.md)');
    expect(guide).not.toMatch(/## Planned/);
    for (const route of ['metadata', 'login', 'acs', 'select']) {
      expect(guide).toContain(`/v1/saml/{provider}/${route}`);
    }
  });
});
