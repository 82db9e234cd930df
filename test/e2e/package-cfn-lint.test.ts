import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ACCESS_KEY_INDEX, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/store/table.ts';
import { childEnv, type RunResult, repoRoot, runCommand } from '../support/process.ts';

interface CfnResource {
  Type: string;
  // Every resource this test inspects has properties; `{}` stands in for the ones that do not.
  Properties: Record<string, unknown>;
}

interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, unknown>;
}

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Entry names from a zip's central directory: enough to check contents without a zip library. */
function zipEntryNames(zip: Buffer): string[] {
  const endOfCentralDirectory = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endOfCentralDirectory === -1) throw new Error('not a zip file');
  const count = zip.readUInt16LE(endOfCentralDirectory + 10);
  let offset = zip.readUInt32LE(endOfCentralDirectory + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    names.push(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

/** One entry's bytes (stored or deflated), read through the central directory. */
function zipEntry(zip: Buffer, name: string): Buffer {
  const endOfCentralDirectory = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(endOfCentralDirectory + 10);
  let offset = zip.readUInt32LE(endOfCentralDirectory + 16);
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const local = zip.readUInt32LE(offset + 42);
    if (zip.toString('utf8', offset + 46, offset + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${name}: zip method ${method}`);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} is not in the zip`);
}

function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

describe('serverless package (prod, offline, no AWS credentials)', () => {
  let outDir: string;
  let packaged: RunResult;
  let template: CfnTemplate;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'tvm-package-'));
    const noAws = path.join(outDir, 'no-such-aws-file');
    packaged = await runCommand(
      'npx',
      ['serverless', 'package', '--stage', 'prod', '--package', outDir],
      {
        env: childEnv({
          // Packaging must need no account: no keys, no profile, no endpoint, no metadata service.
          unset: [
            'AWS_ACCESS_KEY_ID',
            'AWS_SECRET_ACCESS_KEY',
            'AWS_SESSION_TOKEN',
            'AWS_SECURITY_TOKEN',
            'AWS_PROFILE',
            'AWS_DEFAULT_PROFILE',
            'AWS_ROLE_ARN',
            'AWS_WEB_IDENTITY_TOKEN_FILE',
            'AWS_CONTAINER_*',
            'AWS_ENDPOINT_URL*',
          ],
          set: {
            AWS_SHARED_CREDENTIALS_FILE: noAws,
            AWS_CONFIG_FILE: noAws,
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        }),
        timeoutMs: 150_000,
      },
    );
    if (packaged.code === 0) {
      const file = path.join(outDir, 'cloudformation-template-update-stack.json');
      template = JSON.parse(await readFile(file, 'utf8')) as CfnTemplate;
    }
  });

  afterAll(async () => {
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
  });

  it('packages without AWS credentials or network', () => {
    expect(packaged.code, packaged.output).toBe(0);
  });

  it('passes cfn-lint with no errors and no warnings', async () => {
    // Prepare
    const cfnLint = path.join(repoRoot, '.venv', 'bin', 'cfn-lint');
    expect(existsSync(cfnLint), `${cfnLint} is missing: run \`npm run setup\``).toBe(true);

    // Act
    const lint = await runCommand(
      cfnLint,
      [path.join(outDir, 'cloudformation-template-update-stack.json')],
      { timeoutMs: 120_000 },
    );

    // Assess
    expect(lint.code, lint.output).toBe(0);
  });

  it('runs every function on nodejs24.x and arm64, with the table name but no AWS_ variables', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        Timeout: 10,
      });
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> })
        .Variables;
      expect(variables).toMatchObject({
        TVM_STAGE: 'prod',
        TVM_TABLE_NAME: 'tvm-prod',
        POWERTOOLS_SERVICE_NAME: 'tvm',
        POWERTOOLS_METRICS_NAMESPACE: 'TVM',
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(Object.keys(variables).filter((name) => name.startsWith('AWS_'))).toEqual([]);
    }
  });

  it('declares the table on-demand, with TTL on expiresAt, PITR, SSE and retained on delete', () => {
    const table = template.Resources.TvmTable as CfnResource & Record<string, unknown>;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      TableName: 'tvm-prod',
      BillingMode: 'PAY_PER_REQUEST',
      // The same keys the code and the local stack use (shared/store/table.ts).
      KeySchema: [
        { AttributeName: TABLE_KEYS.partition, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sort, KeyType: 'RANGE' },
      ],
      // `tvm audit key`: the sparse, keys-only index the local stack creates from the same constants.
      GlobalSecondaryIndexes: [
        {
          IndexName: ACCESS_KEY_INDEX.name,
          KeySchema: [
            { AttributeName: ACCESS_KEY_INDEX.partition, KeyType: 'HASH' },
            { AttributeName: ACCESS_KEY_INDEX.sort, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: ACCESS_KEY_INDEX.projection },
        },
      ],
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(template.Outputs).toHaveProperty('TvmTableName');
    expect(template.Outputs).toHaveProperty('HttpApiUrl');
  });

  it('grants least privilege: no wildcard action, no Scan, sts only on roles under /tvm/', () => {
    const statements = resourcesOfType(template, 'AWS::IAM::Role').flatMap(([, role]) =>
      (role.Properties.Policies as { PolicyDocument: { Statement: PolicyStatement[] } }[]).flatMap(
        (policy) => policy.PolicyDocument.Statement,
      ),
    );
    const actions = statements.flatMap((statement) => asArray(statement.Action));
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual(
      [
        'dynamodb:BatchGetItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ].sort(),
    );

    const sts = statements.filter((statement) =>
      asArray(statement.Action).some((action) => action.startsWith('sts:')),
    );
    expect(sts).toHaveLength(1);
    expect(asArray(sts[0]?.Action).sort()).toEqual(
      ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'].sort(),
    );
    const resources = asArray(sts[0]?.Resource).map((resource) => JSON.stringify(resource));
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatch(/:role\/tvm\/\*"\}?$/);

    // Parameter Store: only GetParameter, only the SAML signing key of this stage.
    const ssm = statements.filter((statement) =>
      asArray(statement.Action).some((action) => action.startsWith('ssm:')),
    );
    expect(ssm).toHaveLength(1);
    expect(asArray(ssm[0]?.Action)).toEqual(['ssm:GetParameter']);
    const parameters = asArray(ssm[0]?.Resource).map((resource) => JSON.stringify(resource));
    expect(parameters).toHaveLength(1);
    expect(parameters[0]).toMatch(/:parameter\/tvm\/prod\/saml-signing-key"\}?$/);
  });

  it('answers CORS for exactly the prod allowlist of origins (none by default), methods and headers', async () => {
    // Prepare: the stage's own param, as serverless.yml states it (prod falls back to default).
    const params = (
      parseDocument(await readFile(path.join(repoRoot, 'serverless.yml'), 'utf8')).toJS() as {
        params: Record<string, { corsAllowedOrigins?: string[] } | undefined>;
      }
    ).params;
    const origins = params.prod?.corsAllowedOrigins ?? params.default?.corsAllowedOrigins;
    expect(origins).toEqual([]);

    // Act
    const apis = resourcesOfType(template, 'AWS::ApiGatewayV2::Api');

    // Assess: exactly these keys, so no AllowCredentials, ExposeHeaders or wildcard creeps in.
    expect(apis).toHaveLength(1);
    expect(apis[0]?.[1].Properties.CorsConfiguration).toEqual({
      AllowOrigins: origins,
      // The Cognito Identity clients' headers, listed one by one (HTTP API CORS has no wildcard prefix).
      AllowHeaders: [
        'authorization',
        'content-type',
        'x-amz-target',
        'x-amz-user-agent',
        'cache-control',
        'amz-sdk-invocation-id',
        'amz-sdk-request',
      ],
      AllowMethods: ['GET', 'POST', 'OPTIONS'],
      MaxAge: 300,
    });
  });

  it('routes only declared methods: no ANY, $default or OPTIONS route (CORS preflights stay with API Gateway)', () => {
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(
      ([, route]) => route.Properties.RouteKey as string,
    );
    expect(routes.filter((key) => /^(ANY|OPTIONS) |^\$default$/.test(key))).toEqual([]);
    // The refused methods reach the functions, which answer 405 with Allow (and audit).
    expect(routes.filter((key) => key.endsWith(' /v1/credentials')).sort()).toEqual([
      'DELETE /v1/credentials',
      'GET /v1/credentials',
      'HEAD /v1/credentials',
      'PATCH /v1/credentials',
      'POST /v1/credentials',
      'PUT /v1/credentials',
    ]);
  });

  it('throttles the API stage and the credentials routes at API Gateway', () => {
    const [, stage] = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage')[0] ?? [];
    expect(stage?.Properties).toMatchObject({
      DefaultRouteSettings: { ThrottlingBurstLimit: 1000, ThrottlingRateLimit: 500 },
      RouteSettings: {
        'POST /v1/credentials': { ThrottlingBurstLimit: 600, ThrottlingRateLimit: 300 },
        'POST /v1/cognito-identity': { ThrottlingBurstLimit: 600, ThrottlingRateLimit: 300 },
        'GET /v1/credentials': { ThrottlingBurstLimit: 600, ThrottlingRateLimit: 300 },
        'GET /v1/saml/{provider}/login': { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
        'POST /v1/saml/{provider}/acs': { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
        'POST /v1/saml/{provider}/select': { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
      },
    });
  });

  it.each(['Credentials', 'Saml', 'Health', 'CognitoIdentity'])(
    '%s ships its minified CJS bundle and its source map, without the esbuild metafile',
    async (name) => {
      // Prepare
      const fn = template.Resources[`${name}LambdaFunction`];
      expect(fn?.Type).toBe('AWS::Lambda::Function');
      const s3Key = (fn?.Properties.Code as { S3Key: string } | undefined)?.S3Key ?? '';
      const dir = `functions/${name === 'CognitoIdentity' ? 'cognito-identity' : name.toLowerCase()}`;

      // Act
      const zip = await readFile(path.join(outDir, path.basename(s3Key)));
      const entries = zipEntryNames(zip);
      const code = zipEntry(zip, `${dir}/handler.cjs`).toString('utf8');

      // Assess
      expect(entries.sort()).toEqual([`${dir}/handler.cjs`, `${dir}/handler.cjs.map`]);
      // esbuild writes a `// <source path>` line before each module only when not minifying.
      expect(code).not.toMatch(/^\/\/ (functions|shared|node_modules)\//m);
      expect(code.trimEnd().endsWith('//# sourceMappingURL=handler.cjs.map')).toBe(true);
      const map = JSON.parse(zipEntry(zip, `${dir}/handler.cjs.map`).toString('utf8')) as {
        sources: string[];
      };
      expect(map.sources.filter((source) => source.endsWith(`/${dir}/handler.ts`))).toHaveLength(1);
    },
  );
});
