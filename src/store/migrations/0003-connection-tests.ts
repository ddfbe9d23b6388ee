import type { Kysely } from 'kysely';

/**
 * What connecting to Exchange needs and leaves behind. A profile says how its service account signs in
 * (`authentication`: basic or ntlm, Exchange only) and how long one call may take (`request_timeout_seconds`);
 * it keeps its last Test Connection result (`last_test_result`, the result as JSON). A mailbox caches the EWS
 * URL Autodiscover found for it and when (`ews_url`, `ews_url_found_at`), so that not every cycle rediscovers.
 *
 * Existing Exchange profiles were saved when Basic was the only way to sign in, so they get `basic`; profiles of
 * other types get null, as new ones do. Every profile gets the 100-second timeout new ones default to.
 */
export function connectionTests() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('email_server_profiles').addColumn('authentication', 'text').execute();
      await db.schema
        .alterTable('email_server_profiles')
        .addColumn('request_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(100))
        .execute();
      await db.schema.alterTable('email_server_profiles').addColumn('last_test_result', 'text').execute();
      const profiles = db as Kysely<{ email_server_profiles: { server_type: string; authentication: string | null } }>;
      await profiles.updateTable('email_server_profiles').set({ authentication: 'basic' }).where('server_type', '=', 'exchange').execute();

      await db.schema.alterTable('mailboxes').addColumn('ews_url', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('ews_url_found_at', 'text').execute();
    },
  };
}
