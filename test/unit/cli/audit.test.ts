import { describe, expect, it } from 'vitest';
import { type AuditRecord, subjectHash } from '#shared/audit/audit.ts';
import { issuerTag } from '#shared/auth/principal.ts';
import { checkAccessKeyId, provenSubject } from '../../../scripts/cli/commands/audit.ts';
import { parseSince } from '../../../scripts/cli/time.ts';

const ISSUER = 'https://issuer.example.com';

function record(fields: Partial<AuditRecord>): AuditRecord {
  return {
    requestId: 'r',
    at: '2030-06-01T10:00:00.000Z',
    route: 'POST /v1/credentials',
    outcome: 'allowed',
    reason: 'ok',
    issuer: ISSUER,
    ...fields,
  };
}

describe('provenSubject', () => {
  it('reads the subject out of the default SourceIdentity when it hashes to the record', () => {
    expect(
      provenSubject(
        record({
          subjectHash: subjectHash(ISSUER, 'alice'),
          sourceIdentity: `alice@${issuerTag(ISSUER)}`,
        }),
      ),
    ).toBe('alice');
  });

  it("names a guest by its IdentityId, the guest's subject", () => {
    const identityId = 'eu-west-1:0f0c1ab2-3c4d-4e5f-8a9b-0123456789ab';
    const guests = 'urn:tvm:guest:shop-guests';
    expect(
      provenSubject(
        record({
          issuer: guests,
          subjectHash: subjectHash(guests, identityId),
          identityId,
          sourceIdentity: identityId.replace(':', '.'),
        }),
      ),
    ).toBe(identityId);
  });

  it('names nobody when the value does not hash to the record (a template, or a forged-looking one)', () => {
    // A SourceIdentity in the default form that is someone else's: never shown as the subject.
    expect(
      provenSubject(
        record({
          subjectHash: subjectHash(ISSUER, 'alice'),
          sourceIdentity: `bob@${issuerTag(ISSUER)}`,
        }),
      ),
    ).toBeUndefined();
    expect(
      provenSubject(record({ subjectHash: subjectHash(ISSUER, 'alice'), sourceIdentity: 'x' })),
    ).toBeUndefined();
  });
});

describe('checkAccessKeyId', () => {
  it.each(['ASIAEXAMPLE123456789', 'AKIAIOSFODNN7EXAMPLE', 'A'.repeat(128)])(
    'accepts %s',
    (key) => {
      expect(checkAccessKeyId(key)).toBe(key);
    },
  );

  it.each(['', 'ASIA', 'ASIA-EXAMPLE-123456', 'ASIAEXAMPLE123456789\n', 'A'.repeat(129)])(
    'refuses %j',
    (key) => {
      expect(() => checkAccessKeyId(key)).toThrow(
        expect.objectContaining({ code: 'ERR_BAD_REQUEST' }),
      );
    },
  );
});

describe('parseSince', () => {
  const now = new Date('2030-06-01T10:00:00.000Z');

  it.each([
    ['30m', '2030-06-01T09:30:00.000Z'],
    ['2h', '2030-06-01T08:00:00.000Z'],
    ['7d', '2030-05-25T10:00:00.000Z'],
    ['2030-06-01', '2030-06-01T00:00:00.000Z'],
    ['2030-06-01T11:00:00+02:00', '2030-06-01T09:00:00.000Z'],
    ['2030-06-01T10:00:00.000Z', '2030-06-01T10:00:00.000Z'],
  ])('reads %s', (text, expected) => {
    expect(parseSince(text, now).toISOString()).toBe(expected);
  });

  it.each(['0h', '2 h', '2030-06-01T09:00:00', '2030-06-01T10:00:01Z', '2031-02-29'])(
    'refuses %s',
    (text) => {
      expect(() => parseSince(text, now)).toThrow(
        expect.objectContaining({
          code: 'ERR_BAD_REQUEST',
          detail: expect.stringMatching(/--since/),
        }),
      );
    },
  );
});
