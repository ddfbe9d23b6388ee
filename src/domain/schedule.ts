/**
 * When a mailbox is due again, and which of its messages are old enough to leave alone. Pure rules: the engine
 * asks, the store keeps the answers.
 */

/** The floor when the profile says 0 minutes and no push feed watches the mailbox. */
export const DEFAULT_POLL_FLOOR_MS = 5_000;

/**
 * With a healthy push feed, new mail starts a cycle at once; polling only catches what a notification missed,
 * so it can afford to be slower. It stays the source of truth: it never stops.
 */
export const PUSH_POLL_FLOOR_MS = 60_000;

export interface PollingRule {
  /** The profile's Minimum Polling Interval in minutes (0: as often as the engine can afford). */
  minPollingIntervalMinutes: number;
}

/** How long after a successful cycle the mailbox is due again. */
export function pollDelayMs(profile: PollingRule, options: { pollFloorMs?: number; pushHealthy?: boolean } = {}): number {
  const floor = Math.max(1, options.pollFloorMs ?? DEFAULT_POLL_FLOOR_MS);
  const pushFloor = options.pushHealthy ? Math.max(floor, PUSH_POLL_FLOOR_MS) : floor;
  const configured = Math.max(0, profile.minPollingIntervalMinutes) * 60_000;
  return Math.max(configured, pushFloor);
}

/** The Process Email From that applies: the later of the profile's and the mailbox's; null when neither is set. */
export function effectiveProcessEmailFrom(profileValue: string | null, mailboxValue: string | null): Date | null {
  const dates = [profileValue, mailboxValue]
    .filter((value): value is string => value !== null && value !== '')
    .map((value) => new Date(value))
    .filter((date) => !Number.isNaN(date.getTime()));
  if (dates.length === 0) return null;
  return new Date(Math.max(...dates.map((d) => d.getTime())));
}

/**
 * Whether a message was received before Process Email From. A message whose time is unknown or unreadable is not
 * "before": it is processed, since leaving it out would lose it without a trace.
 */
export function receivedBefore(receivedAt: string | undefined | null, from: Date | null): boolean {
  if (!from || !receivedAt) return false;
  const at = new Date(receivedAt).getTime();
  return !Number.isNaN(at) && at < from.getTime();
}

/** The rule name a message filtered by Process Email From is recorded with. */
export const BEFORE_PROCESS_EMAIL_FROM = 'before-process-email-from';
