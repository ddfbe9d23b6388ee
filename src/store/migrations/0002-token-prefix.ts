import type { Kysely } from 'kysely';

/**
 * API tokens keep the first characters of the token (`lsn_` and four random ones), so that a list of a user's
 * tokens can show which is which without holding anything that signs in. Tokens issued before have none.
 */
export function tokenPrefix() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('api_tokens').addColumn('token_prefix', 'text').execute();
    },
  };
}
