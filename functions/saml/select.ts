/** POST /v1/saml/{provider}/select: the role chooser's answer, through the core, to a page. */
import type { HttpEvent, HttpResult } from '#functions/http/middleware.ts';
import { ID_PATTERN } from '#shared/config/limits.ts';
import { issue } from '#shared/credentials/issue.ts';
import { AuthenticationError, ValidationError } from '#shared/errors.ts';
import { authenticateSelection, OPAQUE_TOKEN } from '#shared/saml/login.ts';
import {
  auditedParse,
  base64Field,
  cookie,
  MAX_FORM_BYTES,
  readForm,
  type SamlDeps,
  type SamlRequest,
  SELECTION_COOKIE,
} from './http.ts';
import { renderSamlOutcome } from './outcome.ts';

/** The chooser's answer: its single-use token, the mapping, and (native mode) the assertion. */
function parseSelectForm(event: HttpEvent) {
  const form = readForm(event, MAX_FORM_BYTES);
  const token = form.get('token') ?? '';
  const mappingId = form.get('mapping') ?? '';
  if (!OPAQUE_TOKEN.test(token)) throw new AuthenticationError('selection_invalid');
  if (!ID_PATTERN.test(mappingId)) {
    throw new ValidationError('invalid_mapping', { reason: 'invalid_mapping' });
  }
  return { token, mappingId, samlResponse: base64Field(form, 'SAMLResponse') };
}

export async function select(
  deps: SamlDeps,
  request: SamlRequest,
  event: HttpEvent,
): Promise<HttpResult> {
  const { token, mappingId, samlResponse } = await auditedParse(deps, request, () =>
    parseSelectForm(event),
  );
  const posted = {
    providerId: request.providerId,
    token,
    mappingId,
    samlResponse,
    browser: cookie(event, SELECTION_COOKIE),
    baseUrl: request.baseUrl,
  };
  const outcome = await issue(deps.core, { ...request, mappingId }, (config) =>
    authenticateSelection({ state: deps.state, now: deps.core.now }, posted, config),
  );
  return renderSamlOutcome(deps, outcome, request);
}
