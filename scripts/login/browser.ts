/**
 * Opening the user's browser on the sign-in URL: `$TVM_LOGIN_BROWSER` when set (a command, split
 * on spaces, given the URL as its last argument), else the platform's opener. The URL is one
 * argument of a process started without a shell, so nothing in it is ever interpreted.
 */
import { spawn } from 'node:child_process';

export type OpenBrowser = (url: string) => Promise<void>;

export function openerCommand(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const custom = env.TVM_LOGIN_BROWSER?.trim();
  if (custom !== undefined && custom !== '') return custom.split(/\s+/);
  if (platform === 'darwin') return ['open'];
  // Not `cmd /c start`: cmd would read the URL's "&" as a command separator.
  if (platform === 'win32') return ['rundll32', 'url.dll,FileProtocolHandler'];
  return ['xdg-open'];
}

/** Resolves once the opener has started (it may outlive us); rejects if it cannot start. */
export function browserOpener(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): OpenBrowser {
  return (url) =>
    new Promise((resolve, reject) => {
      const [command = 'xdg-open', ...args] = openerCommand(env, platform);
      const child = spawn(command, [...args, url], {
        stdio: 'ignore',
        detached: true,
        shell: false,
      });
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve();
      });
    });
}
