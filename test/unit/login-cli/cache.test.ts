/** The login cache's files and its refresh lock. */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoginCache } from '../../../scripts/login/cache.ts';
import { LoginError } from '../../../scripts/login/errors.ts';

const target = { url: 'https://tvm.example.com', provider: 'corp' };
const grant = {
  session: `tvms_${'a'.repeat(43)}`,
  expiresAt: '2030-01-01T00:00:00.000Z',
  provider: 'corp',
};
const timing = { staleMs: 2_000, waitMs: 300, pollMs: 10 };

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'tvm-login-cache-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('LoginCache files', () => {
  it('creates the directory 0700, closes one left open, and writes files 0600 with no temporary left', () => {
    // Prepare: an existing directory someone made 0755.
    const dir = path.join(root, 'cache');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);

    // Act
    const cache = LoginCache.open(dir);
    cache.writeSession(target, grant, new Date());
    cache.writeSession(target, grant, new Date());

    // Assess
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual([path.basename(cache.sessionFile(target))]);
    expect(statSync(cache.sessionFile(target)).mode & 0o777).toBe(0o600);
    expect(cache.readSession(target)?.session).toBe(grant.session);
  });

  it('reads a damaged, foreign or loosened file safely', () => {
    // Prepare
    const cache = LoginCache.open(path.join(root, 'cache'));
    cache.writeSession(target, grant, new Date());
    const file = cache.sessionFile(target);
    chmodSync(file, 0o644);

    // Act + Assess: a loosened file is closed again when read.
    expect(cache.readSession(target)).toBeDefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Another target's file under this name, or a damaged one, reads as no session.
    expect(cache.readSession({ ...target, url: 'https://other.example.com' })).toBeUndefined();
    writeFileSync(file, '{"version":1,');
    expect(cache.readSession(target)).toBeUndefined();
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        ...target,
        session: 'not-a-handle',
        expiresAt: grant.expiresAt,
      }),
    );
    expect(cache.readSession(target)).toBeUndefined();
  });

  it('forgets a session (keeping a marker without the handle) only if it still holds the same handle', () => {
    // Prepare
    const cache = LoginCache.open(path.join(root, 'cache'));
    cache.writeSession(target, { ...grant, session: `tvms_${'b'.repeat(43)}` }, new Date());

    // Act
    cache.forgetSession(target, grant.session, new Date());

    // Assess
    expect(cache.readSession(target)?.session).toBe(`tvms_${'b'.repeat(43)}`);
    expect(cache.sessionEnded(target)).toBe(false);
    cache.forgetSession(target, `tvms_${'b'.repeat(43)}`, new Date());
    expect(cache.readSession(target)).toBeUndefined();
    expect(cache.sessionEnded(target)).toBe(true);
  });

  it('refuses a cache path that is not a directory', () => {
    const file = path.join(root, 'file');
    writeFileSync(file, '');
    expect(() => LoginCache.open(file)).toThrow();
  });
});

describe('LoginCache.withLock', () => {
  it('runs one holder at a time and removes its lock', async () => {
    // Prepare
    const cache = LoginCache.open(path.join(root, 'cache'));
    const order: string[] = [];
    const hold = (name: string) => async () => {
      order.push(`${name} in`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push(`${name} out`);
    };

    // Act
    await Promise.all([
      cache.withLock('x', hold('a'), timing),
      cache.withLock('x', hold('b'), timing),
    ]);

    // Assess
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(path.join(cache.dir, 'x.lock'))).toBe(false);
  });

  it('takes over a lock left by a process that no longer exists, at once', async () => {
    // Prepare
    const cache = LoginCache.open(path.join(root, 'cache'));
    writeFileSync(
      path.join(cache.dir, 'x.lock'),
      JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), nonce: 'dead' }),
    );
    const started = Date.now();

    // Act
    const value = await cache.withLock('x', async () => 'ran', timing);

    // Assess
    expect(value).toBe('ran');
    expect(Date.now() - started).toBeLessThan(timing.waitMs);
  });

  it('takes over a lock older than staleMs, but waits for a live one and then gives up', async () => {
    // Prepare: a live holder (this process) that never lets go.
    const cache = LoginCache.open(path.join(root, 'cache'));
    const lock = path.join(cache.dir, 'x.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'live' }));

    // Act + Assess: a fresh live lock is waited on, then refused with lock_timeout.
    const refused = await cache
      .withLock('x', async () => 'ran', timing)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LoginError);
    expect((refused as LoginError).code).toBe('lock_timeout');
    // The same lock, 3 s old: stale (its holder hung), taken over.
    const old = new Date(Date.now() - 3_000);
    utimesSync(lock, old, old);
    expect(await cache.withLock('x', async () => 'ran', timing)).toBe('ran');
  });
});
