/**
 * What every check reports into, and the wording helpers its messages share: plain numbers,
 * quoted lists, the offending characters, and a "did you mean" for a likely typo.
 */
import type { PathSegment } from '#shared/config/path.ts';

export interface Finding {
  path: readonly PathSegment[];
  message: string;
}

export type Report = (path: readonly PathSegment[], message: string) => void;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const formatNumber = (value: number | bigint): string => value.toLocaleString('en-US');

export function plural(count: number, noun: string): string {
  return `${formatNumber(count)} ${noun}${count === 1 ? '' : 's'}`;
}

export function quoteList(values: Iterable<string>): string {
  return [...values].map((value) => JSON.stringify(value)).join(', ');
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    return value.length > 40 ? `the string "${value.slice(0, 40)}…"` : `the string "${value}"`;
  }
  return String(value);
}

export function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isRecord(value) && typeof segment === 'string' && Object.hasOwn(value, segment)) {
      value = value[segment];
    } else return undefined;
  }
  return value;
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counting as one. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidate to a misspelt name, if one is close enough to be a likely typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const squash = (value: string) => value.toLowerCase().replaceAll(/[-_]/g, '');
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = squash(candidate) === squash(name) ? 0 : editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  const tolerance = Math.max(1, Math.floor(name.length / 4));
  return best !== undefined && best.distance <= tolerance ? best.candidate : undefined;
}

export function disallowedCharacters(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((character) => !allowed.test(character)))];
  return bad.map((character) => JSON.stringify(character)).join(', ');
}
