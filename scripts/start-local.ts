/**
 * `npm start`: the whole TVM on this machine. It starts moto (the local AWS) on 127.0.0.1,
 * creates the table, starts the development OIDC issuer on 127.0.0.1:9400 (the demo config's
 * issuer) and, when SimpleSAMLphp and PHP are installed (`npm run setup`), a SAML IdP on
 * 127.0.0.1:9500 (scripts/local/saml-idp.ts; users alice and bob) and a stand-in for the AWS
 * console sign-in on 127.0.0.1:9600 (scripts/local/console-standin.ts). It then applies the demo
 * config (plus, with SAML, the provider `corp` and two mappings) and runs serverless-offline on
 * port 3000 with the local stage. Without the SAML tools, or when the IdP does not start, it says
 * why and runs with OIDC only. Ctrl-C stops every process it started.
 *
 *   TVM_LOCAL_AWS_PORT (default 5000)        TVM_HTTP_PORT (default 3000)
 *   TVM_DEV_ISSUER_PORT (default 9400)       TVM_LAMBDA_PORT (serverless-offline's default 3002)
 *   TVM_SAML_IDP_PORT (default 9500)         TVM_CONSOLE_STANDIN_PORT (default 9600)
 *   TVM_LOCAL_STATE_DIR (default .local)     logs, the applied config (demo-config.generated.yaml)
 *                                            and saml-idp/, whose IdP key pair is made once and
 *                                            reused, so the pinned certificate stays valid
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { parseConfigText } from '#shared/config/parse.ts';
import { defaultDeps, runCli } from './cli/main.ts';
import {
  ensureTable,
  LocalStackError,
  localAwsEnv,
  PROJECT_ROOT,
  type RunningMoto,
  startMoto,
  stopProcessGroup,
} from './local/aws-stack.ts';
import {
  CONSOLE_STANDIN_PORT,
  type ConsoleStandIn,
  startConsoleStandIn,
} from './local/console-standin.ts';
import { ensureDemoRoles } from './local/demo-roles.ts';
import { DEV_ISSUER_PORT, type DevIssuer, startDevIssuer } from './local/dev-issuer.ts';
import { DEFAULT_DEV_ISSUER } from './local/dev-token.ts';
import { LOCAL_SAML_IDP_PORT, type SimpleSamlIdp, startSimpleSamlIdp } from './local/saml-idp.ts';
import { missingSystemTools, systemTools } from './local/system-deps.ts';

const TABLE = 'tvm-local';
const DEMO_CONFIG = join(PROJECT_ROOT, 'scripts', 'local', 'demo-config.yaml');
const SAML_PROVIDER = 'corp';

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new LocalStackError(`${name} must be a port number`);
  }
  return value;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LocalStackError('serverless offline exited during start-up');
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new LocalStackError(`${url} did not answer within ${timeoutMs / 1000} s`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * stopProcessGroup() returns once the leader (npx) is gone; serverless-offline's node process
 * takes a moment longer to wind down. Wait for the whole group, so that Ctrl-C returns only when
 * the ports are free again.
 */
async function stopWholeGroup(pgid: number, exited?: Promise<unknown>): Promise<void> {
  await stopProcessGroup(pgid, exited);
  const deadline = Date.now() + 5_000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Gone, as it should be.
  }
}

interface SamlDemo {
  idp: SimpleSamlIdp;
  standIn: ConsoleStandIn;
}

/**
 * The demo config as applied: scripts/local/demo-config.yaml (comments kept), its `dev` issuer
 * set to the running one, plus the SAML provider and its mappings when the IdP runs.
 */
function demoConfigYaml(issuerUrl: string, saml: { idp: SimpleSamlIdp; base: string } | undefined) {
  const doc = parseDocument(readFileSync(DEMO_CONFIG, 'utf8'));
  const providers = doc.get('providers');
  const mappings = doc.get('mappings');
  if (!isMap(doc.contents) || !isSeq(providers) || !isSeq(mappings)) {
    throw new LocalStackError(`${DEMO_CONFIG} has no providers or mappings list`);
  }
  doc.contents.commentBefore = [
    ' Written by `npm start` (scripts/start-local.ts) on every start and applied to the local',
    ' stack: scripts/local/demo-config.yaml, plus the SAML provider `corp` and its mappings when',
    ' the local SimpleSAMLphp IdP runs. Edits here last until the next `npm start`.',
  ].join('\n');
  for (const provider of providers.items) {
    if (isMap(provider) && provider.get('id') === 'dev') provider.set('issuer', issuerUrl);
  }
  if (saml !== undefined) {
    providers.add(
      doc.createNode({
        id: SAML_PROVIDER,
        type: 'saml',
        entityId: saml.idp.entityId,
        ssoUrl: saml.idp.ssoUrl,
        certificates: [saml.idp.certificatePem],
        spEntityId: `${saml.base}/v1/saml/${SAML_PROVIDER}/metadata`,
        attributeMap: { groups: 'groups', email: 'email' },
        claims: { groups: { type: 'list' }, email: { type: 'string' } },
        consoleRegion: 'eu-west-1',
      }),
    );
    mappings.add(
      doc.createNode({
        id: 'corp-admin',
        provider: SAML_PROVIDER,
        description: 'Members of the aws-admins group may take the admin role.',
        priority: 20,
        match: { claim: 'groups', op: 'contains', value: 'aws-admins' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/demo-admin',
      }),
    );
    mappings.add(
      doc.createNode({
        id: 'corp-reader',
        provider: SAML_PROVIDER,
        description: 'Members of the aws-readers group may take the read-only role.',
        priority: 10,
        match: { claim: 'groups', op: 'contains', value: 'aws-readers' },
        roleArn: 'arn:aws:iam::123456789012:role/tvm/demo-reader',
      }),
    );
  }
  return doc.toString();
}

/** The IdP and the console stand-in; if either fails, neither is left running. */
async function startSamlDemo(options: {
  base: string;
  idpPort: number;
  standInPort: number;
  awsPort: number;
  stateDir: string;
}): Promise<SamlDemo> {
  const [idp, standIn] = await Promise.allSettled([
    startSimpleSamlIdp({
      port: options.idpPort,
      stateDir: join(options.stateDir, 'saml-idp'),
      commonName: 'tvm-local-idp',
      spEntityId: `${options.base}/v1/saml/${SAML_PROVIDER}/metadata`,
      acsUrl: `${options.base}/v1/saml/${SAML_PROVIDER}/acs`,
    }),
    startConsoleStandIn({
      port: options.standInPort,
      stsEndpoint: `http://127.0.0.1:${options.awsPort}`,
    }),
  ]);
  if (idp.status === 'fulfilled' && standIn.status === 'fulfilled') {
    return { idp: idp.value, standIn: standIn.value };
  }
  if (idp.status === 'fulfilled') await idp.value.stop();
  if (standIn.status === 'fulfilled') await standIn.value.stop();
  throw new Error(
    [idp, standIn]
      .map((result) => (result.status === 'rejected' ? message(result.reason) : ''))
      .filter((text) => text !== '')
      .join('\n'),
  );
}

async function main(): Promise<void> {
  const awsPort = port('TVM_LOCAL_AWS_PORT', 5000);
  const httpPort = port('TVM_HTTP_PORT', 3000);
  const issuerPort = port('TVM_DEV_ISSUER_PORT', DEV_ISSUER_PORT);
  const idpPort = port('TVM_SAML_IDP_PORT', LOCAL_SAML_IDP_PORT);
  const standInPort = port('TVM_CONSOLE_STANDIN_PORT', CONSOLE_STANDIN_PORT);
  const lambdaPort =
    process.env.TVM_LAMBDA_PORT === undefined ? undefined : port('TVM_LAMBDA_PORT', 3002);
  const stateDir = resolve(process.env.TVM_LOCAL_STATE_DIR ?? join(PROJECT_ROOT, '.local'));
  mkdirSync(stateDir, { recursive: true });
  const base = `http://127.0.0.1:${httpPort}`;

  let moto: RunningMoto | undefined;
  let issuer: DevIssuer | undefined;
  let saml: SamlDemo | undefined;
  let offline: ChildProcess | undefined;
  let offlineExited: Promise<unknown> | undefined;

  // The SAML demo starts alongside moto; it never fails npm start, it only says why it is off.
  const samlTools = systemTools().filter((tool) => !/chromium|xmlsec1/.test(tool.name));
  const missing = missingSystemTools(samlTools);
  let samlOff: string | undefined;
  let samlStarting: Promise<SamlDemo | undefined>;
  if (missing.length > 0) {
    samlOff = `SAML demo off: ${missing.join(', ')} missing; \`npm run setup\` installs them (Debian/Ubuntu), then npm start again.`;
    samlStarting = Promise.resolve(undefined);
  } else {
    samlStarting = startSamlDemo({ base, idpPort, standInPort, awsPort, stateDir }).catch(
      (error: unknown) => {
        console.error(`The SAML demo could not start:\n${message(error)}`);
        const why = message(error).split('\n')[0] ?? '';
        samlOff = `SAML demo off (OIDC only): ${why}`;
        return undefined;
      },
    );
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (offline?.pid !== undefined) await stopWholeGroup(offline.pid, offlineExited);
    await moto?.stop();
    await issuer?.stop().catch(() => {});
    // Waits for a SAML start still under way, so that no php server is left behind.
    const started = saml ?? (await samlStarting.catch(() => undefined));
    await started?.standIn.stop().catch(() => {});
    await started?.idp.stop().catch(() => {});
    process.exit(code);
  };
  // `on`, not `once`: Ctrl-C reaches this process twice (from the terminal, and relayed by npm and
  // tsx), and with no listener left tsx's own handler would exit before the cleanup is done.
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    moto = await startMoto({ port: awsPort, logFile: join(stateDir, `moto-${awsPort}.log`) });
    console.log(`local AWS (moto) at ${moto.endpoint}`);
    await ensureTable(moto.endpoint, TABLE);
    issuer = await startDevIssuer(issuerPort);
    console.log(`development OIDC issuer at ${issuer.url}`);
    saml = await samlStarting;
    if (saml !== undefined) {
      console.log(`SAML IdP (SimpleSAMLphp) at ${saml.idp.baseUrl}`);
      console.log(`AWS console stand-in at ${saml.standIn.url}`);
    }
    if (stopping) return;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...localAwsEnv(moto.endpoint, TABLE),
      TVM_PUBLIC_BASE_URL: base,
      ...(saml === undefined ? {} : { TVM_FEDERATION_URL: saml.standIn.url }),
    };

    const configFile = join(stateDir, 'demo-config.generated.yaml');
    writeFileSync(
      configFile,
      demoConfigYaml(issuer.url, saml === undefined ? undefined : { idp: saml.idp, base }),
    );
    const code = await runCli(
      ['config', 'apply', configFile, '--stage', 'local', '--by', 'npm-start'],
      {
        out: (line) => console.log(line),
        err: (line) => console.error(line),
        color: false,
      },
      defaultDeps(env),
    );
    if (code !== 0) throw new LocalStackError(`applying the demo config failed (exit ${code})`);
    // Its roles, with the trust policies `tvm doctor` checks (moto itself enforces none).
    const applied = parseConfigText(readFileSync(configFile, 'utf8'), configFile, {
      stage: 'local',
    });
    if (applied.ok) await ensureDemoRoles(moto.endpoint, applied.config);
    if (stopping) return;

    offline = spawn(
      'npx',
      [
        'serverless',
        'offline',
        'start',
        '--stage',
        'local',
        '--httpPort',
        String(httpPort),
        ...(lambdaPort === undefined ? [] : ['--lambdaPort', String(lambdaPort)]),
      ],
      { cwd: PROJECT_ROOT, env, stdio: 'inherit', detached: true },
    );
    offlineExited = new Promise((resolve) => offline?.once('exit', resolve));
    void offlineExited.then(() => {
      if (!stopping) {
        console.error('serverless offline stopped; shutting down');
        void stop(1);
      }
    });
    await waitForHttp(`${base}/v1/health`, offline);
    const issuerOption = issuer.url === DEFAULT_DEV_ISSUER ? '' : ` --issuer ${issuer.url}`;
    console.log(`\nTVM is running at ${base}. Try:`);
    console.log(`  curl ${base}/v1/health`);
    console.log(
      `  TOKEN=$(npm run -s tvm:local -- dev-token --sub alice --claim tenant=acme${issuerOption})`,
    );
    console.log(`  curl -s -X POST -H "Authorization: Bearer $TOKEN" ${base}/v1/credentials`);
    console.log('  npm run tvm:local -- config export');
    console.log('  npm run tvm:local -- doctor');
    if (saml !== undefined) {
      const login = `${base}/v1/saml/${SAML_PROVIDER}/login`;
      console.log('SAML sign-in at the local SimpleSAMLphp IdP; open in a browser:');
      console.log(`  ${login}?target=console`);
      console.log('    alice / alice-pass (two roles: a role chooser), bob / bob-pass (one role)');
      console.log(`  ${login}?target=credentials`);
      console.log('    the same users; a page with CLI credentials');
      console.log('  The IdP remembers who signed in: switch users in a new private window.');
      console.log(
        '  No AWS console offline: the console login ends on a local page naming the role.',
      );
    } else if (samlOff !== undefined) {
      console.log(samlOff);
    }
    console.log('Press Ctrl-C to stop.');
  } catch (error) {
    console.error(error instanceof LocalStackError ? error.message : error);
    await stop(1);
  }
}

void main();
