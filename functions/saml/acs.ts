/** POST /v1/saml/{provider}/acs (HTTP-POST binding): the IdP's answer, through the core, to a page. */
import type { HttpEvent, HttpResult } from '#functions/http/middleware.ts';
import { issue } from '#shared/credentials/issue.ts';
import { ValidationError } from '#shared/errors.ts';
import { authenticateAssertion, OPAQUE_TOKEN } from '#shared/saml/login.ts';
import {
  auditedParse,
  base64Field,
  cookie,
  LOGIN_COOKIE,
  MAX_FORM_BYTES,
  readForm,
  type SamlDeps,
  type SamlRequest,
  TARGETS,
} from './http.ts';
import { renderSamlOutcome } from './outcome.ts';

/** The form: our opaque RelayState or (IdP-initiated) a bare target name, and the response. */
function parseAcsForm(event: HttpEvent): { relayState: string; samlResponse: string } {
  const form = readForm(event, MAX_FORM_BYTES);
  const relayState = form.get('RelayState') ?? '';
  // Only our own opaque reference, or (IdP-initiated) a bare target name: never a URL.
  if (relayState !== '' && !OPAQUE_TOKEN.test(relayState) && !TARGETS.has(relayState)) {
    throw new ValidationError('relay_state_invalid', { reason: 'relay_state_invalid' });
  }
  const samlResponse = base64Field(form, 'SAMLResponse');
  if (samlResponse === '') {
    throw new ValidationError('missing_saml_response', { reason: 'missing_saml_response' });
  }
  return { relayState, samlResponse };
}

export async function acs(
  deps: SamlDeps,
  request: SamlRequest,
  event: HttpEvent,
): Promise<HttpResult> {
  const { relayState, samlResponse } = await auditedParse(deps, request, () => parseAcsForm(event));
  const posted = {
    providerId: request.providerId,
    samlResponse,
    relayState,
    browser: cookie(event, LOGIN_COOKIE),
    baseUrl: request.baseUrl,
  };
  const outcome = await issue(deps.core, request, (config) =>
    authenticateAssertion(
      {
        state: deps.state,
        now: deps.core.now,
        ...(deps.decryptionKey === undefined ? {} : { decryptionKey: deps.decryptionKey }),
      },
      posted,
      config,
    ),
  );
  return renderSamlOutcome(deps, outcome, request);
}
