import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  AssumeRoleWithSAMLCommand,
  type Credentials,
  type STSClient,
} from '@aws-sdk/client-sts';
import { AppError } from '#shared/errors.ts';
import type { Decision } from '#shared/mapping/decision.ts';
import type { Metrics } from '#shared/metrics.ts';

export interface VendedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  assumedRoleArn: string;
}

export interface VendOptions {
  /** Per call, below the Lambda timeout so that a slow STS still gets a proper 503. */
  timeoutMs: number;
  /** Attempts on throttling and transient errors, with full-jitter backoff. */
  maxAttempts: number;
  /** Base of the exponential backoff; tests set it to 0. */
  backoffBaseMs?: number;
  /**
   * Epoch ms by which the answer must be back (the Lambda deadline less a margin). No attempt
   * starts, and no attempt waits, past it.
   */
  deadline?: number;
  /**
   * Console sign-in only works for role-chained sessions when no DurationSeconds is passed
   * (the SAML console target); everything else passes the decision's duration.
   */
  omitDuration?: boolean;
  /** Where each attempt's latency, throttling and unavailability are counted. */
  metrics?: Metrics;
}

/** Exactly the decision's parameters, and nothing a client could have chosen. */
export function assumeRoleInput(
  decision: Decision,
  options: { omitDuration?: boolean } = {},
): AssumeRoleCommandInput {
  return {
    RoleArn: decision.roleArn,
    RoleSessionName: decision.roleSessionName,
    SourceIdentity: decision.sourceIdentity,
    ...(options.omitDuration === true ? {} : { DurationSeconds: decision.durationSeconds }),
    ...(decision.tags.length > 0 ? { Tags: decision.tags } : {}),
    ...(decision.transitiveTagKeys.length > 0
      ? { TransitiveTagKeys: decision.transitiveTagKeys }
      : {}),
    ...(decision.policy === undefined ? {} : { Policy: decision.policy }),
    ...(decision.policyArns.length > 0
      ? { PolicyArns: decision.policyArns.map((arn) => ({ arn })) }
      : {}),
    ...(decision.externalId === undefined ? {} : { ExternalId: decision.externalId }),
  };
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);
const UNAVAILABLE = new Set([
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'RegionDisabledException',
]);
/** The role's trust policy, the role path or the session policy is wrong: an operator problem. */
const MISCONFIGURATION = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'ValidationError',
  'InvalidParameterValue',
  'ExpiredTokenException',
]);

/** An AssumeRole round trip below this is not worth starting. */
const MIN_CALL_MS = 100;

export type StsFailure = 'throttled' | 'unavailable' | 'timeout' | 'misconfigured' | 'unknown';

/** STS errors never reach the client as text: map them to 403, 503 or 500. */
export function classifyStsError(error: unknown): StsFailure {
  const name = (error as { name?: string }).name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout';
  if (THROTTLING.has(name) || status === 429) return 'throttled';
  if (MISCONFIGURATION.has(name)) return 'misconfigured';
  if (UNAVAILABLE.has(name) || (status !== undefined && status >= 500)) return 'unavailable';
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT')
    return 'unavailable';
  return 'unknown';
}

export class StsError extends AppError {
  failure: StsFailure;
  constructor(failure: StsFailure, cause: unknown) {
    const status = failure === 'misconfigured' ? 403 : failure === 'unknown' ? 500 : 503;
    super(
      failure === 'misconfigured'
        ? 'ERR_FORBIDDEN'
        : failure === 'unknown'
          ? 'ERR_INTERNAL'
          : 'ERR_UPSTREAM',
      status,
      status === 403
        ? 'Forbidden'
        : status === 503
          ? 'Service Unavailable'
          : 'Internal Server Error',
      `sts_${failure}`,
      { cause, ...(status === 503 ? { retryAfterSeconds: 2 } : {}) },
    );
    this.failure = failure;
  }
}

/**
 * One AssumeRole call. The client should be built with `maxAttempts: 1`: retries happen here,
 * only for throttling, timeouts and 5xx, with full jitter, so the total stays bounded.
 */
export async function vendCredentials(
  sts: STSClient,
  decision: Decision,
  options: VendOptions,
): Promise<VendedCredentials> {
  const input = assumeRoleInput(decision, options);
  return withStsRetries(options, (abortSignal) =>
    sts.send(new AssumeRoleCommand(input), { abortSignal }),
  );
}

/**
 * SAML native mode: AssumeRoleWithSAML with the IdP's own assertion. Not role chaining, so the
 * mapping's duration (up to 12 h) is passed, and the mapping adds only its session policy.
 */
export async function vendWithSaml(
  sts: STSClient,
  decision: Decision,
  saml: { principalArn: string; samlResponse: string },
  options: VendOptions,
): Promise<VendedCredentials> {
  const input = {
    RoleArn: decision.roleArn,
    PrincipalArn: saml.principalArn,
    SAMLAssertion: saml.samlResponse,
    DurationSeconds: decision.durationSeconds,
    ...(decision.policy === undefined ? {} : { Policy: decision.policy }),
    ...(decision.policyArns.length > 0
      ? { PolicyArns: decision.policyArns.map((arn) => ({ arn })) }
      : {}),
  };
  return withStsRetries(options, (abortSignal) =>
    sts.send(new AssumeRoleWithSAMLCommand(input), { abortSignal }),
  );
}

interface StsCredentialsOutput {
  Credentials?: Credentials | undefined;
  AssumedRoleUser?: { Arn?: string | undefined } | undefined;
}

/** One STS round trip, its latency counted whether it answers or throws. */
async function timed<T>(metrics: Metrics | undefined, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await call();
  } finally {
    metrics?.milliseconds('StsLatency', performance.now() - started);
  }
}

async function withStsRetries(
  options: VendOptions,
  call: (abortSignal: AbortSignal) => Promise<StsCredentialsOutput>,
): Promise<VendedCredentials> {
  const base = options.backoffBaseMs ?? 100;
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.maxAttempts; attempt += 1) {
    const left =
      options.deadline === undefined ? Number.POSITIVE_INFINITY : options.deadline - Date.now();
    // Too little time left for a useful call: answer 503 now rather than be killed mid-call.
    if (left < MIN_CALL_MS) throw new StsError('timeout', lastError ?? new Error('no time left'));
    try {
      const output = await timed(options.metrics, () =>
        call(AbortSignal.timeout(Math.min(options.timeoutMs, left))),
      );
      const credentials = output.Credentials;
      if (
        credentials?.AccessKeyId === undefined ||
        credentials.SecretAccessKey === undefined ||
        credentials.SessionToken === undefined ||
        credentials.Expiration === undefined
      ) {
        throw new StsError('unknown', new Error('AssumeRole answered without credentials'));
      }
      return {
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: credentials.SecretAccessKey,
        sessionToken: credentials.SessionToken,
        expiration: credentials.Expiration,
        assumedRoleArn: output.AssumedRoleUser?.Arn ?? '',
      };
    } catch (error) {
      if (error instanceof StsError) throw error;
      lastError = error;
      const failure = classifyStsError(error);
      // Per attempt, so throttling that the retries still absorb shows before requests fail.
      if (failure === 'throttled') options.metrics?.count('StsThrottled', {});
      if (failure === 'unavailable' || failure === 'timeout') {
        options.metrics?.count('StsUnavailable', {});
      }
      const retryable =
        failure === 'throttled' || failure === 'unavailable' || failure === 'timeout';
      if (!retryable || attempt === options.maxAttempts) {
        throw new StsError(failure, error);
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.random() * base * 2 ** (attempt - 1)),
      );
    }
  }
  throw new StsError('unknown', lastError);
}
