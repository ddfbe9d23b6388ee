/** Email server profiles, with their secrets encrypted at rest. */
import type { Kysely } from 'kysely';
import type { ConnectionTestResult } from '../diagnostics/types.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import {
  applyProfileChange,
  type AuthenticationMethod,
  type CredentialSource,
  normalizeProfile,
  type ProfileInput,
  type ProfileSettings,
  type SecretField,
  type SecretPresence,
  secretsKept,
  type ServerType,
} from '../domain/profile.js';
import { type Db, flag, isSet, isUniqueViolation, now, type Page, type PageRequest, pageLimit, toPage, updateLock } from './common.js';
import { explainConflict } from './errors.js';
import { readOrganization } from './organization.js';
import type { EmailServerProfilesTable, Schema } from './schema.js';
import type { SecretBox } from './secrets.js';
import { assertUserExists } from './users.js';

export interface Profile extends ProfileSettings {
  id: string;
  passwordSet: boolean;
  outgoingPasswordSet: boolean;
  clientSecretSet: boolean;
  /** Exchange Online: a client certificate (with its private key) is stored; the PEM itself is never returned. */
  clientCertificateSet: boolean;
  /** The last Test Connection: when it started, how long it took, each step; null until one ran. */
  lastTestResult: ConnectionTestResult | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * The secrets of a profile in plaintext: only for the connectors, never for an API response. clientCertificate
 * (Exchange Online: the PEM with the certificate and its private key) may be left out by callers that build one
 * for other server types; the store always fills it in.
 */
export type ProfileSecrets = Record<Exclude<SecretField, 'clientCertificate'>, string | null> & { clientCertificate?: string | null };

const SECRET_COLUMNS = {
  password: 'password_enc',
  outgoingPassword: 'outgoing_password_enc',
  clientSecret: 'client_secret_enc',
  clientCertificate: 'client_certificate_enc',
} as const satisfies Record<SecretField, keyof EmailServerProfilesTable>;

const SECRET_FIELDS = Object.keys(SECRET_COLUMNS) as SecretField[];

export interface ProfileFilter extends PageRequest {
  serverType?: ServerType | undefined;
  ownerId?: string | undefined;
}

function toProfile(row: EmailServerProfilesTable): Profile {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    serverType: row.server_type as ServerType,
    autodiscover: isSet(row.autodiscover),
    authentication: row.authentication as AuthenticationMethod | null,
    incomingServer: row.incoming_server,
    incomingPort: row.incoming_port,
    outgoingServer: row.outgoing_server,
    outgoingPort: row.outgoing_port,
    useSameSettingsForOutgoing: isSet(row.use_same_settings_for_outgoing),
    username: row.username,
    outgoingUsername: row.outgoing_username,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    authority: row.authority,
    trustedCaPem: row.trusted_ca_pem,
    processEmailFrom: row.process_email_from,
    minPollingIntervalMinutes: row.min_polling_interval_minutes,
    maxConcurrentConnections: row.max_concurrent_connections,
    requestTimeoutSeconds: row.request_timeout_seconds,
    moveFailedToUndeliverable: isSet(row.move_failed_to_undeliverable),
    notifyOwnerOnFailure: isSet(row.notify_owner_on_failure),
    ownerId: row.owner_id,
    credentialSource: row.credential_source as CredentialSource | null,
    masterUserSeparator: row.master_user_separator,
    deleteAfterTracking: isSet(row.delete_after_tracking),
    serverSavesSentCopy: isSet(row.server_saves_sent_copy),
    passwordSet: row.password_enc !== null,
    outgoingPasswordSet: row.outgoing_password_enc !== null,
    clientSecretSet: row.client_secret_enc !== null,
    clientCertificateSet: row.client_certificate_enc !== null,
    lastTestResult: readTestResult(row.last_test_result),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function settingsColumns(s: ProfileSettings) {
  return {
    name: s.name,
    description: s.description,
    server_type: s.serverType,
    autodiscover: flag(s.autodiscover),
    authentication: s.authentication,
    incoming_server: s.incomingServer,
    incoming_port: s.incomingPort,
    outgoing_server: s.outgoingServer,
    outgoing_port: s.outgoingPort,
    use_same_settings_for_outgoing: flag(s.useSameSettingsForOutgoing),
    username: s.username,
    outgoing_username: s.outgoingUsername,
    tenant_id: s.tenantId,
    client_id: s.clientId,
    authority: s.authority,
    trusted_ca_pem: s.trustedCaPem,
    process_email_from: s.processEmailFrom,
    min_polling_interval_minutes: s.minPollingIntervalMinutes,
    max_concurrent_connections: s.maxConcurrentConnections,
    request_timeout_seconds: s.requestTimeoutSeconds,
    move_failed_to_undeliverable: flag(s.moveFailedToUndeliverable),
    notify_owner_on_failure: flag(s.notifyOwnerOnFailure),
    owner_id: s.ownerId,
    credential_source: s.credentialSource,
    master_user_separator: s.masterUserSeparator,
    delete_after_tracking: flag(s.deleteAfterTracking),
    server_saves_sent_copy: flag(s.serverSavesSentCopy),
  };
}

export class ProfileRepository {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly secrets: SecretBox,
  ) {}

  /** Which secrets the profile will hold: a string sets one, null clears it, undefined keeps what is stored. */
  private presenceAfter(input: ProfileInput, stored: SecretPresence): SecretPresence {
    const result = { ...stored };
    for (const field of SECRET_FIELDS) {
      const value = input[field];
      if (value === null || value === '') result[field] = false;
      else if (typeof value === 'string') result[field] = true;
    }
    return result;
  }

  /** The encrypted-secret columns to write: new ones encrypted, ones the saved profile cannot use cleared. */
  private secretColumns(id: string, input: ProfileInput, settings: ProfileSettings) {
    const kept = new Set(secretsKept(settings));
    const columns: Partial<Record<(typeof SECRET_COLUMNS)[SecretField], string | null>> = {};
    for (const field of SECRET_FIELDS) {
      const column = SECRET_COLUMNS[field];
      const value = input[field];
      if (!kept.has(field) || value === null || value === '') columns[column] = null;
      else if (typeof value === 'string') columns[column] = this.secrets.encrypt(value, secretContext(id, field));
    }
    return columns;
  }

  async create(input: ProfileInput): Promise<Profile> {
    const settings = normalizeProfile(input, this.presenceAfter(input, { password: false, outgoingPassword: false, clientSecret: false, clientCertificate: false }));
    const id = newId();
    const at = now();
    await this.db
      .transaction()
      .execute(async (trx) => {
        await assertUserExists(trx, 'ownerId', settings.ownerId);
        await trx
          .insertInto('email_server_profiles')
          .values({
            id,
            ...settingsColumns(settings),
            password_enc: null,
            outgoing_password_enc: null,
            client_secret_enc: null,
            client_certificate_enc: null,
            last_test_result: null,
            ...this.secretColumns(id, input, settings),
            created_at: at,
            updated_at: at,
          })
          .execute();
      })
      .catch(rethrowNameConflict(settings.name));
    return this.get(id);
  }

  async get(id: string, db: Db = this.db, lock = false): Promise<Profile> {
    const query = db.selectFrom('email_server_profiles').selectAll().where('id', '=', id);
    const row = await (lock ? updateLock(db, query) : query).executeTakeFirst();
    if (!row) throw new NotFoundError('email server profile', id);
    return toProfile(row);
  }

  async list(filter: ProfileFilter): Promise<Page<Profile>> {
    const limit = pageLimit(filter);
    let query = this.db.selectFrom('email_server_profiles').selectAll().orderBy('id').limit(limit + 1);
    if (filter.after) query = query.where('id', '>', filter.after);
    if (filter.serverType) query = query.where('server_type', '=', filter.serverType);
    if (filter.ownerId) query = query.where('owner_id', '=', filter.ownerId);
    return toPage(await query.execute(), limit, toProfile);
  }

  async update(id: string, change: ProfileInput): Promise<Profile> {
    await this.db
      .transaction()
      .execute(async (trx) => {
        const current = await this.get(id, trx, true);
        const merged = applyProfileChange(current, change);
        const stored = {
          password: current.passwordSet,
          outgoingPassword: current.outgoingPasswordSet,
          clientSecret: current.clientSecretSet,
          clientCertificate: current.clientCertificateSet,
        };
        const settings = normalizeProfile(merged, this.presenceAfter(change, stored));
        if (change.ownerId !== undefined) await assertUserExists(trx, 'ownerId', settings.ownerId);
        await trx
          .updateTable('email_server_profiles')
          .set({ ...settingsColumns(settings), ...this.secretColumns(id, change, settings), updated_at: now() })
          .where('id', '=', id)
          .execute();
      })
      .catch(rethrowNameConflict(change.name ?? ''));
    return this.get(id);
  }

  /** Deletes a profile no mailbox uses and that is not the organization's default; refuses while either holds. */
  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Locked first: a mailbox associated from now on waits, then finds the profile gone.
      const profile = await this.get(id, trx, true);
      const users = await trx
        .selectFrom('mailboxes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('profile_id', '=', id)
        .executeTakeFirstOrThrow();
      const count = Number(users.n);
      if (count > 0) {
        throw new ConflictError(
          `profile "${profile.name}" is used by ${count} mailbox${count === 1 ? '' : 'es'}; associate ${count === 1 ? 'it' : 'them'} with another profile (POST /api/v1/mailboxes/associate) before deleting it`,
        );
      }
      if ((await readOrganization(trx)).defaultProfileId === id) {
        throw new ConflictError(
          `profile "${profile.name}" is the organization's default email server profile; choose another default (PATCH /api/v1/organization {"defaultProfileId": …}, or null for none) before deleting it`,
        );
      }
      await trx.deleteFrom('email_server_profiles').where('id', '=', id).execute();
    }).catch(explainConflict(`email server profile ${id} was not deleted`));
  }

  /**
   * Keeps the result of a Test Connection as the profile's last one. Not a change of the profile's settings,
   * so `updatedAt` stays. Throws NotFoundError when the profile was deleted while the test ran.
   */
  async recordTestResult(id: string, result: ConnectionTestResult): Promise<void> {
    const done = await this.db
      .updateTable('email_server_profiles')
      .set({ last_test_result: JSON.stringify(result) })
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) throw new NotFoundError('email server profile', id);
  }

  /** The decrypted secrets, for a connector about to connect. */
  async secretsOf(id: string): Promise<ProfileSecrets> {
    const row = await this.db
      .selectFrom('email_server_profiles')
      .select(['password_enc', 'outgoing_password_enc', 'client_secret_enc', 'client_certificate_enc'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotFoundError('email server profile', id);
    const result = {} as Record<SecretField, string | null>;
    for (const field of SECRET_FIELDS) {
      const value = row[SECRET_COLUMNS[field]];
      result[field] = value === null ? null : this.secrets.decrypt(value, secretContext(id, field));
    }
    return result;
  }
}

function readTestResult(text: string | null): ConnectionTestResult | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as ConnectionTestResult;
  } catch {
    // Written by recordTestResult only; a value that no longer reads is as good as no result.
    return null;
  }
}

function secretContext(profileId: string, field: SecretField): string {
  return `email_server_profiles:${profileId}:${field}`;
}

function rethrowNameConflict(name: string) {
  return (error: unknown): never => {
    if (isUniqueViolation(error)) throw new ConflictError(`a profile named "${name}" already exists; choose another name`);
    throw error;
  };
}
