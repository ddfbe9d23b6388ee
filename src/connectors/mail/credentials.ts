/**
 * Which login an IMAP, POP3 or SMTP connection uses for a mailbox. IMAP and POP3 have no impersonation: a profile
 * either holds one master user that may log in for every mailbox (Dovecot's `mailbox*master`: the master user's
 * password, the mailbox's identity), or each mailbox holds its own login. An SMTP login of its own
 * (`useSameSettingsForOutgoing` off) is a relay account used for every mailbox of the profile.
 *
 * OAuth 2.0 (XOAUTH2) would be a third source: `MailLogin` would then carry a token instead of a password.
 */
import type { ProfileSettings } from '../../domain/profile.js';

/** What a mailbox stores of its own login (credentialSource mailbox); the password decrypted. */
export interface MailboxLogin {
  username: string | null;
  password: string | null;
}

export interface MailLogin {
  username: string;
  password: string;
  /** Who logs in, for messages: "master user liaison for alice@example.com", "alice@example.com's own login". */
  describe: string;
}

/** The profile and mailbox hold no usable login: only an administrator (or the mailbox's owner) can fix it. */
export class MissingLoginError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'MissingLoginError';
  }
}

export interface ProfileLoginSecrets {
  password: string | null;
  outgoingPassword: string | null;
}

/**
 * The login for `address` on the incoming (IMAP/POP3) or outgoing (SMTP) server. Throws MissingLoginError
 * when the profile or the mailbox lacks what it needs.
 */
export function loginFor(
  profile: ProfileSettings,
  secrets: ProfileLoginSecrets,
  address: string,
  mailbox: MailboxLogin | null,
  direction: 'incoming' | 'outgoing',
): MailLogin {
  if (direction === 'outgoing' && !profile.useSameSettingsForOutgoing && profile.outgoingUsername) {
    if (!secrets.outgoingPassword) {
      throw new MissingLoginError(`profile "${profile.name}" has an SMTP user name but no SMTP password`, 'Set outgoingPassword on the email server profile.');
    }
    return { username: profile.outgoingUsername, password: secrets.outgoingPassword, describe: `the profile's SMTP login ${profile.outgoingUsername}` };
  }
  if (profile.credentialSource === 'mailbox') {
    if (!mailbox?.username || !mailbox.password) {
      throw new MissingLoginError(
        `the mailbox ${address} has no ${mailbox?.username ? 'password' : 'login'} of its own, and its profile "${profile.name}" takes each mailbox's login`,
        `Set the mailbox's username and password (PUT /api/v1/mailboxes/{id}/login, by its owner or an administrator).`,
      );
    }
    return { username: mailbox.username, password: mailbox.password, describe: `${address}'s own login ${mailbox.username}` };
  }
  if (!profile.username || !secrets.password) {
    throw new MissingLoginError(
      `profile "${profile.name}" has no master user ${profile.username ? 'password' : 'name'}`,
      'Set username and password on the email server profile: a master user that may log in for every mailbox (Dovecot: a passdb with master = yes).',
    );
  }
  const separator = profile.masterUserSeparator ?? '*';
  return {
    username: `${address}${separator}${profile.username}`,
    password: secrets.password,
    describe: `master user ${profile.username} for ${address}`,
  };
}
