/**
 * The store: the one place that touches the database. Opening it finds the secret key, brings the schema up to
 * date (unless told not to) and checks that the key is the one the stored secrets were encrypted with.
 */
import { ActivityRepository } from './activities.js';
import { AlertRepository } from './alerts.js';
import type { AuditRepository } from './audits.js';
import { type Database, type DatabaseOptions, openDatabase, ping } from './database.js';
import { MailboxRepository } from './mailboxes.js';
import { OrganizationRepository } from './organization.js';
import { migrateToLatest, type MigrationReport } from './migrate.js';
import { ProfileRepository } from './profiles.js';
import { CrmRecordRepository } from './records.js';
import { type KeySource, loadSecretKey, SecretBox, SecretKeyError } from './secrets.js';
import { SessionRepository } from './sessions.js';
import { SyncRepository } from './sync.js';
import { QueueRepository, TokenRepository, UserRepository } from './users.js';

export interface StoreOptions extends DatabaseOptions {
  /** Run pending migrations on open (the default). `liaison migrate` runs them on its own. */
  migrate?: boolean;
  env?: NodeJS.ProcessEnv;
}

const KEY_CHECK = 'secret_key_check';
const KEY_CHECK_TEXT = 'liaison secret key check';

export class Store {
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  /** The web console's passwords, sessions and setup links. */
  readonly sessions: SessionRepository;
  readonly queues: QueueRepository;
  readonly records: CrmRecordRepository;
  readonly profiles: ProfileRepository;
  readonly mailboxes: MailboxRepository;
  readonly activities: ActivityRepository;
  readonly alerts: AlertRepository;
  readonly organization: OrganizationRepository;
  /** What the sync engine keeps (sync/ports.ts SyncStore), with the incoming pipeline's look-ups. */
  readonly sync: SyncRepository;
  /** The missing-mail audits (the same repository the engine uses as `sync.audit`). */
  readonly audits: AuditRepository;

  private constructor(
    readonly database: Database,
    readonly secretBox: SecretBox,
    readonly keySource: KeySource,
    readonly migrations: MigrationReport,
  ) {
    const db = database.db;
    this.users = new UserRepository(db);
    this.tokens = new TokenRepository(db);
    this.sessions = new SessionRepository(db, this.users);
    this.queues = new QueueRepository(db);
    this.records = new CrmRecordRepository(db);
    this.profiles = new ProfileRepository(db, secretBox);
    this.mailboxes = new MailboxRepository(db, secretBox);
    this.activities = new ActivityRepository(db, this.mailboxes);
    this.alerts = new AlertRepository(db);
    this.organization = new OrganizationRepository(db);
    this.sync = new SyncRepository(db, this.profiles, this.mailboxes);
    this.audits = this.sync.audit;
  }

  static async open(options: StoreOptions): Promise<Store> {
    // With mustExist the database is checked first, so a mistyped data folder gets no key file either; and a
    // key file is created only for a store that holds nothing encrypted yet (one `liaison migrate` just made).
    const keySource = options.mustExist ? null : loadSecretKey(options.dataDir, options.env);
    const database = await openDatabase(options);
    try {
      const key = keySource ?? loadSecretKey(options.dataDir, options.env, !(await hasKeyCheck(database)));
      const migrations = options.migrate === false ? { applied: [] } : await migrateToLatest(database);
      const secretBox = new SecretBox(key.key);
      await checkKey(database, secretBox, key);
      return new Store(database, secretBox, key, migrations);
    } catch (error) {
      await database.close();
      throw error;
    }
  }

  /** Answers whether the database is reachable, and how long it took to answer. */
  async health(): Promise<{ reachable: boolean; latencyMs: number; error?: string }> {
    const started = performance.now();
    try {
      await ping(this.database);
      return { reachable: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (error) {
      return { reachable: false, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
    }
  }

  close(): Promise<void> {
    return this.database.close();
  }
}

async function hasKeyCheck(database: Database): Promise<boolean> {
  const row = await database.db.selectFrom('settings').select('key').where('key', '=', KEY_CHECK).executeTakeFirst();
  return row !== undefined;
}

/**
 * The first start records a value encrypted with the key; every later start decrypts it. A wrong key (another
 * machine's key file, a mistyped LIAISON_SECRET_KEY) is caught here, before any secret is needed.
 */
async function checkKey(database: Database, box: SecretBox, source: KeySource): Promise<void> {
  const db = database.db;
  await db
    .insertInto('settings')
    .values({ key: KEY_CHECK, value: box.encrypt(KEY_CHECK_TEXT, `settings:${KEY_CHECK}`) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY_CHECK).executeTakeFirstOrThrow();
  let ok = false;
  try {
    ok = box.decrypt(row.value, `settings:${KEY_CHECK}`) === KEY_CHECK_TEXT;
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new SecretKeyError(
      `The secret key from ${source.description} is not the key this database's secrets were encrypted with (${database.location}). ` +
        'Start Liaison with the original key: set LIAISON_SECRET_KEY to it, or restore the data folder\'s secret.key',
    );
  }
}
