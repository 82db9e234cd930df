/**
 * Config file text (YAML, or JSON, which YAML 1.2 reads too) → validated config. Every problem
 * gets a `line:column` when its path leads into the document, so the CLI can point at it.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
} from 'yaml';
import type { TvmConfig } from '#shared/config/schema.ts';
import {
  type PathSegment,
  parseConfigPath,
  type ValidateOptions,
  validateConfig,
} from '#shared/config/validate.ts';
import type { ConfigProblem } from '#shared/errors.ts';

/** Syntax errors cascade: after the first few, the rest is noise. */
const MAX_SYNTAX_PROBLEMS = 10;

/** The largest config file accepted: far above any real config, small enough for one Lambda. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export type ParseResult =
  | { ok: true; config: TvmConfig }
  | { ok: false; problems: ConfigProblem[] };

type Document = ReturnType<typeof parseDocument>;

function locationOf(offset: number, lineCounter: LineCounter): string {
  const { line, col } = lineCounter.linePos(offset);
  return `${line}:${col}`;
}

/** The offset of the node at `path`, or of its deepest ancestor present in the document. */
function offsetOf(doc: Document, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}

/** The key text at a duplicate-key error, for a message that names it. */
function keyAt(text: string, offset: number): string {
  const match = /^(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:\n,{}[\]]+)/.exec(text.slice(offset));
  return (match?.[0] ?? '').trim();
}

/**
 * Parse and validate a config file. `fileName` only names the file in messages. Problems about
 * the whole file have the path `''`.
 */
export function parseConfigText(
  text: string,
  fileName: string,
  options: ValidateOptions,
): ParseResult {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_FILE_BYTES) {
    const message = `${fileName} is ${bytes.toLocaleString('en-US')} bytes; the limit is 1 MiB (${MAX_CONFIG_FILE_BYTES.toLocaleString('en-US')} bytes)`;
    return { ok: false, problems: [{ path: '', message }] };
  }
  const empty = {
    path: '',
    message: `${fileName} is empty; expected a config with version, providers and mappings`,
  };
  if (text.trim() === '') return { ok: false, problems: [empty] };

  const lineCounter = new LineCounter();
  let doc: Document;
  let data: unknown;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, strict: true });
    const syntax = [...doc.errors, ...doc.warnings];
    if (syntax.length > 0) {
      const problems = syntax.slice(0, MAX_SYNTAX_PROBLEMS).map((error): ConfigProblem => {
        // prettyErrors appends " at line L, column C:" and a code excerpt; the location says that.
        const summary = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
        const message =
          error.code === 'DUPLICATE_KEY'
            ? `duplicate key ${keyAt(text, error.pos[0])}: keys in a mapping must be unique`
            : `${fileName} is not valid YAML or JSON: ${summary}`;
        return { path: '', message, location: locationOf(error.pos[0], lineCounter) };
      });
      return { ok: false, problems };
    }
    if (doc.contents === null) return { ok: false, problems: [empty] };
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolved aliases and alias bombs throw from toJS().
    const message = `${fileName} could not be read: ${(error as Error).message}`;
    return { ok: false, problems: [{ path: '', message }] };
  }

  const result = validateConfig(data, options);
  if (result.ok) return result;
  const problems = result.problems.map((problem): ConfigProblem => {
    const offset = offsetOf(doc, parseConfigPath(problem.path));
    return offset === undefined
      ? problem
      : { ...problem, location: locationOf(offset, lineCounter) };
  });
  return { ok: false, problems };
}
