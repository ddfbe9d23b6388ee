/**
 * The owner notification rule: once an hour, when more than half of a profile's mailboxes processed in the last
 * hour failed, the profile's owner gets one email. The seed documents' table: 15 processed / 10 failed and 40 / 30
 * notify, 1000 / 300 does not.
 */

export const OWNER_NOTIFICATION_PERIOD_MS = 60 * 60 * 1000;

/** The share of failed mailboxes above which the owner is told. */
export const OWNER_NOTIFICATION_THRESHOLD = 0.5;

export interface FailureCount {
  processed: number;
  failed: number;
}

export function ownerShouldBeNotified(count: FailureCount): boolean {
  if (count.processed <= 0) return false;
  return count.failed / count.processed > OWNER_NOTIFICATION_THRESHOLD;
}

export function failedPercent(count: FailureCount): number {
  return count.processed <= 0 ? 0 : Math.round((count.failed / count.processed) * 100);
}

/** The email the owner receives and the profile alert that records it. */
export function ownerNotification(input: FailureCount & { profileName: string; since: Date }): { subject: string; bodyText: string; message: string } {
  const percent = failedPercent(input);
  const summary = `${input.failed} of the ${input.processed} mailboxes of email server profile "${input.profileName}" processed since ${input.since.toISOString()} failed (${percent}%)`;
  return {
    subject: `Liaison: ${percent}% of the mailboxes of "${input.profileName}" are failing to synchronize`,
    bodyText:
      `${summary}.\n\n` +
      'Open the mailboxes of this profile in Liaison to see each one\'s alert: it names the step that failed, the ' +
      "server's own answer and what to do. A mailbox disabled after repeated failures comes back with Test & Enable.\n\n" +
      'You receive this because Email Notifications are on for the profile; at most one such email is sent an hour.\n',
    message: summary,
  };
}
