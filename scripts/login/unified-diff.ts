/** A unified diff of two small texts (an AWS config file before and after), as `diff -u` prints it. */

interface Op {
  kind: ' ' | '-' | '+';
  text: string;
  /** Lines of the old and the new text before this one. */
  oldAt: number;
  newAt: number;
}

function lines(text: string): string[] {
  if (text === '') return [];
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all;
}

/** Common prefix and suffix first, then a longest-common-subsequence table on what is left. */
function diffOps(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  ) {
    tail += 1;
  }
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const n = midA.length;
  const m = midB.length;
  // lcs[i][j]: the LCS length of midA[i..] and midB[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    const row = lcs[i] as Uint32Array;
    const below = lcs[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j -= 1) {
      row[j] =
        midA[i] === midB[j]
          ? (below[j + 1] as number) + 1
          : Math.max(below[j] as number, row[j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let oldAt = 0;
  let newAt = 0;
  const push = (kind: Op['kind'], text: string) => {
    ops.push({ kind, text, oldAt, newAt });
    if (kind !== '+') oldAt += 1;
    if (kind !== '-') newAt += 1;
  };
  for (const text of a.slice(0, head)) push(' ', text);
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && midA[i] === midB[j]) {
      push(' ', midA[i] as string);
      i += 1;
      j += 1;
    } else if (j === m || (i < n && (lcs[i + 1]?.[j] as number) >= (lcs[i]?.[j + 1] as number))) {
      // Removals before additions, as diff prints a changed line.
      push('-', midA[i] as string);
      i += 1;
    } else {
      push('+', midB[j] as string);
      j += 1;
    }
  }
  for (const text of a.slice(a.length - tail)) push(' ', text);
  return ops;
}

/** '' when the texts are equal. */
export function unifiedDiff(
  before: string,
  after: string,
  names: { from: string; to: string },
  context = 3,
): string {
  const ops = diffOps(lines(before), lines(after));
  const changed = ops.flatMap((op, index) => (op.kind === ' ' ? [] : [index]));
  if (changed.length === 0) return '';
  // Hunks: each change with `context` lines around it, merged when they touch.
  const ranges: [number, number][] = [];
  for (const index of changed) {
    const start = Math.max(0, index - context);
    const end = Math.min(ops.length, index + context + 1);
    const last = ranges.at(-1);
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else ranges.push([start, end]);
  }
  const out = [`--- ${names.from}`, `+++ ${names.to}`];
  for (const [start, end] of ranges) {
    const hunk = ops.slice(start, end);
    const first = hunk[0] as Op;
    const oldLength = hunk.filter((op) => op.kind !== '+').length;
    const newLength = hunk.filter((op) => op.kind !== '-').length;
    // An empty side is numbered by the line before it, as diff -u does.
    const oldStart = oldLength === 0 ? first.oldAt : first.oldAt + 1;
    const newStart = newLength === 0 ? first.newAt : first.newAt + 1;
    out.push(`@@ -${oldStart},${oldLength} +${newStart},${newLength} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.text}`);
  }
  return `${out.join('\n')}\n`;
}
