import { withHttpStack } from '#functions/http/middleware.ts';
import { createLoginDeps } from './deps.ts';
import { loginRoute } from './route.ts';

// The composition root: built once per container.
const deps = createLoginDeps();

/**
 * POST /v1/login/token, GET /v1/login/roles, POST /v1/login/credentials, DELETE /v1/login/session:
 * the terminal login (`tvm-login`) after its browser sign-in. No OIDC and no SAML code in it.
 */
export const handler = withHttpStack(loginRoute(deps));
