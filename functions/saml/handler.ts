import { withHttpStack } from '#shared/http/middleware.ts';
import { samlRoute } from '#shared/saml/route.ts';
import { createSamlDeps } from '#shared/saml/runtime.ts';

const deps = createSamlDeps();

/**
 * GET /v1/saml/{provider}/metadata|login, POST /v1/saml/{provider}/acs|select. One function for
 * the four routes: a login crosses all of them within seconds, so they share one warm instance.
 */
export const handler = withHttpStack(samlRoute(deps));
