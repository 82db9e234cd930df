import { credentialsRoute } from '#shared/credentials/route.ts';
import { withHttpStack } from '#shared/http/middleware.ts';
import { createIssueDeps } from '#shared/runtime.ts';

const deps = createIssueDeps();

/** POST /v1/credentials (JSON) and GET /v1/credentials (container or credential_process format). */
export const handler = withHttpStack(credentialsRoute(deps));
