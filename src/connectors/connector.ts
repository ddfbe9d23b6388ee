/**
 * The one interface every server type implements (EWS now; Graph, IMAP, POP3 and SMTP later). The sync engine
 * and diagnostics see only this: adding a server type means adding a folder beside ews/, never a `switch` in
 * the engine. Errors are thrown, never swallowed into empty results: a connector that cannot tell what changed
 * says so, and the engine records the failure instead of advancing a cursor over mail it did not see.
 */

/** Where a mailbox's server was found, cached on the mailbox (EWS: the Autodiscover result). */
export interface MailboxLocation {
  url: string;
  foundAt: string;
  /**
   * Autodiscover's GroupingInformation, when the server gives it: mailboxes with the same URL and grouping share a
   * Mailbox server, so their push subscriptions share one connection. Keep it with the location when storing it.
   */
  groupingInformation?: string;
}

/** A folder the connector reads from or writes to. */
export interface FolderRef {
  /** The server's folder id. */
  id: string;
  displayName: string;
}

export type WellKnownFolder = 'inbox' | 'sent' | 'drafts' | 'deleted' | 'junk';

/** One message the server reports as new or changed since the cursor. */
export interface MessageChange {
  kind: 'created' | 'updated' | 'deleted' | 'read-flag';
  /** The server's id of the message (EWS ItemId). */
  serverId: string;
  internetMessageId?: string;
  receivedAt?: string;
  isRead?: boolean;
}

export interface ChangePage {
  changes: MessageChange[];
  /** The cursor after these changes: store it only with the outcomes of what it covers. */
  cursor: string;
  /** True when the server has nothing more after this page. */
  complete: boolean;
}

export interface FetchedMessage {
  serverId: string;
  /** The message as RFC 5322 bytes, exactly as the server holds it. */
  mime: Buffer;
  internetMessageId?: string;
  receivedAt?: string;
  /** The server's conversation id (EWS ConversationId), when it keeps one: the last correlation step. */
  conversationId?: string;
}

/** What a send tells beyond success: something the administrator should know, though the email went out. */
export interface SendReceipt {
  /** E.g. the copy could not be saved in Sent; raised as a warning alert on the email. */
  warning?: string;
}

export interface OutgoingMessage {
  /** The complete RFC 5322 message, with its Message-ID. */
  mime: Buffer;
  /** Keep a copy in the sender's Sent Items (as every CRM send does). */
  saveCopy: boolean;
}

/** Something failed for one message while the others succeeded (a fetch of several). */
export interface MessageFailure {
  serverId: string;
  error: Error;
}

/**
 * One message a folder holds, as the missing-mail audit lists it: ids and a few headers, never the body. The audit
 * compares these with the outcomes the engine recorded; what has none is missing.
 */
export interface InventoryEntry {
  /** The server's id of the message, the same id `listChanges` gives (EWS ItemId, IMAP UID, POP3 UIDL). */
  serverId: string;
  internetMessageId?: string;
  /** When the server received it (EWS DateTimeReceived, IMAP INTERNALDATE, POP3: the Date header). */
  receivedAt?: string;
  subject?: string;
  from?: string;
}

export interface InventoryPage {
  entries: InventoryEntry[];
  /** Where the next page starts (pass it back as `page`); null when this was the last. */
  next: string | null;
}

/** A mailbox opened through a connector: what the engine's cycle does with it. */
export interface MailboxSession {
  readonly address: string;
  /** Changes in a folder since the cursor (null: from the start), at most `max`. */
  listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage>;
  /** The messages, in the order asked; a message that cannot be read is a MessageFailure, not a missing entry. */
  fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>>;
  /**
   * What a folder holds that the server received since `since` (null: everything), oldest first where the server
   * can tell, at most `max` entries a page, from `page` (null: the first). Reads ids and headers only (EWS
   * FindItem, IMAP UID SEARCH SINCE + FETCH ENVELOPE, POP3 UIDL + TOP 0), and throws like any other call (the
   * engine's failure policy and throttling apply). Absent: this server type cannot be audited yet.
   */
  inventory?(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage>;
  /** Sends a message from this mailbox. */
  send(message: OutgoingMessage): Promise<SendReceipt | void>;
  /**
   * Whether a message with this Message-ID is already in Sent Items (the "already sent?" check after a crash or
   * an uncertain outcome). null: this server cannot tell (POP3 has no Sent folder; an SMTP send whose answer was
   * lost cannot be proved either way): the engine then marks the email delivery uncertain for a person to decide,
   * and never sends it again on its own.
   */
  findSent(internetMessageId: string): Promise<boolean | null>;
  /** The folder at this path under the Inbox (or the message root), created when missing. */
  ensureFolder(path: readonly string[], under?: WellKnownFolder): Promise<FolderRef & { created: boolean }>;
  /** Moves messages to a folder; returns their new server ids in order. */
  move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]>;
  /**
   * Waits until the server says something changed in these folders, or until the signal ends the wait.
   * Resolves true when a change was reported, false when the wait ended without one.
   */
  waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * Lets the session's connections go (IMAP LOGOUT, POP3 QUIT); the cycle calls it when it is done, whatever
   * happened. Absent when the session holds nothing (EWS: each request stands alone).
   */
  close?(): Promise<void>;
}

/**
 * What an error means for the engine, as the connector that threw it reads it. The engine's failure policy
 * (domain/failure-policy.ts) decides what to do from `kind`; it never looks inside a protocol's errors.
 */
export type FailureKind =
  /** The server asks to slow down (ErrorServerBusy, 503 with Retry-After): not a failure of the mailbox. */
  | 'throttled'
  /** Worth retrying as it is: a timeout, a dropped connection, a 5xx, a server that is starting. */
  | 'transient'
  /** Only an administrator can fix it: bad credentials, impersonation denied, mailbox gone, TLS refused. */
  | 'permanent'
  /** The cursor the server was given is no longer valid: start the folder again from scratch. */
  | 'invalid-cursor'
  /** The outcome of a send is unknown (the connection dropped after the request left): look before resending. */
  | 'uncertain';

export interface ClassifiedError {
  kind: FailureKind;
  /** A stable code for alerts and metrics, e.g. "ews.ErrorServerBusy", "http.401", "transport.timeout". */
  code: string;
  /** One sentence an administrator understands. */
  message: string;
  /** The server's own answer, verbatim, when there is one. */
  serverResponse: string | null;
  /** What to do about it, for permanent errors above all. */
  fix: string | null;
  /** The server's back-off hint (BackOffMilliseconds, Retry-After) in ms, when it gave one. */
  backOffMs: number | null;
}

/** Push: a connector that can be told of new mail tells the engine, which then runs a cycle at once. */
export interface ChangeFeed {
  /** The mailboxes to watch from now on (the whole set; those left out are no longer watched). */
  watch(addresses: readonly string[]): void;
  /**
   * Whether this address is actually watched now. A feed that can watch only so many mailboxes (IMAP IDLE holds
   * a connection each) says no for the others, which then keep polling at full speed. Absent: every address given.
   */
  covers?(address: string): boolean;
  /** Stops every subscription and connection. */
  close(): Promise<void>;
}

export interface ChangeFeedEvents {
  /** Something changed in a watched folder of this mailbox. */
  onChange(address: string): void;
  /**
   * A subscription failed (it is re-created by the feed itself, with back-off); for logs and metrics. A
   * mailbox's own failure is found and reported by its next cycle, not here.
   */
  onError?(address: string | null, error: ClassifiedError): void;
}

export interface Connector {
  /** The profile server type this connector speaks. */
  readonly serverType: string;
  /** Opens a mailbox, finding its server if needed (and telling `onLocationChanged` when it moved). */
  open(address: string): Promise<MailboxSession>;
  /** What an error thrown by this connector (or its sessions) means. Never throws; unknown errors are transient. */
  classify(error: unknown): ClassifiedError;
  /** Push notifications for the Inbox of many mailboxes; absent when the server type has none (then: polling). */
  changeFeed?(folders: readonly WellKnownFolder[], events: ChangeFeedEvents): ChangeFeed;
  close(): Promise<void>;
}

/** What a connector reports to its host about a mailbox's server location. */
export interface LocationEvents {
  /** A cached location for the address, if the mailbox has one. */
  cachedLocation?(address: string): MailboxLocation | null | Promise<MailboxLocation | null>;
  /** The location was found again somewhere else (or for the first time); store it and raise an information alert. */
  onLocationChanged?(address: string, location: MailboxLocation, previous: MailboxLocation | null, reason: string): void | Promise<void>;
}
