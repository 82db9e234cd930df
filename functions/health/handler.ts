import { type HttpResult, json, withHttpStack } from '#shared/http/middleware.ts';

/** Liveness only: no DynamoDB or STS call, so an outage elsewhere does not read as "down". */
export async function health(): Promise<HttpResult> {
  return json(200, { status: 'ok', service: 'tvm', stage: process.env.TVM_STAGE ?? 'unknown' });
}

export const handler = withHttpStack(health);
