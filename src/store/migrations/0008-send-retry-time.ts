import type { Kysely } from 'kysely';

/**
 * When an email may next be tried: after an attempt that may have reached the server (it timed out while the
 * server could still be carrying it out), the email stays in sending and is neither looked for nor sent again
 * before this time; after a temporary refusal it waits in pending send until then, so a server that is down for a
 * few seconds does not use up the email's attempts. Null: at once.
 */
export function sendRetryTime() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('email_activities').addColumn('send_not_before', 'text').execute();
    },
  };
}
