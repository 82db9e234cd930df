/**
 * The config layer sits below the request path: shared/config reads nothing from saml, mapping,
 * credentials or guard, and the XML reader it shares with saml sits below both. A plain scan of
 * each file's import specifiers (TypeScript's own scanner) is enough to hold that line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

function typescriptFiles(directory: string): string[] {
  return readdirSync(join(ROOT, directory), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(directory, name))
    .sort();
}

/** Every module specifier of a file (imports, re-exports, dynamic imports), by TypeScript's own scanner. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), 'utf8');
  return ts.preProcessFile(source, true, true).importedFiles.map((imported) => imported.fileName);
}

/** A specifier as a repository path (`#shared/x.ts` → `shared/x.ts`), or the package name. */
function target(file: string, specifier: string): string {
  if (specifier.startsWith('#shared/')) return specifier.slice(1);
  if (specifier.startsWith('.')) return relative(ROOT, resolve(ROOT, dirname(file), specifier));
  return specifier;
}

function violations(directory: string, forbidden: readonly string[]): string[] {
  return typescriptFiles(directory).flatMap((file) =>
    importsOf(file)
      .filter((specifier) => {
        const path = target(file, specifier);
        return forbidden.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
      })
      .map((specifier) => `${file} imports ${specifier}`),
  );
}

describe('layering', () => {
  it('finds the imports it scans for', () => {
    // Prepare / Act
    const files = typescriptFiles('shared/config');
    const imports = importsOf('shared/config/validate/providers.ts');

    // Assess: the scan sees nested files and both specifier forms.
    expect(files).toContain('shared/config/validate/document.ts');
    expect(imports).toContain('#shared/xml/saml-metadata.ts');
    expect(imports).toContain('./messages.ts');
    expect(target('shared/config/validate/x.ts', '../../saml/xml.ts')).toBe('shared/saml/xml.ts');
  });

  it('keeps shared/config from importing saml, mapping, credentials or guard', () => {
    // Act
    const found = violations('shared/config', [
      'shared/saml',
      'shared/mapping',
      'shared/credentials',
      'shared/guard',
    ]);

    // Assess
    expect(found).toEqual([]);
  });

  it('keeps the XML reader below both config and saml', () => {
    // Act
    const found = violations('shared/xml', ['shared/config', 'shared/saml']);

    // Assess
    expect(found).toEqual([]);
  });

  it('keeps zod out of the limits and patterns the Lambda functions import', () => {
    // Act
    const found = ['shared/config/sts.ts', 'shared/config/limits.ts'].flatMap((file) =>
      importsOf(file).filter((specifier) => specifier === 'zod' || specifier.startsWith('zod/')),
    );

    // Assess
    expect(found).toEqual([]);
  });
});
