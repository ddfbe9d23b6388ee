/**
 * The tables as Kysely sees them. Column types are the lowest common denominator of SQLite and PostgreSQL so
 * that one set of migrations serves both: ids are UUID text, times are ISO-8601 UTC text (they sort as they
 * compare), flags are integers 0/1.
 */
import type { Generated } from 'kysely';

export type Flag = number;

export interface UsersTable {
  id: string;
  name: string;
  is_admin: Flag;
  /** Which incoming email of the user's mailbox is tracked (sync/ports.ts IncomingFilterOption). */
  incoming_filter: string;
  /** The console password as `scrypt$N$r$p$<salt>$<hash>` (store/passwords.ts); null: the user cannot sign in. */
  password_hash: string | null;
  /** Failed sign-ins in a row (reset by a success and by a lock). */
  failed_logins: Generated<number>;
  /** Until when sign-in is refused after too many failures; null: not locked. */
  locked_until: string | null;
  created_at: string;
  updated_at: string;
}

/** A console session; the id is the SHA-256 (hex) of the secret the browser's cookie holds. */
export interface ConsoleSessionsTable {
  id: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  /** The idle expiry, moved forward as the session is used, never beyond the absolute limit. */
  expires_at: string;
}

/** A one-time link that sets the first administrator's password; the id is the SHA-256 (hex) of the token. */
export interface ConsoleSetupTokensTable {
  id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  /** SHA-256 of the token, hex; the token itself is never stored. */
  token_hash: string;
  label: string | null;
  /** The token's first characters (`lsn_` and four more), to tell tokens apart; null for older tokens. */
  token_prefix: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface QueuesTable {
  id: string;
  name: string;
  owner_id: string;
  /** Which incoming email of the queue's mailbox is tracked (sync/ports.ts IncomingFilterOption). */
  incoming_filter: string;
  created_at: string;
  updated_at: string;
}

/** Contacts, accounts and leads: the email-enabled CRM records that are not users or queues. */
export interface CrmRecordsTable {
  id: string;
  type: 'contact' | 'account' | 'lead';
  name: string;
  created_at: string;
  updated_at: string;
}

/**
 * Every email address of every email-enabled record, the one place addresses are stored and the index that
 * incoming email resolves its parties through.
 */
export interface EmailAddressesTable {
  id: string;
  record_type: 'user' | 'queue' | 'contact' | 'account' | 'lead';
  record_id: string;
  position: number;
  address: string;
  /** Lower-cased address: what lookups compare. */
  address_key: string;
}

export interface EmailServerProfilesTable {
  id: string;
  name: string;
  description: string | null;
  server_type: string;
  autodiscover: Flag;
  /** 'basic' or 'ntlm' for Exchange profiles; null for the other server types. */
  authentication: string | null;
  incoming_server: string | null;
  incoming_port: number | null;
  outgoing_server: string | null;
  outgoing_port: number | null;
  use_same_settings_for_outgoing: Flag;
  username: string | null;
  /** Secrets are AES-256-GCM ciphertexts (see store/secrets.ts), never plaintext. */
  password_enc: string | null;
  outgoing_username: string | null;
  outgoing_password_enc: string | null;
  tenant_id: string | null;
  client_id: string | null;
  client_secret_enc: string | null;
  trusted_ca_pem: string | null;
  process_email_from: string | null;
  min_polling_interval_minutes: number;
  max_concurrent_connections: number;
  request_timeout_seconds: number;
  move_failed_to_undeliverable: Flag;
  notify_owner_on_failure: Flag;
  owner_id: string;
  /** The last Test Connection result (diagnostics/types.ts ConnectionTestResult) as JSON; null until one ran. */
  last_test_result: string | null;
  /** When the owner was last emailed about failing mailboxes: at most once an hour. */
  owner_notified_at: string | null;
  /** IMAP/POP3: 'profile' (a master user) or 'mailbox' (each mailbox's own login); null for the others. */
  credential_source: string | null;
  master_user_separator: string | null;
  delete_after_tracking: Flag;
  server_saves_sent_copy: Flag;
  /** Exchange Online: the sign-in authority URL; null: https://login.microsoftonline.com/<tenant_id>. */
  authority: string | null;
  /** Exchange Online: the client certificate's PEM (certificate and private key), encrypted like the passwords. */
  client_certificate_enc: string | null;
  created_at: string;
  updated_at: string;
}

export interface MailboxesTable {
  id: string;
  user_id: string | null;
  queue_id: string | null;
  profile_id: string | null;
  approval_status: string;
  incoming_method: string;
  outgoing_method: string;
  incoming_status: string;
  outgoing_status: string;
  enabled: Flag;
  process_email_from: string | null;
  last_sync_at: string | null;
  last_test_at: string | null;
  /** The EWS URL Autodiscover found for the mailbox, and when; null until found (or with Autodiscover off). */
  ews_url: string | null;
  ews_url_found_at: string | null;
  /** The worker holding the mailbox, and until when; null when free. */
  lease_owner: string | null;
  /** The fencing token: grows by one at every grant, and every leased write checks it. */
  lease_token: number;
  lease_expires_at: string | null;
  /** When the next cycle is due; null: now. */
  next_due_at: string | null;
  consecutive_failures: number;
  last_success_at: string | null;
  last_error: string | null;
  last_cycle_at: string | null;
  last_failure_at: string | null;
  /** The next scheduled missing-mail audit (0007). */
  audit_due_at: string | null;
  /** An on-demand audit asked for and not yet run. */
  audit_requested_at: string | null;
  /** IMAP/POP3 profiles with credentialSource mailbox: the mailbox's own login; the password encrypted. */
  login_username: string | null;
  login_password_enc: string | null;
  created_at: string;
  updated_at: string;
}

export interface EmailActivitiesTable {
  id: string;
  mailbox_id: string | null;
  owner_id: string | null;
  direction: string;
  status: string;
  subject: string;
  body_text: string | null;
  body_html: string | null;
  message_id: string | null;
  in_reply_to: string | null;
  tracking_token: string | null;
  regarding_type: string | null;
  regarding_id: string | null;
  /** EWS ConversationId or Thread-Index's conversation part. */
  conversation_id: string | null;
  /** The References Message-IDs, space-separated as in the header; null for none. */
  message_references: string | null;
  /** JSON array of lines (why attachments were left out); null for none. */
  notes: string | null;
  /** Why the last attempt to send failed. */
  failure_reason: string | null;
  delivery_attempts: number;
  /** Not tried again before this time (an uncertain attempt settling, a temporary refusal's back-off); null: at once. */
  send_not_before: string | null;
  sent_at: string | null;
  received_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ActivityPartiesTable {
  id: string;
  activity_id: string;
  role: string;
  position: number;
  address: string;
  display_name: string | null;
  record_type: string | null;
  record_id: string | null;
}

export interface AttachmentsTable {
  id: string;
  activity_id: string;
  position: number;
  file_name: string;
  content_type: string;
  size: number;
  content: Buffer;
}

export interface AlertsTable {
  id: string;
  level: string;
  scope: string;
  profile_id: string | null;
  mailbox_id: string | null;
  activity_id: string | null;
  code: string;
  message: string;
  server_response: string | null;
  fix: string | null;
  created_at: string;
}

/** Every mailbox an email reached (the first one is also the activity's mailbox_id). */
export interface ActivityMailboxesTable {
  activity_id: string;
  mailbox_id: string;
  created_at: string;
}

export interface SyncStatesTable {
  mailbox_id: string;
  folder: string;
  cursor: string;
  updated_at: string;
}

export type OutcomeKind = 'tracked' | 'filtered' | 'failed' | 'undeliverable';

export interface MessageOutcomesTable {
  id: string;
  mailbox_id: string;
  folder: string;
  server_id: string;
  internet_message_id: string | null;
  outcome: OutcomeKind;
  /** The filter rule that left a filtered message out. */
  rule: string | null;
  activity_id: string | null;
  error_code: string | null;
  error_message: string | null;
  server_response: string | null;
  /** Failed attempts so far. */
  attempts: number;
  created_at: string;
  updated_at: string;
}

/** One missing-mail audit of a mailbox (0007). */
export interface AuditRunsTable {
  id: string;
  mailbox_id: string;
  trigger: 'scheduled' | 'on-demand';
  status: 'completed' | 'failed';
  started_at: string;
  finished_at: string;
  on_server: number;
  tracked: number;
  filtered: number;
  /** JSON: filtered messages per rule. */
  filtered_by_rule: string;
  failed: number;
  out_of_scope: number;
  /** Every missing message; `missing_messages` names the first MISSING_LIST_CAP of them (JSON). */
  missing: number;
  missing_messages: string;
  gap_began_at: string | null;
  error: string | null;
  /** The on-demand request (mailboxes.audit_requested_at) this audit served. */
  served_request: string | null;
}

/** Messages an audit found missing, until an incoming pass gives them an outcome (0007). */
export interface AuditQueueTable {
  mailbox_id: string;
  server_id: string;
  internet_message_id: string | null;
  received_at: string | null;
  audit_id: string;
  queued_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Schema {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  queues: QueuesTable;
  crm_records: CrmRecordsTable;
  email_addresses: EmailAddressesTable;
  email_server_profiles: EmailServerProfilesTable;
  mailboxes: MailboxesTable;
  email_activities: EmailActivitiesTable;
  activity_parties: ActivityPartiesTable;
  attachments: AttachmentsTable;
  alerts: AlertsTable;
  settings: SettingsTable;
  activity_mailboxes: ActivityMailboxesTable;
  sync_states: SyncStatesTable;
  message_outcomes: MessageOutcomesTable;
  console_sessions: ConsoleSessionsTable;
  console_setup_tokens: ConsoleSetupTokensTable;
  audit_runs: AuditRunsTable;
  audit_queue: AuditQueueTable;
}
