import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { METRIC_NAMES } from '#shared/metrics.ts';
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

    // Parameter Store: only GetParameter, only the SAML signing and decryption keys of this stage.
    const ssm = statements.filter((statement) =>
      asArray(statement.Action).some((action) => action.startsWith('ssm:')),
    );
    expect(ssm).toHaveLength(1);
    expect(asArray(ssm[0]?.Action)).toEqual(['ssm:GetParameter']);
    const parameters = asArray(ssm[0]?.Resource).map((resource) => JSON.stringify(resource));
    expect(parameters).toHaveLength(2);
    expect(parameters[0]).toMatch(/:parameter\/tvm\/prod\/saml-signing-key"\}?$/);
    expect(parameters[1]).toMatch(/:parameter\/tvm\/prod\/saml-decryption-key"\}?$/);
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

  // ---- Monitoring: the alarms, the dashboard and the params that switch them (serverless.yml) ----

  const NOTIFY = {
    'Fn::If': ['TvmAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }],
  };
  const FUNCTIONS = ['Credentials', 'Saml', 'CognitoIdentity', 'Login', 'Health'];
  const CORE_ALARMS: Record<string, string> = {
    AuditWriteFailedAlarm: 'AuditWriteFailed',
    StsThrottledAlarm: 'StsThrottled',
    StsUnavailableAlarm: 'StsUnavailable',
    JwksUnavailableAlarm: 'JwksUnavailable',
    ConfigUnavailableAlarm: 'ConfigUnavailable',
    DeniedThresholdAlarm: 'Denied',
  };
  const ALARMS = [
    ...Object.keys(CORE_ALARMS),
    'DeniedSpikeAlarm',
    'ApiServerErrorsAlarm',
    ...FUNCTIONS.flatMap((fn) => [
      `${fn}ErrorRateAlarm`,
      `${fn}DurationAlarm`,
      `${fn}ThrottlesAlarm`,
    ]),
  ];
  const STAGE_DIMENSIONS = [
    { Name: 'service', Value: 'tvm' },
    { Name: 'stage', Value: 'prod' },
  ];

  it('carries every alarm, each switched by the alarms param and notifying the optional SNS topic', () => {
    // Prepare
    const alarms = Object.fromEntries(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));
    const resources = template.Resources as Record<string, CfnResource & { Condition?: string }>;

    // Assess: every function has its alarms (a new function without them fails here).
    const functions = Object.keys(
      Object.fromEntries(resourcesOfType(template, 'AWS::Lambda::Function')),
    );
    expect(functions.map((name) => name.replace(/LambdaFunction$/, '')).sort()).toEqual(
      [...FUNCTIONS].sort(),
    );
    // Exactly these alarms, all switchable, all notifying through the one conditional topic.
    expect(Object.keys(alarms).sort()).toEqual([...ALARMS].sort());
    for (const name of ALARMS) {
      expect(['TvmAlarms', 'TvmDeniedAnomaly', 'TvmDeniedStatic'], name).toContain(
        resources[name]?.Condition,
      );
      expect(alarms[name]?.Properties, name).toMatchObject({
        AlarmName: expect.stringMatching(/^tvm-prod-/),
        AlarmActions: NOTIFY,
        OKActions: NOTIFY,
        TreatMissingData: 'notBreaching',
      });
    }
    const conditions = (template as CfnTemplate & { Conditions: Record<string, unknown> })
      .Conditions;
    expect(conditions).toMatchObject({
      TvmAlarms: { 'Fn::Equals': [{ Ref: 'Alarms' }, 'true'] },
      TvmDashboard: { 'Fn::Equals': [{ Ref: 'Dashboard' }, 'true'] },
      TvmAlarmTopic: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }] },
      // Exactly one of the two denial alarms, and only with the alarms on.
      TvmDeniedAnomaly: {
        'Fn::And': [
          { Condition: 'TvmAlarms' },
          { 'Fn::Equals': [{ Ref: 'AlarmDeniedThreshold' }, '0'] },
        ],
      },
      TvmDeniedStatic: {
        'Fn::And': [
          { Condition: 'TvmAlarms' },
          { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmDeniedThreshold' }, '0'] }] },
        ],
      },
    });
    const parameters = (
      template as CfnTemplate & { Parameters: Record<string, { Default: string }> }
    ).Parameters;
    expect(Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, v.Default]))).toEqual({
      Alarms: 'true',
      Dashboard: 'true',
      AlarmTopicArn: '',
      AlarmDeniedThreshold: '0',
    });
  });

  it('reads the metrics the code writes: namespace TVM, service and stage dimensions, the metric names', () => {
    for (const [name, metric] of Object.entries(CORE_ALARMS)) {
      expect(METRIC_NAMES).toContain(metric);
      expect(template.Resources[name]?.Properties, name).toMatchObject({
        Namespace: 'TVM',
        MetricName: metric,
        Dimensions: STAGE_DIMENSIONS,
        Statistic: 'Sum',
      });
    }
    // Any audit write failure, and any request refused for want of keys or config.
    for (const name of [
      'AuditWriteFailedAlarm',
      'JwksUnavailableAlarm',
      'ConfigUnavailableAlarm',
    ]) {
      expect(template.Resources[name]?.Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    expect(template.Resources.DeniedSpikeAlarm?.Properties).toMatchObject({
      ComparisonOperator: 'GreaterThanUpperThreshold',
      ThresholdMetricId: 'band',
      Metrics: [
        {
          Id: 'denied',
          MetricStat: {
            Metric: { Namespace: 'TVM', MetricName: 'Denied', Dimensions: STAGE_DIMENSIONS },
            Stat: 'Sum',
          },
        },
        { Id: 'band', Expression: 'ANOMALY_DETECTION_BAND(denied, 3)' },
      ],
    });
    expect(template.Resources.ApiServerErrorsAlarm?.Properties.Metrics).toMatchObject([
      { Id: 'rate', Expression: '100 * FILL(errors, 0) / requests' },
      { MetricStat: { Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5xx' } } },
      { MetricStat: { Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count' } } },
    ]);
  });

  it.each(FUNCTIONS)(
    '%s: a 5xx rate, a p99 duration below its timeout and a throttles alarm',
    (fn) => {
      // Prepare
      const ref = { Ref: `${fn}LambdaFunction` };
      const timeoutMs =
        (template.Resources[`${fn}LambdaFunction`]?.Properties.Timeout as number) * 1000;
      const byFunction = [{ Name: 'FunctionName', Value: ref }];

      // Assess: handled 5xx (Http5xx) plus Lambda Errors, over invocations, of this function.
      expect(template.Resources[`${fn}ErrorRateAlarm`]?.Properties).toMatchObject({
        Threshold: 5,
        Metrics: [
          { Id: 'rate', Expression: '100 * (FILL(answered, 0) + FILL(crashed, 0)) / invocations' },
          {
            Id: 'answered',
            MetricStat: {
              Metric: {
                Namespace: 'TVM',
                MetricName: 'Http5xx',
                Dimensions: [...STAGE_DIMENSIONS, { Name: 'function_name', Value: ref }],
              },
            },
          },
          {
            Id: 'crashed',
            MetricStat: { Metric: { MetricName: 'Errors', Dimensions: byFunction } },
          },
          {
            Id: 'invocations',
            MetricStat: { Metric: { MetricName: 'Invocations', Dimensions: byFunction } },
          },
        ],
      });
      const duration = template.Resources[`${fn}DurationAlarm`]?.Properties;
      expect(duration).toMatchObject({
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Dimensions: byFunction,
      });
      // Near the timeout: alarms before the function is killed, but not at ordinary latencies.
      expect(duration?.Threshold as number).toBeLessThan(timeoutMs);
      expect(duration?.Threshold as number).toBeGreaterThanOrEqual(timeoutMs / 2);
      expect(template.Resources[`${fn}ThrottlesAlarm`]?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: byFunction,
        Threshold: 1,
      });
    },
  );

  it('carries the dashboard: vends by provider and mapping, outcomes by reason, STS latency, reuse, cold starts', () => {
    // Prepare
    const dashboard = template.Resources.MonitoringDashboard as CfnResource & {
      Condition?: string;
    };
    const sub = (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
    // Only CloudFormation's own placeholders are left: every serverless variable was resolved.
    const placeholders = new Set([...sub.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]));

    // Act
    const body = JSON.parse(
      sub.replace(/\$\{AWS::Region\}/g, 'eu-west-1').replace(/\$\{HttpApi\}/g, 'abc123'),
    ) as { widgets: { properties: { title: string; metrics: unknown[] } }[] };

    // Assess
    expect(dashboard.Type).toBe('AWS::CloudWatch::Dashboard');
    expect(dashboard.Condition).toBe('TvmDashboard');
    expect(dashboard.Properties.DashboardName).toBe('tvm-prod');
    expect([...placeholders].sort()).toEqual(['AWS::Region', 'HttpApi']);
    const titles = body.widgets.map((widget) => widget.properties.title);
    for (const title of [
      'Vends/s by provider and mapping',
      'Outcomes by reason (per minute)',
      'STS latency (ms) and failed attempts',
      'Reuse hit rate (%)',
      'Cold starts by function',
    ]) {
      expect(titles).toContain(title);
    }
    const text = JSON.stringify(body);
    expect(text).toContain(
      'SEARCH(\'{TVM,service,stage,provider,mapping} MetricName=\\"Vend\\" service=\\"tvm\\" stage=\\"prod\\"\'',
    );
    expect(text).toContain('{TVM,service,stage,reason} MetricName=\\"Outcome\\"');
    expect(text).toContain('100 * FILL(hits, 0) / vends');
    for (const name of ['StsLatency', 'ReuseHit', 'ColdStart', 'Http5xx'])
      expect(text).toContain(name);
  });

  it('switches the alarms and the dashboard off with stage params (the stack parameters default to them)', async () => {
    // Act: variable resolution only, which is what packaging does with params.
    const print = async (args: string[]) => {
      const run = await runCommand(
        'npx',
        ['serverless', 'print', ...args, '--format', 'json', '--path', 'resources.Parameters'],
        { timeoutMs: 60_000 },
      );
      expect(run.code, run.output).toBe(0);
      const parameters = JSON.parse(run.stdout) as Record<string, { Default: string }>;
      return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, v.Default]));
    };
    const off = await print([
      '--stage',
      'prod',
      '--param=alarms=false',
      '--param=dashboard=false',
      '--param=alarmTopicArn=arn:aws:sns:eu-west-1:123456789012:tvm-ops',
      '--param=alarmDeniedThreshold=50',
    ]);
    const local = await print(['--stage', 'local']);

    // Assess
    expect(off).toEqual({
      Alarms: 'false',
      Dashboard: 'false',
      AlarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:tvm-ops',
      AlarmDeniedThreshold: '50',
    });
    expect(local).toMatchObject({ Alarms: 'false', Dashboard: 'false' });
  });
});
