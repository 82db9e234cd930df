import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/** A typed Lambda context, as the runtime would pass it. */
export function fakeContext(overrides: Partial<Context> = {}): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'tvm-test-health',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:tvm-test-health',
    memoryLimitInMB: '256',
    awsRequestId: 'lambda-request-0001',
    logGroupName: '/aws/lambda/tvm-test-health',
    logStreamName: '2026/11/28/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    ...overrides,
  };
}

export interface HttpEventOptions {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  requestId?: string;
  query?: Record<string, string>;
  /** The client address API Gateway saw (default 192.0.2.10). */
  sourceIp?: string;
}

/** An API Gateway HTTP API (payload 2.0) event. */
export function httpEvent(options: HttpEventOptions = {}): APIGatewayProxyEventV2 {
  const method = options.method ?? 'GET';
  const path = options.path ?? '/v1/health';
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    ...(options.query === undefined ? {} : { queryStringParameters: options.query }),
    headers: { host: 'tvm.example.test', 'user-agent': 'vitest', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'tvmunit01',
      domainName: 'tvm.example.test',
      domainPrefix: 'tvm',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: options.sourceIp ?? '192.0.2.10',
        userAgent: 'vitest',
      },
      requestId: options.requestId ?? 'apigw-request-0001',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '28/Nov/2026:12:00:00 +0000',
      timeEpoch: 1_795_867_200_000,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
  };
}
