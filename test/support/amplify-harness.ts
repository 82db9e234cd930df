/**
 * Amplify v6 in Debian's Chromium: amplify-page.ts bundled by esbuild, driven by playwright-core.
 *
 * The page is served by the browser context itself at an origin the local stage's CORS allows
 * (serverless.yml params.local.corsAllowedOrigins), as a web app on a dev server would be: only the
 * page's own URLs are answered in-process; every call to the TVM goes over the network, preflight
 * included.
 */
import path from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import type { AmplifyPageApi } from './amplify-page.ts';
import { type LaunchedChromium, launchChromium } from './browser.ts';
import { repoRoot } from './process.ts';

const ENTRY = path.join(repoRoot, 'test', 'support', 'amplify-page.ts');
const HTML =
  '<!doctype html><meta charset="utf-8"><title>amplify</title><script src="/app.js"></script>';

export interface AmplifyBrowser {
  /** The page's origin (LOCAL_WEB_ORIGIN unless told otherwise). */
  readonly origin: string;
  readonly page: Page;
  /** Calls one method of the page's API with JSON arguments, and returns its JSON result. */
  call<K extends keyof AmplifyPageApi>(
    method: K,
    ...args: Parameters<AmplifyPageApi[K]>
  ): Promise<Awaited<ReturnType<AmplifyPageApi[K]>>>;
  /** A fresh page (empty localStorage and memory): another visitor. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** The page's bundle: the real aws-amplify for the browser, as an app would ship it. */
async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no bundle');
  return output.text;
}

/** The local stage's first allowed web origin: a Vite dev server's. */
export const LOCAL_WEB_ORIGIN = 'http://localhost:5173';

export async function startAmplifyBrowser(
  options: { origin?: string } = {},
): Promise<AmplifyBrowser> {
  const origin = options.origin ?? LOCAL_WEB_ORIGIN;
  const [script, chromium] = await Promise.all([bundle(), launchChromium()]);
  const stop = () => chromium.stop();
  try {
    let page = await open(chromium, origin, script);
    return {
      origin,
      get page() {
        return page;
      },
      call: (method, ...args) =>
        page.evaluate(
          ([name, values]) =>
            (
              globalThis as unknown as { tvmAmplify: Record<string, (...a: unknown[]) => unknown> }
            ).tvmAmplify[name]?.(...values),
          [method, args] as const,
        ) as never,
      async reload() {
        await page.context().close();
        page = await open(chromium, origin, script);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A new browser context (its own storage) on the page, with the app loaded. */
async function open(chromium: LaunchedChromium, origin: string, script: string): Promise<Page> {
  // A page answered in-process has no address space; Chromium's Local Network Access would treat
  // it as public and block its calls to the loopback TVM, which a page from a dev server may make.
  const context = await chromium.browser.newContext({ permissions: ['local-network-access'] });
  await context.route(`${origin}/**`, (route) => {
    const { pathname } = new URL(route.request().url());
    if (pathname === '/app.js') {
      return route.fulfill({ contentType: 'text/javascript', body: script });
    }
    if (pathname === '/') return route.fulfill({ contentType: 'text/html', body: HTML });
    return route.fulfill({ status: 404, body: '' });
  });
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => 'tvmAmplify' in globalThis);
  return page;
}
