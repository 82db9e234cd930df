import { randomUUID } from 'node:crypto';
import type { MutableResponse } from 'oauth2-mock-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JWKS_MAX_AGE_SECONDS } from '#shared/auth/jwks.ts';
import { createOidcAuthenticator } from '#shared/auth/oidc.ts';
import type { OidcProvider } from '#shared/config/schema.ts';
import { AuthenticationError, UpstreamError } from '#shared/errors.ts';
import {
  IssuerEvents,
  providerFor,
  startTestIssuer,
  TEST_SUBJECT,
  type TestIssuer,
} from '../../support/oidc-issuer.ts';

const START_MS = Date.UTC(2030, 0, 1);
let clockMs = START_MS;
const now = () => clockMs;
const advanceSeconds = (seconds: number) => {
  clockMs += seconds * 1000;
};

let idp: TestIssuer;

beforeAll(async () => {
  idp = await startTestIssuer({ now });
});

afterEach(() => {
  idp.setOutage('none');
});

afterAll(async () => {
  await idp?.stop();
});

const JWKS = { cooldownSeconds: 30, timeoutMs: 1000, staleMaxAgeSeconds: 3600 };

function setup(
  overrides: Parameters<typeof providerFor>[1] = {},
  options: { stage?: string; issuer?: TestIssuer } = {},
) {
  clockMs = START_MS;
  const provider = providerFor(options.issuer ?? idp, { jwks: JWKS, ...overrides });
  const authenticator = createOidcAuthenticator({ now, stage: options.stage ?? 'local' });
  return {
    provider,
    authenticate: (token: string, providers: readonly OidcProvider[] = [provider]) =>
      authenticator.authenticate(token, providers),
  };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

async function expectUnavailable(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await errorOf(promise);
  expect(error).toBeInstanceOf(UpstreamError);
  expect(error).toMatchObject({
    code: 'ERR_UPSTREAM',
    statusCode: 503,
    reason: 'jwks_unavailable',
  });
  return error as UpstreamError;
}

const randomKidToken = () => idp.mint({}, { header: { kid: randomUUID() } });

/** Waits for every attempt and returns the audit reasons, in order. */
async function reasonsOf(attempts: readonly Promise<unknown>[]): Promise<string[]> {
  const errors = await Promise.all(attempts.map(errorOf));
  return errors.map((error) => (error instanceof AuthenticationError ? error.reason : 'other'));
}

describe('oidc jwks cache', () => {
  it('fetches the JWKS once and serves later tokens from the cache', async () => {
    // Prepare
    const { authenticate } = setup();
    const before = idp.jwksRequests();

    // Act
    await authenticate(await idp.mint());
    advanceSeconds(60);
    await authenticate(await idp.mint());

    // Assess
    expect(idp.jwksRequests() - before).toBe(1);
  });

  it('shares one fetch between concurrent requests on a cold cache', async () => {
    // Prepare
    const { authenticate } = setup();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => idp.mint()));
    const before = idp.jwksRequests();

    // Act
    const identities = await Promise.all(tokens.map((token) => authenticate(token)));

    // Assess
    expect(identities.every((identity) => identity.subject === TEST_SUBJECT)).toBe(true);
    expect(idp.jwksRequests() - before).toBe(1);
  });

  it('refetches at most once per cooldown under a burst of random kids', async () => {
    // Prepare
    const { authenticate } = setup();
    await authenticate(await idp.mint());
    advanceSeconds(JWKS.cooldownSeconds);
    const burst = () => Promise.all(Array.from({ length: 50 }, randomKidToken));
    const first = await burst();
    const second = await burst();
    const third = await burst();
    const start = idp.jwksRequests();

    // Act
    const firstReasons = await reasonsOf(first.map((token) => authenticate(token)));
    const afterFirst = idp.jwksRequests();
    advanceSeconds(JWKS.cooldownSeconds - 1);
    const secondReasons = await reasonsOf(second.map((token) => authenticate(token)));
    const afterSecond = idp.jwksRequests();
    advanceSeconds(1);
    const thirdReasons = await reasonsOf(third.map((token) => authenticate(token)));
    const afterThird = idp.jwksRequests();

    // Assess
    expect(afterFirst - start).toBe(1);
    expect(afterSecond - afterFirst).toBe(0);
    expect(afterThird - afterSecond).toBe(1);
    for (const reasons of [firstReasons, secondReasons, thirdReasons]) {
      expect(new Set(reasons)).toEqual(new Set(['unknown_kid']));
      expect(reasons).toHaveLength(50);
    }
  });

  it('picks up a rotated key once the cooldown allows a refetch', async () => {
    // Prepare
    const { authenticate } = setup();
    await authenticate(await idp.mint());
    const rotated = await idp.addKey('RS256');
    const token = await idp.mint({}, { kid: rotated.kid });

    // Act
    const early = await errorOf(authenticate(token));
    advanceSeconds(JWKS.cooldownSeconds);
    const identity = await authenticate(token);

    // Assess
    expect(early).toMatchObject({ reason: 'unknown_kid' });
    expect(identity.subject).toBe(TEST_SUBJECT);
  });

  it(`refreshes keys older than ${JWKS_MAX_AGE_SECONDS} s even when every kid is known`, async () => {
    // Prepare
    const { authenticate } = setup();
    await authenticate(await idp.mint());
    const before = idp.jwksRequests();

    // Act
    advanceSeconds(JWKS_MAX_AGE_SECONDS - 1);
    await authenticate(await idp.mint());
    const atMaxAge = idp.jwksRequests();
    advanceSeconds(2);
    await authenticate(await idp.mint());

    // Assess
    expect(atMaxAge - before).toBe(0);
    expect(idp.jwksRequests() - atMaxAge).toBe(1);
  });

  it('serves stale keys while the JWKS is down within the bound, and 503 beyond it', async () => {
    // Prepare: keys fetched at t=0, then the JWKS endpoint goes down.
    const { authenticate } = setup();
    await authenticate(await idp.mint());
    idp.setOutage('status');
    const before = idp.jwksRequests();
    const at = async (seconds: number) => {
      clockMs = START_MS + seconds * 1000;
      return authenticate(await idp.mint());
    };
    const attempts = () => idp.jwksRequests() - before;
    const bound = JWKS.staleMaxAgeSeconds;

    // Act / Assess: due for refresh, the refresh fails, the cached keys are still served.
    await expect(at(JWKS_MAX_AGE_SECONDS + 1)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    expect(attempts()).toBe(1);
    // Exactly at the bound (another failed attempt, the cooldown having passed): still served.
    await expect(at(bound)).resolves.toMatchObject({ subject: TEST_SUBJECT });
    expect(attempts()).toBe(2);
    // One second past the bound: 503, without asking the IdP again inside the cooldown.
    const beyond = await expectUnavailable(at(bound + 1));
    expect(beyond).toMatchObject({ provider: 'test-idp', cause: expect.any(Error) });
    expect(beyond.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await expectUnavailable(at(bound + JWKS.cooldownSeconds - 1));
    expect(attempts()).toBe(2);
    // Cooldown over: one more attempt, which fails too.
    await expectUnavailable(at(bound + JWKS.cooldownSeconds));
    expect(attempts()).toBe(3);
    // The IdP is back: the next attempt after the cooldown succeeds.
    idp.setOutage('none');
    await expect(at(bound + 2 * JWKS.cooldownSeconds)).resolves.toMatchObject({
      subject: TEST_SUBJECT,
    });
    expect(attempts()).toBe(4);
  });

  it('answers 503 when the JWKS is down and nothing is cached', async () => {
    // Prepare
    const { authenticate } = setup();
    idp.setOutage('reset');

    // Act / Assess
    await expectUnavailable(authenticate(await idp.mint()));
  });

  it('honours the fetch timeout when the JWKS endpoint hangs', async () => {
    // Prepare
    const { authenticate } = setup({ jwks: { ...JWKS, timeoutMs: 150 } });
    idp.setOutage('hang');
    const token = await idp.mint();
    const started = performance.now();

    // Act
    await expectUnavailable(authenticate(token));

    // Assess
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses a JWKS larger than the size cap', async () => {
    const { authenticate } = setup();
    idp.setOutage('oversize');
    await expectUnavailable(authenticate(await idp.mint()));
  });

  it('refuses a JWKS that is not a {keys: [...]} object', async () => {
    const { authenticate } = setup();
    idp.setOutage('not-jwks');
    await expectUnavailable(authenticate(await idp.mint()));
  });

  it('never serves the keys of a provider whose issuer changed in config', async () => {
    // Prepare
    const other = await startTestIssuer({ now });
    try {
      const { authenticate, provider } = setup();
      await authenticate(await idp.mint());
      const moved = providerFor(other, { jwks: JWKS });
      const otherBefore = other.jwksRequests();

      // Act
      const identity = await authenticate(await other.mint(), [moved]);

      // Assess
      expect(moved.id).toBe(provider.id);
      expect(identity.provider).toBe(provider.id);
      expect(other.jwksRequests() - otherBefore).toBe(1);
    } finally {
      await other.stop();
    }
  });

  describe('discovery', () => {
    function withDiscovery(edit: (body: Record<string, unknown>) => void): () => void {
      const listener = (response: MutableResponse) => {
        if (response.body !== '') edit(response.body);
      };
      idp.service.on(IssuerEvents.BeforeWellKnownOpenIdConfiguration, listener);
      return () => idp.service.off(IssuerEvents.BeforeWellKnownOpenIdConfiguration, listener);
    }

    it('refuses a discovery document that names another issuer', async () => {
      // Prepare
      const { authenticate } = setup({ jwksUri: undefined });
      const restore = withDiscovery((body) => {
        body.issuer = `${idp.issuer}/`;
      });
      const before = idp.jwksRequests();

      // Act
      try {
        await expectUnavailable(authenticate(await idp.mint()));
      } finally {
        restore();
      }

      // Assess
      expect(idp.jwksRequests() - before).toBe(0);
    });

    it('refuses a discovered jwks_uri over http to a non-loopback host', async () => {
      // Prepare
      const { authenticate } = setup({ jwksUri: undefined });
      const restore = withDiscovery((body) => {
        body.jwks_uri = 'http://keys.example.com/jwks';
      });

      // Act / Assess
      try {
        await expectUnavailable(authenticate(await idp.mint()));
      } finally {
        restore();
      }
    });

    it('refuses plain http, even on loopback, outside the local stage', async () => {
      // Prepare
      const { authenticate } = setup({ jwksUri: undefined }, { stage: 'prod' });
      const before = idp.requests();

      // Act
      await expectUnavailable(authenticate(await idp.mint()));

      // Assess
      expect(idp.requests() - before).toBe(0);
    });

    it('refuses a configured http jwksUri outside the local stage', async () => {
      // Prepare
      const { authenticate } = setup({}, { stage: 'prod' });
      const before = idp.requests();

      // Act
      await expectUnavailable(authenticate(await idp.mint()));

      // Assess
      expect(idp.requests() - before).toBe(0);
    });
  });
});
