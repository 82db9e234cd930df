/**
 * Admin-only code (shared/admin, scripts/) must stay off the request path: whatever a Lambda
 * entry point imports, directly or through other modules, ships in its bundle and runs on a cold
 * start. The scan follows relative and `#shared/*` imports from every functions/<route>/handler.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const FORBIDDEN = ['shared/admin/', 'scripts/'];

const handlers = readdirSync(join(ROOT, 'functions'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `functions/${entry.name}/handler.ts`)
  .filter((file) => existsSync(join(ROOT, file)))
  .sort();

/** A specifier as a repository path, or undefined for a package. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('#shared/')) return specifier.slice(1);
  if (specifier.startsWith('.')) return relative(ROOT, resolve(ROOT, dirname(from), specifier));
  return undefined;
}

/** Every file reachable from `entry`, each with the chain of imports that reached it. */
function importGraph(entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (!file.endsWith('.ts')) continue;
    const path = join(ROOT, file);
    if (!existsSync(path)) throw new Error(`${reached.get(file)?.join(' → ')} does not resolve`);
    // The compiler's own scanner: static, type-only, re-exports and dynamic imports, not comments.
    const { importedFiles } = ts.preProcessFile(readFileSync(path, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      const target = resolveSpecifier(file, fileName);
      if (target === undefined || reached.has(target)) continue;
      reached.set(target, [...(reached.get(file) ?? []), target]);
      queue.push(target);
    }
  }
  return reached;
}

function adminImports(entry: string): string[] {
  return [...importGraph(entry)]
    .filter(([file]) => FORBIDDEN.some((prefix) => file.startsWith(prefix)))
    .map(([, chain]) => chain.join(' → '));
}

describe('request path', () => {
  it('finds every Lambda entry point and follows its imports into the core', () => {
    // Act
    const graph = importGraph('functions/credentials/handler.ts');

    // Assess: the scan is not vacuous; it reaches the decision code through '#shared/*'.
    expect(handlers).toEqual(
      expect.arrayContaining([
        'functions/credentials/handler.ts',
        'functions/health/handler.ts',
        'functions/saml/handler.ts',
      ]),
    );
    expect(graph.has('shared/mapping/decide.ts')).toBe(true);
  });

  it('detects an admin import when there is one (the CLI imports shared/admin)', () => {
    // Act
    const found = adminImports('scripts/cli/main.ts');

    // Assess
    expect(found.some((chain) => chain.endsWith('shared/admin/revoke.ts'))).toBe(true);
  });

  it.each(handlers)('%s never reaches shared/admin/ or scripts/', (handler) => {
    // Act
    const found = adminImports(handler);

    // Assess
    expect(found).toEqual([]);
  });
});
