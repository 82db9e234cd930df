/**
 * The real parts a `tvm-login` end-to-end test needs, started once per file: the built launcher,
 * SimpleSAMLphp (Debian's package under `php -S`) as the `corp` IdP with two roles, the TVM in
 * serverless-offline with moto, and Debian's Chromium. The user's shell is a temporary HOME with
 * the machine's own Node first and no AWS keys.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { SamlProvider } from '#shared/config/schema.ts';
import { spUrls } from '#shared/saml/provider.ts';
import { spMetadataXml } from '#shared/saml/sp.ts';
import { buildLauncher } from '../../scripts/login/build.ts';
import { launchChromium } from './browser.ts';
import { type LocalTvm, startLocalTvm } from './local-tvm.ts';
import { freePort, type GroupProcess, groupAlive, repoRoot } from './process.ts';
import { type SimpleSamlIdp, startSimpleSamlIdp } from './saml-idp.ts';

export const ACCOUNT = '123456789012';

/** The first `node` on PATH that is not the project's own: the launcher must not need Node 24. */
export function machineNode(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '' || dir.startsWith(repoRoot)) continue;
    if (existsSync(path.join(dir, 'node'))) return path.join(dir, 'node');
  }
  return '/usr/bin/node';
}

export interface TvmLoginStack {
  work: string;
  launcher: string;
  idp: SimpleSamlIdp;
  tvm: LocalTvm;
  offline: GroupProcess;
  browser: Browser;
  base: string;
  awsConfig: string;
  cache: string;
  /** What a user's shell would have: the machine's Node first, no AWS keys, our files. */
  userEnv(): NodeJS.ProcessEnv;
  /** `--url <base> --provider corp`. */
  target(): string[];
  /** Stops everything; true when serverless-offline's process group is gone. */
  stop(): Promise<boolean>;
}

export async function startTvmLoginStack(prefix: string): Promise<TvmLoginStack> {
  const work = mkdtempSync(path.join(tmpdir(), prefix));
  const cache = path.join(work, 'tvm-login');
  const awsConfig = path.join(work, 'aws', 'config');
  const { outfile: launcher } = await buildLauncher(path.join(work, 'bin', 'tvm-login.mjs'));
  const httpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const spEntityId = `${base}/v1/saml/corp/metadata`;
  const idp = await startSimpleSamlIdp({
    spEntityId,
    acsUrl: `${base}/v1/saml/corp/acs`,
    spMetadataXml: spMetadataXml(
      { spEntityId, signAuthnRequests: false } as SamlProvider,
      spUrls(base, { id: 'corp' }),
    ),
  });
  const idpMetadata = await idp.metadataXml();
  const tvm = await startLocalTvm({
    offline: true,
    httpPort,
    config: () => ({
      version: 1,
      providers: [
        {
          id: 'corp',
          type: 'saml',
          entityId: idp.entityId,
          ssoUrl: idp.ssoUrl,
          metadataXml: idpMetadata,
          spEntityId,
          attributeMap: { groups: 'groups', email: 'email' },
          claims: { groups: { type: 'list' }, email: { type: 'string' } },
          consoleRegion: 'eu-west-1',
        },
      ],
      mappings: [
        {
          id: 'corp-admin',
          provider: 'corp',
          description: 'Administrators',
          priority: 20,
          match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
          roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/corp-admin`,
        },
        {
          id: 'corp-reader',
          provider: 'corp',
          description: 'Read-only',
          priority: 10,
          match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
          roleArn: `arn:aws:iam::${ACCOUNT}:role/tvm/corp-reader`,
        },
      ],
    }),
    env: { TVM_PUBLIC_BASE_URL: base },
  });
  const offline = tvm.offline as GroupProcess;
  const { browser, stop: stopBrowser } = await launchChromium();
  return {
    work,
    launcher,
    idp,
    tvm,
    offline,
    browser,
    base,
    awsConfig,
    cache,
    userEnv: () => ({
      PATH: [path.dirname(machineNode()), '/usr/bin', '/bin'].join(path.delimiter),
      HOME: work,
      TVM_LOGIN_HOME: cache,
      AWS_CONFIG_FILE: awsConfig,
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'aws', 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    target: () => ['--url', base, '--provider', 'corp'],
    async stop() {
      await stopBrowser();
      const pid = offline.pid;
      await tvm.stop();
      await idp.stop();
      rmSync(work, { recursive: true, force: true });
      return pid === undefined || !groupAlive(pid);
    },
  };
}
