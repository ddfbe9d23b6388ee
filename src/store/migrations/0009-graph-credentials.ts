import type { Kysely } from 'kysely';

/**
 * What Exchange Online profiles need for Microsoft Graph beyond a client secret: the authority they sign in at
 * (null: https://login.microsoftonline.com/<tenantId>) and a client certificate (its PEM, private key included,
 * encrypted like the passwords). Existing profiles keep their client secret and the default authority.
 */
export function graphCredentials() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('email_server_profiles').addColumn('authority', 'text').execute();
      await db.schema.alterTable('email_server_profiles').addColumn('client_certificate_enc', 'text').execute();
    },
  };
}
