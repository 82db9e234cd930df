/** Times an operator types: `--until` (deny) and `--since` (audit list). */
import { ValidationError } from '#shared/errors.ts';

const DURATION_PATTERN = /^([1-9][0-9]{0,5})([smhdw])$/;
const DURATION_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 } as const;
/** A date (midnight UTC), or a date-time with an explicit zone: local time would be a guess. */
const ISO_TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * An ISO 8601 time with a zone, a date (midnight UTC), or a duration (`30m`, `2h`, `7d`, `2w`)
 * counted from `now` in `direction` (+1 ahead, -1 back). Undefined when it is none of those.
 */
function parseTime(text: string, now: Date, direction: 1 | -1): Date | undefined {
  const duration = DURATION_PATTERN.exec(text);
  if (duration?.[1] !== undefined && duration[2] !== undefined) {
    const unit = duration[2] as keyof typeof DURATION_SECONDS;
    return new Date(
      now.getTime() + direction * Number(duration[1]) * DURATION_SECONDS[unit] * 1000,
    );
  }
  const parts = ISO_TIME_PATTERN.exec(text);
  if (parts === null) return undefined;
  const [year, month, day, hour, minute, second, zoneHour, zoneMinute] = parts
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  // Date.parse rolls 2025-02-30 over to March 2; refuse impossible dates instead.
  const daysInMonth = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
  const valid =
    (month ?? 0) >= 1 &&
    (month ?? 0) <= 12 &&
    (day ?? 0) >= 1 &&
    (day ?? 0) <= daysInMonth &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    (zoneHour ?? 0) <= 14 &&
    (zoneMinute ?? 0) <= 59;
  const ms = Date.parse(text);
  return valid && !Number.isNaN(ms) ? new Date(ms) : undefined;
}

function unreadable(flag: string, example: string, text: string): ValidationError {
  return new ValidationError(
    `${flag} must be an ISO 8601 time with a zone (${example}), a date (${example.slice(0, 10)}, midnight UTC) or a duration such as 30m, 2h, 7d, 2w; got ${JSON.stringify(text)}`,
  );
}

/**
 * `--until`: a time, a date, or a duration from now. Must be in the future: a past `until` would
 * write an entry that never applies.
 */
export function parseUntil(text: string, now: Date): Date {
  const until = parseTime(text, now, 1);
  if (until === undefined) throw unreadable('--until', '2030-05-01T12:00:00Z', text);
  if (until.getTime() <= now.getTime()) {
    throw new ValidationError(
      `--until ${until.toISOString()} is not in the future (now ${now.toISOString()}); an entry that has already ended would deny nothing`,
    );
  }
  return until;
}

/** `--since`: a time, a date, or a duration back from now (`2h`: the last two hours). Not in the future. */
export function parseSince(text: string, now: Date): Date {
  const since = parseTime(text, now, -1);
  if (since === undefined) throw unreadable('--since', '2030-05-01T12:00:00Z', text);
  if (since.getTime() > now.getTime()) {
    throw new ValidationError(
      `--since ${since.toISOString()} is in the future (now ${now.toISOString()}); no record can be that recent`,
    );
  }
  return since;
}
