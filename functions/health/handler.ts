import {
  type HttpEvent,
  type HttpResult,
  json,
  withHttpStack,
} from '#functions/http/middleware.ts';
import { MethodNotAllowedError } from '#shared/errors.ts';

/** serverless.yml routes the other methods here only so that they get 405 and `Allow`. */
const HEALTH_METHODS = ['GET'] as const;

/** Liveness only: no DynamoDB or STS call, so an outage elsewhere does not read as "down". */
export async function health(event: HttpEvent): Promise<HttpResult> {
  const method = event.requestContext.http.method;
  if (!(HEALTH_METHODS as readonly string[]).includes(method)) {
    throw new MethodNotAllowedError(HEALTH_METHODS);
  }
  return json(200, { status: 'ok', service: 'tvm', stage: process.env.TVM_STAGE ?? 'unknown' });
}

export const handler = withHttpStack(health);
