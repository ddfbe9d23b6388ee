/**
 * The organization's settings: one JSON value in the settings table, read with the defaults filled in, so a
 * setting added later needs no migration and an older store reads as the defaults.
 */
import type { Kysely } from 'kysely';
import { ATTACHMENT_POLICY } from '../domain/activity.js';
import { ValidationError } from '../domain/errors.js';
import type { OrganizationSettings } from '../sync/ports.js';
import { type Db, updateLock } from './common.js';
import type { Schema } from './schema.js';

export const ORGANIZATION_KEY = 'organization';

/**
 * The settings as the API reads and changes them: the sync engine's, and the console's default email server
 * profile (what "Apply Default Email Server Profile" associates mailboxes with; null: none is set).
 */
export interface Organization extends OrganizationSettings {
  defaultProfileId: string | null;
}

export const DEFAULT_ORGANIZATION: Readonly<Organization> = Object.freeze({
  useTrackingToken: true,
  trackingTokenPrefix: 'CRM:',
  trackingTokenDigits: 7,
  maxAttachmentBytes: ATTACHMENT_POLICY.maxBytes,
  blockedAttachmentExtensions: [...ATTACHMENT_POLICY.blockedExtensions].sort(),
  systemNotificationMailboxId: null,
  defaultProfileId: null,
});

export const ORGANIZATION_LIMITS = {
  prefixMaxLength: 20,
  digits: { min: 1, max: 15 },
  maxAttachmentBytes: { min: 0, max: ATTACHMENT_POLICY.maxTotalBytes },
  blockedExtensions: 1000,
} as const;

export type OrganizationChange = Partial<Organization>;

/** Reads the settings (defaults for what was never set). */
export async function readOrganization(db: Db): Promise<Organization> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', ORGANIZATION_KEY).executeTakeFirst();
  if (!row) return { ...DEFAULT_ORGANIZATION, blockedAttachmentExtensions: [...DEFAULT_ORGANIZATION.blockedAttachmentExtensions] };
  let stored: Partial<Organization>;
  try {
    stored = JSON.parse(row.value) as Partial<Organization>;
  } catch (error) {
    // Only this module writes the value; one that no longer reads must not quietly become the defaults.
    throw new Error(`the organization settings in the settings table are not JSON (${(error as Error).message}); set them again with PATCH /api/v1/organization`);
  }
  return { ...DEFAULT_ORGANIZATION, ...stored, blockedAttachmentExtensions: [...(stored.blockedAttachmentExtensions ?? DEFAULT_ORGANIZATION.blockedAttachmentExtensions)] };
}

function checkChange(change: OrganizationChange): OrganizationChange {
  const problems: Array<{ field: string; message: string }> = [];
  const result: OrganizationChange = { ...change };
  if (change.trackingTokenPrefix !== undefined) {
    const prefix = change.trackingTokenPrefix.trim();
    if (prefix === '' || prefix.length > ORGANIZATION_LIMITS.prefixMaxLength || /\s|\d$/.test(prefix)) {
      problems.push({
        field: 'trackingTokenPrefix',
        message: `must be 1 to ${ORGANIZATION_LIMITS.prefixMaxLength} characters without spaces, not ending in a digit (the token's number follows it)`,
      });
    } else result.trackingTokenPrefix = prefix;
  }
  const { digits } = ORGANIZATION_LIMITS;
  if (change.trackingTokenDigits !== undefined && (!Number.isInteger(change.trackingTokenDigits) || change.trackingTokenDigits < digits.min || change.trackingTokenDigits > digits.max)) {
    problems.push({ field: 'trackingTokenDigits', message: `must be a whole number from ${digits.min} to ${digits.max}` });
  }
  const bytes = ORGANIZATION_LIMITS.maxAttachmentBytes;
  if (change.maxAttachmentBytes !== undefined && (!Number.isInteger(change.maxAttachmentBytes) || change.maxAttachmentBytes < bytes.min || change.maxAttachmentBytes > bytes.max)) {
    problems.push({ field: 'maxAttachmentBytes', message: `must be a whole number of bytes from ${bytes.min} to ${bytes.max}` });
  }
  if (change.blockedAttachmentExtensions !== undefined) {
    const cleaned = change.blockedAttachmentExtensions.map((e) => e.trim().replace(/^\./, '').toLowerCase());
    const bad = cleaned.filter((e) => e === '' || !/^[a-z0-9_+-]{1,32}$/.test(e));
    if (bad.length > 0 || cleaned.length > ORGANIZATION_LIMITS.blockedExtensions) {
      problems.push({
        field: 'blockedAttachmentExtensions',
        message: `must be at most ${ORGANIZATION_LIMITS.blockedExtensions} file extensions of letters, digits, _, + or - (without the dot)${bad.length > 0 ? `; not: ${bad.map((b) => JSON.stringify(b)).join(', ')}` : ''}`,
      });
    } else result.blockedAttachmentExtensions = [...new Set(cleaned)].sort();
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return result;
}

export class OrganizationRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  get(): Promise<Organization> {
    return readOrganization(this.db);
  }

  /**
   * Changes the given settings, keeps the rest. The notification mailbox and the default profile must exist;
   * the profile is locked until the change commits, so a profile being deleted at the same time is either
   * still there (and its deletion then refused: it is the default) or found gone here.
   */
  async update(change: OrganizationChange): Promise<Organization> {
    const checked = checkChange(change);
    return this.db.transaction().execute(async (trx) => {
      if (checked.systemNotificationMailboxId) {
        const mailbox = await trx.selectFrom('mailboxes').select('id').where('id', '=', checked.systemNotificationMailboxId).executeTakeFirst();
        if (!mailbox) throw new ValidationError([{ field: 'systemNotificationMailboxId', message: `no mailbox has id ${checked.systemNotificationMailboxId}` }]);
      }
      if (checked.defaultProfileId) {
        const profile = await updateLock(trx, trx.selectFrom('email_server_profiles').select('id').where('id', '=', checked.defaultProfileId)).executeTakeFirst();
        if (!profile) throw new ValidationError([{ field: 'defaultProfileId', message: `no email server profile has id ${checked.defaultProfileId}` }]);
      }
      // Locked (PostgreSQL) so that two changes at once do not each keep only their own half.
      await trx.insertInto('settings').values({ key: ORGANIZATION_KEY, value: '{}' }).onConflict((oc) => oc.column('key').doNothing()).execute();
      await updateLock(trx, trx.selectFrom('settings').select('value').where('key', '=', ORGANIZATION_KEY)).executeTakeFirst();
      const next = { ...(await readOrganization(trx)), ...checked };
      await trx.updateTable('settings').set({ value: JSON.stringify(next) }).where('key', '=', ORGANIZATION_KEY).execute();
      return next;
    });
  }
}
