import { withHttpStack } from '#functions/http/middleware.ts';
import { createSamlDeps } from './deps.ts';
import { samlRoute } from './route.ts';

// The composition root: built once per container.
const deps = createSamlDeps();

/**
 * GET /v1/saml/{provider}/metadata|login, POST /v1/saml/{provider}/acs|select. One function for
 * the four routes: a login crosses all of them within seconds, so they share one warm instance.
 */
export const handler = withHttpStack(samlRoute(deps));
