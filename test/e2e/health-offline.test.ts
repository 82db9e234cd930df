import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOffline } from '../support/local-tvm.ts';
import { childEnv, type GroupProcess, groupAlive, killGroup } from '../support/process.ts';

describe('health (serverless-offline)', () => {
  let offline: GroupProcess;
  let baseUrl: string;

  beforeAll(async () => {
    const started = await startOffline(childEnv());
    offline = started.server;
    baseUrl = started.baseUrl;
    await started.ready;
  });

  afterAll(async () => {
    if (offline === undefined) return;
    await killGroup(offline);
    expect(groupAlive(offline.pid)).toBe(false);
  });

  it('answers GET /v1/health with 200, the liveness body and no-store', async () => {
    // Act
    const response = await fetch(`${baseUrl}/v1/health`);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ status: 'ok', service: 'tvm', stage: 'local' });
  });

  it('answers CORS preflights for listed origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${baseUrl}/v1/credentials`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });

    const allowed = await preflight('http://localhost:5173');
    const other = await preflight('https://evil.example');

    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    await allowed.body?.cancel();
    await other.body?.cancel();
  });

  it('answers 404 for a route that does not exist', async () => {
    // Act
    const response = await fetch(`${baseUrl}/v1/no-such-route`);

    // Assess
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});
