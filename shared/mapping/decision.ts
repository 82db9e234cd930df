import type { Mapping } from '#shared/config/schema.ts';

/** What the client asked for, after HTTP parsing. It can name a mapping, never a role ARN. */
export interface DecisionRequest {
  mappingId?: string;
  /** Already checked to be an integer within the documented range by the route. */
  durationSeconds?: number;
}

/** Exactly the parameters of one STS AssumeRole call, plus what the audit record needs. */
export interface Decision {
  mapping: Mapping;
  roleArn: string;
  roleSessionName: string;
  sourceIdentity: string;
  /** In config order; keys unique case-insensitively. */
  tags: { Key: string; Value: string }[];
  transitiveTagKeys: string[];
  /** Minified rendered JSON, at most 2,048 characters; undefined when the mapping has none. */
  policy: string | undefined;
  /** SHA-256 hex of `policy`, for the audit record. */
  policySha256: string | undefined;
  policyArns: string[];
  durationSeconds: number;
  externalId: string | undefined;
  /** Ids of every mapping that matched, highest priority first (for the SAML chooser, audit). */
  matched: string[];
}

/** Why no credentials are vended after a successful authentication (audit reason, 403). */
export type { DenyReason } from '#shared/errors.ts';
