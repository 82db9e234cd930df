import type { Context } from 'aws-lambda';
import { type HttpEvent, withHttpStack } from '#functions/http/middleware.ts';
import { createDeviceDeps } from './deps.ts';
import { deviceRoute, isDevicePath } from './device.ts';
import { loginRoute } from './route.ts';

// The composition root: built once per container.
const deps = createDeviceDeps();
const login = loginRoute(deps);
const device = deviceRoute(deps);

/**
 * POST /v1/login/token, GET /v1/login/roles, POST /v1/login/credentials, DELETE /v1/login/session:
 * the terminal login (`tvm-login`) after its browser sign-in; and /v1/device/* (RFC 8628), the
 * device flow that ends in the same login sessions. No OIDC and no SAML code in it.
 */
export const handler = withHttpStack((event: HttpEvent, context: Context) =>
  isDevicePath(event.rawPath) ? device(event, context) : login(event, context),
);
