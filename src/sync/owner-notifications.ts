/**
 * Owner notification: once an hour (and once soon after start) the profiles with Email Notifications on are
 * counted; where more than half of the mailboxes processed in the last hour failed, one worker (the one that
 * claims it: at most one email an hour across all workers) queues an email to the profile's owner through the
 * organization's system notification mailbox, and records a profile alert.
 */
import { OWNER_NOTIFICATION_PERIOD_MS, ownerNotification, ownerShouldBeNotified } from '../domain/notification.js';
import type { EngineEvent } from './engine-types.js';
import type { SyncStore } from './ports.js';

export const OWNER_NOTIFICATION_CODE = 'profile.mailboxes-failing';

/** One round: what it notified, for logs and tests. */
export async function notifyOwners(sync: SyncStore, now: Date, emit: (event: EngineEvent) => void = () => undefined): Promise<string[]> {
  const since = new Date(now.getTime() - OWNER_NOTIFICATION_PERIOD_MS);
  const notified: string[] = [];
  for (const count of await sync.failureCounts(since)) {
    if (!ownerShouldBeNotified(count)) continue;
    if (!(await sync.claimOwnerNotification(count.profileId, now))) continue;
    try {
      const { profile } = await sync.profile(count.profileId);
      const mail = ownerNotification({ ...count, profileName: profile.name, since });
      let sentNote: string;
      if (!count.ownerAddress) {
        sentNote = 'No email was sent: the profile\'s owner has no email address.';
      } else {
        // The hour is claimed already: a failure to queue the email must still leave the alert, which says so.
        const queued = await sync
          .queueSystemEmail({ to: count.ownerAddress, subject: mail.subject, bodyText: mail.bodyText })
          .catch((error: unknown) => error as Error);
        sentNote =
          queued instanceof Error
            ? `No email could be queued to the owner, ${count.ownerAddress}: ${queued.message}.`
            : queued
              ? `An email was queued to the owner, ${count.ownerAddress}.`
              : 'No email was sent: the organization settings name no mailbox for system notifications.';
      }
      await sync.raiseAlert({
        level: 'error',
        scope: 'profile',
        profileId: count.profileId,
        code: OWNER_NOTIFICATION_CODE,
        message: `${mail.message}. ${sentNote}`,
        fix: "Open the profile's failing mailboxes: each one's alert names the step that failed and what to do. Set the organization's system notification mailbox so owners are emailed.",
      });
      notified.push(count.profileId);
    } catch (error) {
      emit({ type: 'failure', mailboxId: null, address: null, code: 'owner-notification', message: `profile ${count.profileId}: ${(error as Error).message}` });
    }
  }
  return notified;
}

export class OwnerNotifier {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly sync: SyncStore,
    private readonly now: () => Date,
    private readonly emit: (event: EngineEvent) => void,
    private readonly firstDelayMs = 60_000,
    private readonly periodMs = OWNER_NOTIFICATION_PERIOD_MS,
  ) {}

  start(): void {
    const run = () => {
      this.running ??= notifyOwners(this.sync, this.now(), this.emit)
        .catch((error: unknown) => this.emit({ type: 'failure', mailboxId: null, address: null, code: 'owner-notification', message: (error as Error).message }))
        .finally(() => {
          this.running = null;
        });
    };
    this.timer = setTimeout(() => {
      run();
      this.timer = setInterval(run, this.periodMs);
      this.timer.unref();
    }, this.firstDelayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    this.timer = null;
    await this.running;
  }
}
