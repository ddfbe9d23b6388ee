/**
 * Tracking tokens: a short number in the subject of email sent from the CRM ("RE: Quote CRM:0000042"), so that
 * a reply is correlated even when the mail client that wrote it dropped In-Reply-To and References.
 */

export interface TrackingTokenFormat {
  /** Default "CRM:". */
  prefix: string;
  /** Digits of the number, zero-padded; a larger number keeps all its digits. */
  digits: number;
}

export const DEFAULT_TRACKING_TOKEN: TrackingTokenFormat = { prefix: 'CRM:', digits: 7 };

export function formatTrackingToken(format: TrackingTokenFormat, n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`a tracking token number must be a positive integer, not ${n}`);
  return `${format.prefix}${String(n).padStart(format.digits, '0')}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The token in a subject, or null. The prefix matches without regard to case, and only as a whole word with at
 * least `digits` digits after it, so "CRM:12" (too short) or "XCRM:0000042" are not tokens.
 */
export function findTrackingToken(format: TrackingTokenFormat, subject: string): string | null {
  const pattern = new RegExp(`(?:^|[^A-Za-z0-9])(${escapeRegExp(format.prefix)})(\\d{${format.digits},})(?!\\d)`, 'i');
  const match = pattern.exec(subject);
  if (!match) return null;
  return `${format.prefix}${match[2]}`;
}

/** The subject with the token added at the end (once: a subject that has it already is kept). */
export function subjectWithToken(format: TrackingTokenFormat, subject: string, token: string): string {
  if (findTrackingToken(format, subject) === token) return subject;
  return subject.trim() === '' ? token : `${subject} ${token}`;
}
