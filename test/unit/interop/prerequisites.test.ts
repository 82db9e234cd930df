/**
 * How the interop suite finds a Java for Keycloak (≥ 21), and the reason it gives when it skips.
 * Fake JDKs are shell scripts that answer `java -version` like the real ones.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findJava, interopPrerequisites } from '../../support/keycloak.ts';

let root: string;

function fakeJdk(name: string, version: string): string {
  const home = path.join(root, 'jvm', name);
  mkdirSync(path.join(home, 'bin'), { recursive: true });
  const java = path.join(home, 'bin', 'java');
  // Real JDKs print the version on stderr.
  writeFileSync(java, `#!/bin/sh\necho 'openjdk version "${version}" 2025-01-01' >&2\n`);
  chmodSync(java, 0o755);
  return home;
}

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: path.join(root, 'empty'),
  TVM_INTEROP_JVM_DIR: path.join(root, 'jvm'),
  ...extra,
});

describe('interop prerequisites', () => {
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'tvm-interop-java-'));
    mkdirSync(path.join(root, 'jvm'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('takes the newest JDK ≥ 21 of the JVM folder when JAVA_HOME is too old', () => {
    // Prepare
    const old = fakeJdk('java-17', '17.0.15');
    fakeJdk('temurin-21', '21.0.4');
    const newest = fakeJdk('temurin-25', '25.0.3');
    // Act / Assess
    expect(findJava(env({ JAVA_HOME: old }))).toEqual({ home: newest, major: 25 });
  });

  it('prefers JAVA_HOME whenever it is recent enough', () => {
    const chosen = fakeJdk('temurin-21', '21.0.4');
    fakeJdk('temurin-25', '25.0.3');
    expect(findJava(env({ JAVA_HOME: chosen }))).toEqual({ home: chosen, major: 21 });
  });

  it('reads the old "1.8.0" version form as 8, which is too old', () => {
    fakeJdk('java-8', '1.8.0_392');
    expect(findJava(env())).toBeUndefined();
  });

  it('gives a one-line reason when no Java ≥ 21 exists', () => {
    fakeJdk('java-17', '17.0.15');
    const result = interopPrerequisites(env());
    expect(result).toMatchObject({ ok: false });
    expect(result.ok ? '' : result.reason).toMatch(/^no Java ≥ 21 \(.*\) to run Keycloak [\d.]+$/);
  });
});
