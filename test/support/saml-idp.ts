/**
 * The SAML IdP for tests: the SimpleSAMLphp starter lives in scripts/local/saml-idp.ts (npm start
 * runs it too); by default it runs on a free port from a throw-away directory removed on stop.
 * This module re-exports it and adds the browser helpers the end-to-end tests drive it with.
 *
 * Users sign in on SimpleSAMLphp's own login form (fields `username` and `password`); the IdP then
 * answers with an auto-submitting HTTP-POST form carrying a signed Response with a signed
 * Assertion, NameID = the `email` attribute (emailAddress format), attributes in `basic` format.
 */
import type { Page, Route } from 'playwright-core';
import type { SimpleSamlIdp } from '../../scripts/local/saml-idp.ts';

export {
  DEFAULT_SAML_USERS,
  pemBody,
  SAML_ATTRNAME_BASIC,
  SAML_BINDING_HTTP_POST,
  SAML_NAMEID_EMAIL,
  type SamlTestUser,
  SIGNATURE_RSA_SHA256,
  SIMPLESAMLPHP_WWW,
  type SimpleSamlIdp,
  type StartSimpleSamlIdpOptions,
  startSimpleSamlIdp,
} from '../../scripts/local/saml-idp.ts';

/** The URL that starts an IdP-initiated login for `spEntityId` (optionally with a RelayState). */
export function idpInitiatedUrl(
  idp: SimpleSamlIdp,
  spEntityId: string,
  relayState?: string,
): string {
  const url = new URL(idp.ssoUrl);
  url.searchParams.set('spentityid', spEntityId);
  if (relayState !== undefined) url.searchParams.set('RelayState', relayState);
  return url.href;
}

/**
 * Fills and submits SimpleSAMLphp's login form (`username`, `password`; it posts them with the
 * hidden `AuthState` to `/module.php/core/loginuserpass.php`). `page` must be on, or on its way
 * to, that form; if an error page shows up instead, the error says what it reads.
 */
export async function signInAtSimpleSamlIdp(
  page: Page,
  username: string,
  password: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  try {
    await page.waitForSelector('form input[name="username"]', {
      timeout: options.timeoutMs ?? 10_000,
    });
  } catch (error) {
    const text = await page.textContent('body', { timeout: 1_000 }).catch(() => '(no page body)');
    throw new Error(
      `no SimpleSAMLphp login form at ${page.url()}: ${String(error)}\n${(text ?? '').replace(/\s+/g, ' ').slice(0, 800)}`,
    );
  }
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await page.click('form button[type="submit"], form input[type="submit"]');
}

export interface CapturedSamlPost {
  /** The exact URL the browser posted to. */
  url: string;
  /** Every form field, decoded. */
  fields: URLSearchParams;
  /** The base64 SAMLResponse field. */
  samlResponse: string;
  /** The SAMLResponse decoded to XML. */
  samlResponseXml: string;
  relayState: string | null;
}

export interface SamlPostCapture {
  /** Settles with the first POST to the ACS; rejects after `timeoutMs`. */
  readonly posted: Promise<CapturedSamlPost>;
  /** Removes the interception. */
  dispose(): Promise<void>;
}

/**
 * Intercepts the browser's POST to `acsUrl` (matched on origin and path) and answers it with a
 * tiny page, so the SAMLResponse never leaves the browser. Await it before navigating.
 */
export async function captureSamlPost(
  page: Page,
  acsUrl: string,
  options: { timeoutMs?: number } = {},
): Promise<SamlPostCapture> {
  const target = new URL(acsUrl);
  const matches = (url: URL): boolean =>
    url.origin === target.origin && url.pathname === target.pathname;
  let resolve!: (post: CapturedSamlPost) => void;
  let reject!: (error: Error) => void;
  const posted = new Promise<CapturedSamlPost>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  const timer = setTimeout(
    () => reject(new Error(`no POST to ${acsUrl} within ${options.timeoutMs ?? 20_000} ms`)),
    options.timeoutMs ?? 20_000,
  );
  timer.unref();
  const handler = async (route: Route): Promise<void> => {
    const request = route.request();
    if (request.method() !== 'POST') {
      await route.fulfill({ status: 405, body: 'the test ACS only takes POST' });
      return;
    }
    const fields = new URLSearchParams(request.postData() ?? '');
    const samlResponse = fields.get('SAMLResponse');
    await route.fulfill({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: '<!doctype html><title>captured</title><p>SAMLResponse captured by the test ACS</p>',
    });
    clearTimeout(timer);
    if (samlResponse === null) {
      reject(new Error(`POST to ${request.url()} had no SAMLResponse: ${request.postData()}`));
      return;
    }
    resolve({
      url: request.url(),
      fields,
      samlResponse,
      samlResponseXml: Buffer.from(samlResponse, 'base64').toString('utf8'),
      relayState: fields.get('RelayState'),
    });
  };
  await page.route(matches, handler);
  // Nobody may be awaiting yet; the rejection is still reported to whoever awaits `posted`.
  posted.catch(() => undefined);
  return {
    posted,
    async dispose() {
      clearTimeout(timer);
      await page.unroute(matches, handler);
    },
  };
}
