/**
 * zod issues → findings: plain messages that do not repeat the path, the closest branch of a
 * union instead of every branch's complaint, and a "did you mean" for an unknown field.
 */
import type { z } from 'zod';
import type { PathSegment } from '#shared/config/path.ts';
import { ConfigFileSchema } from '#shared/config/schema.ts';
import {
  closest,
  describeValue,
  type Finding,
  formatNumber,
  isRecord,
  plural,
  valueAt,
} from './messages.ts';

let knownFields: Set<string> | undefined;

/** Every field name of the schema, to suggest a correction for an unknown key. */
function knownFieldNames(): Set<string> {
  if (knownFields !== undefined) return knownFields;
  const names = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (schema: unknown): void => {
    if (schema === undefined || seen.has(schema)) return;
    seen.add(schema);
    const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object' && isRecord(def.shape)) {
      for (const [name, child] of Object.entries(def.shape)) {
        names.add(name);
        visit(child);
      }
    }
    for (const key of ['element', 'innerType', 'valueType', 'in', 'out']) visit(def[key]);
    if (Array.isArray(def.options)) for (const option of def.options) visit(option);
  };
  visit(ConfigFileSchema);
  knownFields = names;
  return names;
}

function expectedName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    array: 'an array',
    object: 'an object',
    record: 'an object',
  };
  return names[expected] ?? expected;
}

/** Per-parse zod error map: plain messages that do not repeat the path. */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${expectedName(issue.expected)}, not ${describeValue(issue.input)}`;
    case 'too_small': {
      const minimum = Number(issue.minimum);
      if (issue.origin === 'array') {
        return minimum === 1
          ? 'must not be empty'
          : `must have at least ${plural(minimum, 'item')}`;
      }
      if (issue.origin === 'string') {
        return minimum === 1
          ? 'must not be empty'
          : `must be at least ${plural(minimum, 'character')}`;
      }
      return `must be ${issue.inclusive ? 'at least' : 'more than'} ${formatNumber(minimum)}, not ${describeValue(issue.input)}`;
    }
    case 'too_big': {
      const maximum = Number(issue.maximum);
      if (issue.origin === 'array' && Array.isArray(issue.input)) {
        return `has ${plural(issue.input.length, 'item')}; at most ${formatNumber(maximum)} allowed`;
      }
      if (issue.origin === 'string' && typeof issue.input === 'string') {
        return `is ${plural(issue.input.length, 'character')}; at most ${formatNumber(maximum)} allowed`;
      }
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${formatNumber(maximum)}, not ${describeValue(issue.input)}`;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((value) => JSON.stringify(value)).join(', ');
      const got = issue.input === undefined ? 'it is missing' : `not ${describeValue(issue.input)}`;
      return issue.values.length === 1
        ? `must be ${allowed}, ${got}`
        : `must be one of ${allowed}; ${got}`;
    }
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern !== undefined
        ? `does not match the pattern ${issue.pattern}`
        : `must be a valid ${issue.format}`;
    case 'invalid_union': {
      const expected = new Set(
        issue.errors.flatMap((branch) =>
          branch.flatMap((inner) =>
            inner.code === 'invalid_type' && inner.path.length === 0 ? [inner.expected] : [],
          ),
        ),
      );
      if (expected.size === 0) return 'does not match any allowed form';
      return `must be ${[...expected].map(expectedName).join(' or ')}, not ${describeValue(issue.input)}`;
    }
    default:
      return undefined;
  }
}

function toSegments(path: readonly PropertyKey[]): PathSegment[] {
  return path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
}

/** How far a union branch is from the input's keys: unknown keys plus missing required keys. */
function structuralDistance(branch: readonly z.core.$ZodIssue[], value: unknown): number {
  let distance = 0;
  for (const issue of branch) {
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      distance += issue.keys.length;
    }
    const key = issue.path[0];
    const missing =
      issue.path.length === 1 && !(isRecord(value) && Object.hasOwn(value, String(key)));
    if (missing && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) distance += 1;
  }
  return distance;
}

function unionFindings(
  issue: z.core.$ZodIssueInvalidUnion,
  path: PathSegment[],
  root: unknown,
): Finding[] {
  const value = valueAt(root, path);
  if (issue.errors.length === 0) {
    // A discriminated union whose discriminator (type, op) is missing or unknown.
    const options = (issue as unknown as { options?: unknown[] }).options ?? [];
    const allowed = options.map((option) => JSON.stringify(option)).join(', ');
    const message =
      value === undefined
        ? `is required: one of ${allowed}`
        : `must be one of ${allowed}, not ${describeValue(value)}`;
    return [{ path, message }];
  }
  const shapeMatches = issue.errors.filter(
    (branch) => !branch.some((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
  );
  const ranked = shapeMatches
    .map((branch) => ({ branch, distance: structuralDistance(branch, value) }))
    .sort((a, b) => a.distance - b.distance || a.branch.length - b.branch.length);
  const [best, second] = ranked;
  if (best === undefined || (best.distance > 0 && second?.distance === best.distance)) {
    return [{ path, message: value === undefined ? 'is required' : issue.message }];
  }
  return issuesToFindings(best.branch, root, path);
}

export function issuesToFindings(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  base: readonly PathSegment[] = [],
): Finding[] {
  const findings: Finding[] = [];
  for (const issue of issues) {
    const path = [...base, ...toSegments(issue.path)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const suggestion = closest(key, knownFieldNames());
        findings.push({
          path: [...path, key],
          message: `unknown field "${key}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
        });
      }
    } else if (issue.code === 'invalid_union') {
      findings.push(...unionFindings(issue, path, root));
    } else if (issue.code === 'invalid_key') {
      const key = path.at(-1);
      const reasons = issue.issues.map((inner) => inner.message).join('; ');
      findings.push({ path, message: `key ${JSON.stringify(key)} ${reasons}` });
    } else {
      findings.push({ path, message: issue.message });
    }
  }
  return findings;
}
