/**
 * The AWS config file (`~/.aws/config`) as `tvm-login configure` edits it: one marked block that
 * it owns, every other line kept as it was. Inside the block, one group per (TVM url, provider),
 * so signing in to two TVMs or two providers keeps both sets of profiles.
 */
import { LoginError } from './errors.ts';
import type { Target } from './target.ts';
import { type Role, safeText } from './tvm-api.ts';

export const BLOCK_BEGIN = '# >>> tvm-login (managed) >>>';
export const BLOCK_END = '# <<< tvm-login (managed) <<<';
const BLOCK_NOTE =
  '# Written by `tvm-login configure`, which rewrites this block: edit outside it.';
const GROUP_PREFIX = '# tvm-login: ';

export interface ProfileSpec {
  role: Role;
  /** The whole `credential_process` value, already quoted for the platform. */
  credentialProcess: string;
  region?: string;
}

export const profileName = (mapping: string) => `tvm-${mapping}`;

function groupHeader(target: Target): string {
  return `${GROUP_PREFIX}provider=${target.provider} url=${target.url}`;
}

export function renderGroup(target: Target, profiles: readonly ProfileSpec[]): string[] {
  const out = [groupHeader(target)];
  profiles.forEach((profile, index) => {
    if (index > 0) out.push('');
    const { role } = profile;
    const about = role.description === undefined ? '' : `${safeText(role.description, 100)} `;
    out.push(`[profile ${profileName(role.mapping)}]`);
    out.push(`# ${about}(${role.roleArn})`);
    out.push(`credential_process = ${profile.credentialProcess}`);
    if (profile.region !== undefined) out.push(`region = ${profile.region}`);
  });
  return out;
}

interface Group {
  header: string;
  lines: string[];
}

const PROFILE_HEADER = /^\s*\[\s*profile\s+([^\]\s]+)\s*\]/;

/**
 * `text` with this target's group replaced by `group` (or removed, when `group` is undefined).
 * Throws, and so writes nothing, when the markers are damaged or a profile name is taken
 * outside the group.
 */
export function mergeManagedBlock(
  text: string,
  file: string,
  target: Target,
  profiles: readonly ProfileSpec[],
): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const begins = indexesOf(lines, BLOCK_BEGIN);
  const ends = indexesOf(lines, BLOCK_END);
  const [begin] = begins;
  const [end] = ends;
  if (
    begins.length > 1 ||
    ends.length > 1 ||
    begins.length !== ends.length ||
    (begin !== undefined && end !== undefined && end < begin)
  ) {
    const at = [...begins, ...ends].map((index) => index + 1).join(', ');
    throw new LoginError(
      'config_conflict',
      `the tvm-login block in ${file} is damaged (markers on lines ${at}); repair or delete it, then run configure again`,
    );
  }

  const groups: Group[] = [];
  if (begin !== undefined && end !== undefined) {
    for (const line of lines.slice(begin + 1, end)) {
      if (line.startsWith(GROUP_PREFIX)) groups.push({ header: line.trimEnd(), lines: [line] });
      else groups.at(-1)?.lines.push(line);
    }
  }
  const header = groupHeader(target);
  const ours = profiles.length === 0 ? undefined : renderGroup(target, profiles);

  // A profile name may be defined once: elsewhere in the file, or by another group, is a conflict.
  const wanted = new Set(profiles.map((profile) => profileName(profile.role.mapping)));
  const taken = (line: string) => {
    const name = PROFILE_HEADER.exec(line)?.[1];
    return name !== undefined && wanted.has(name) ? name : undefined;
  };
  lines.forEach((line, index) => {
    const inBlock = begin !== undefined && end !== undefined && index > begin && index < end;
    const name = inBlock ? undefined : taken(line);
    if (name !== undefined) {
      throw new LoginError(
        'config_conflict',
        `${file} already has [profile ${name}] on line ${index + 1}, outside the tvm-login block; rename or remove it, then run configure again`,
      );
    }
  });
  for (const group of groups) {
    if (group.header === header) continue;
    const name = group.lines.map(taken).find((found) => found !== undefined);
    if (name !== undefined) {
      throw new LoginError(
        'config_conflict',
        `[profile ${name}] is already written for another TVM or provider (${group.header.slice(GROUP_PREFIX.length)}); remove that one first`,
      );
    }
  }

  const index = groups.findIndex((group) => group.header === header);
  if (ours !== undefined) {
    if (index === -1) groups.push({ header, lines: ours });
    else groups[index] = { header, lines: ours };
  } else if (index !== -1) {
    groups.splice(index, 1);
  }

  const block: string[] = [];
  if (groups.length > 0) {
    block.push(BLOCK_BEGIN, BLOCK_NOTE);
    for (const group of groups) block.push('', ...trimTrailingBlank(group.lines));
    block.push(BLOCK_END);
  }
  let result: string[];
  if (begin !== undefined && end !== undefined) {
    result = [...lines.slice(0, begin), ...block, ...lines.slice(end + 1)];
  } else if (block.length > 0) {
    const separator = lines.length > 0 && lines.at(-1)?.trim() !== '' ? [''] : [];
    result = [...lines, ...separator, ...block];
  } else {
    result = lines;
  }
  return result.length === 0 ? '' : `${result.join(eol)}${eol}`;
}

function indexesOf(lines: readonly string[], marker: string): number[] {
  return lines.flatMap((line, index) => (line.trimEnd() === marker ? [index] : []));
}

function trimTrailingBlank(lines: readonly string[]): string[] {
  const copy = [...lines];
  while (copy.length > 0 && copy.at(-1)?.trim() === '') copy.pop();
  return copy;
}

/**
 * One command line as botocore and the AWS CLI split a `credential_process` value: shlex (POSIX
 * quoting) on Linux and macOS, double quotes on Windows.
 */
export function commandLine(argv: readonly string[], platform: NodeJS.Platform): string {
  return argv
    .map((arg) => {
      if (/^[A-Za-z0-9_/.:=@%+,-]+$/.test(arg)) return arg;
      if (platform === 'win32') return `"${arg.replaceAll('"', '\\"')}"`;
      return `'${arg.replaceAll("'", `'\\''`)}'`;
    })
    .join(' ');
}
