/**
 * The access portal in-process: the login harness (the SAML function with its real middleware,
 * the core, the login store, one clock) plus the portal's page store and a federation endpoint
 * stand-in, and the steps a browser takes: sign in with target=portal, open the page, press a
 * button (its hidden fields read out of the HTML), sign out.
 */
import { expect } from 'vitest';
import { parseXml } from '#shared/xml/dom.ts';
import {
  type HttpAnswer,
  type LoginHarness,
  SAML_TEST,
  type StartedLogin,
  startLoginHarness,
} from './login-harness.ts';
import { MemoryPortalStore } from './memory-portal-store.ts';

export const PORTAL_COOKIE = '__Host-tvm_portal';

export interface PortalRow {
  mapping: string;
  page: string;
  token: string;
}

export interface PortalHarness extends LoginHarness {
  pages: MemoryPortalStore;
  federationCalls: URL[];
  /** GET /login?target=portal: the started login as the browser holds it. */
  startPortal(): Promise<StartedLogin>;
  /** Start ▸ ACS: the portal cookie (`__Host-tvm_portal=<handle>`), asserting the 302. */
  signIn(options?: { nameId?: string; groups?: string[] }): Promise<string>;
  portal(cookie: string | undefined, query?: Record<string, string>): Promise<HttpAnswer>;
  /** The rows of a rendered page, and its sign-out fields. */
  rows(page: HttpAnswer): PortalRow[];
  signOutFields(page: HttpAnswer): { page: string; token: string };
  act(
    cookie: string | undefined,
    fields: Record<string, string>,
    options?: { path?: string },
  ): Promise<HttpAnswer>;
}

function hiddenFields(form: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([a-z]+)" value="([^"]*)">/g)) {
    fields[match[1] ?? ''] = match[2] ?? '';
  }
  return fields;
}

export function startPortalHarness(
  options: Parameters<typeof startLoginHarness>[0] = {},
): PortalHarness {
  const h = startLoginHarness(options);
  const pages = new MemoryPortalStore();
  const federationCalls: URL[] = [];
  h.saml.portal = pages;
  h.saml.federation = {
    ...h.saml.federation,
    fetch: (async (input: string | URL | Request) => {
      const url = new URL(String(input));
      federationCalls.push(url);
      return new Response(JSON.stringify({ SigninToken: `token-${federationCalls.length}` }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch,
  };

  async function startPortal(): Promise<StartedLogin> {
    const started = await h.start({ target: 'portal' });
    expect(started.status, started.body).toBe(302);
    const location = new URL(started.headers.location ?? '');
    const { inflateRawSync } = await import('node:zlib');
    const request = inflateRawSync(
      Buffer.from(location.searchParams.get('SAMLRequest') ?? '', 'base64'),
    ).toString('utf8');
    return {
      authnRequestId: parseXml(request).documentElement.getAttribute('ID') ?? '',
      relayState: location.searchParams.get('RelayState') ?? '',
      cookie: (started.headers['set-cookie'] ?? '').split(';')[0] ?? '',
    };
  }

  return Object.assign(h, {
    pages,
    federationCalls,
    startPortal,
    async signIn(signIn: { nameId?: string; groups?: string[] } = {}) {
      const started = await startPortal();
      const answered = await h.postAcs(started, signIn);
      expect(answered.status, answered.body).toBe(302);
      expect(answered.headers.location).toBe(`${SAML_TEST.baseUrl}/v1/portal`);
      return (answered.headers['set-cookie'] ?? '').split(';')[0] ?? '';
    },
    portal: (cookie: string | undefined, query?: Record<string, string>) =>
      h.call({
        method: 'GET',
        path: '/v1/portal',
        headers: cookie === undefined ? {} : { cookie },
        ...(query === undefined ? {} : { query }),
      }),
    rows(page: HttpAnswer): PortalRow[] {
      return [...page.body.matchAll(/<form class="row"[^>]*>(.*?)<\/form>/gs)].map((match) => {
        const fields = hiddenFields(match[1] ?? '');
        return {
          mapping: fields.mapping ?? '',
          page: fields.page ?? '',
          token: fields.token ?? '',
        };
      });
    },
    signOutFields(page: HttpAnswer) {
      const form = /<form method="post" action="[^"]*\/signout">(.*?)<\/form>/s.exec(page.body);
      const fields = hiddenFields(form?.[1] ?? '');
      return { page: fields.page ?? '', token: fields.token ?? '' };
    },
    act: (
      cookie: string | undefined,
      fields: Record<string, string>,
      actOptions: { path?: string } = {},
    ) =>
      h.call({
        method: 'POST',
        path: actOptions.path ?? '/v1/portal/actions',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(cookie === undefined ? {} : { cookie }),
        },
        body: new URLSearchParams(fields).toString(),
      }),
  });
}
