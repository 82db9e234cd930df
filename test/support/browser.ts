/**
 * Debian's Chromium driven by playwright-core (never `npx playwright install`: it downloads a
 * browser, and there is no internet here).
 *
 * Each launch gets a fresh profile: playwright-core creates a new temporary `--user-data-dir`
 * (`playwright_chromiumdev_profile-*` under the OS temp dir) for every `launch()` and deletes it on
 * `close()`; it refuses a `--user-data-dir` in `args`.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * The flags from RECIPES.md. The background-networking ones keep Chromium from calling home and
 * flooding the closed network with refused connections.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedChromium {
  browser: Browser;
  /** Closes the browser (which removes its temporary profile). Idempotent. */
  stop(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: run \`npm run setup\` (it installs Debian's chromium) or apt-get install chromium`,
    );
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 30_000,
  });
  let stopped = false;
  return {
    browser,
    async stop() {
      if (stopped) return;
      stopped = true;
      await browser.close();
    },
  };
}
