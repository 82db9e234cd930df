/** Self time per function and per package from a `.cpuprofile` (V8 CPU profile JSON). */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const total = profile.samples.length;

function bucket(url: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1] as string;
  if (url.startsWith('node:')) return url;
  if (url === '') return '(native/V8)';
  return url.replace(/^.*\/work\/main\//, '').replace(/^file:\/\//, '');
}

const selfByFunction = new Map<string, number>();
const selfByPackage = new Map<string, number>();
for (const id of profile.samples) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = bucket(url);
  const key = `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
  selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + 1);
  selfByPackage.set(where, (selfByPackage.get(where) ?? 0) + 1);
}
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title} (self time, ${total} samples)\n`);
  for (const [key, count] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((count / total) * 100).toFixed(1).padStart(5)} %  ${key}\n`);
  }
};
show('by file / package', selfByPackage);
show('by function', selfByFunction);

// Inclusive time: every function on the sampled stack, counted once per sample.
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);
const inclusive = new Map<string, number>();
for (const id of profile.samples) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)?.callFrame;
    if (frame === undefined || frame.functionName === '') continue;
    seen.add(`${frame.functionName}  ${bucket(frame.url)}`);
  }
  for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
}
show('inclusive, by function', inclusive);
