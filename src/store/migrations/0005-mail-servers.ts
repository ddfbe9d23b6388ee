import { sql, type Kysely } from 'kysely';

/**
 * What IMAP, POP3 and SMTP profiles need beyond Exchange's.
 *
 * A profile says where logins come from (`credential_source`: the profile's master user, or each mailbox's own
 * login) and, for a master user, the separator between the mailbox's login and the master's name. A POP3 profile
 * may delete mail once tracked; an IMAP profile may say that its SMTP server saves the Sent copy itself.
 *
 * A mailbox may hold its own login (`login_username`, and the password encrypted like the profile's, never in
 * plaintext). Existing IMAP/POP3 profiles keep working: those with a user name use it as a master user, those
 * without one take each mailbox's login.
 */
export function mailServers() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('email_server_profiles').addColumn('credential_source', 'text').execute();
      await db.schema.alterTable('email_server_profiles').addColumn('master_user_separator', 'text').execute();
      await db.schema.alterTable('email_server_profiles').addColumn('delete_after_tracking', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('email_server_profiles').addColumn('server_saves_sent_copy', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await sql`update email_server_profiles set credential_source = case when username is null then 'mailbox' else 'profile' end,
        master_user_separator = case when username is null then null else '*' end
        where server_type in ('imap-smtp', 'pop3-smtp')`.execute(db);
      await db.schema.alterTable('mailboxes').addColumn('login_username', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('login_password_enc', 'text').execute();
    },
  };
}
