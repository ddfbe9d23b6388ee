/** Alerts: what an administrator or mailbox owner reads, each with the fix. */

export const ALERT_LEVELS = ['error', 'warning', 'information'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

export const ALERT_SCOPES = ['profile', 'mailbox', 'email'] as const;
export type AlertScope = (typeof ALERT_SCOPES)[number];

export interface AlertInput {
  level: AlertLevel;
  scope: AlertScope;
  profileId?: string | null;
  mailboxId?: string | null;
  activityId?: string | null;
  /** A stable code to search and filter by, e.g. "ews.unauthorized". */
  code: string;
  message: string;
  /** The server's own answer, verbatim (status line, fault text), when there is one. */
  serverResponse?: string | null;
  /** What to do about it. */
  fix?: string | null;
}
