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

/** A mailbox opened through a connector: what the engine's cycle does with it. */
export interface MailboxSession {
  readonly address: string;
  /** Changes in a folder since the cursor (null: from the start), at most `max`. */
  listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage>;
  /** The messages, in the order asked; a message that cannot be read is a MessageFailure, not a missing entry. */
  fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>>;
  /** Sends a message from this mailbox. */
  send(message: OutgoingMessage): Promise<void>;
  /** Whether a message with this Message-ID is already in Sent Items (the "already sent?" check after a crash). */
  findSent(internetMessageId: string): Promise<boolean>;
  /** The folder at this path under the Inbox (or the message root), created when missing. */
  ensureFolder(path: readonly string[], under?: WellKnownFolder): Promise<FolderRef & { created: boolean }>;
  /** Moves messages to a folder; returns their new server ids in order. */
  move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]>;
  /**
   * Waits until the server says something changed in these folders, or until the signal ends the wait.
   * Resolves true when a change was reported, false when the wait ended without one.
   */
  waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
}

export interface Connector {
  /** The profile server type this connector speaks. */
  readonly serverType: string;
  /** Opens a mailbox, finding its server if needed (and telling `onLocationChanged` when it moved). */
  open(address: string): Promise<MailboxSession>;
  close(): Promise<void>;
}

/** What a connector reports to its host about a mailbox's server location. */
export interface LocationEvents {
  /** A cached location for the address, if the mailbox has one. */
  cachedLocation?(address: string): MailboxLocation | null | Promise<MailboxLocation | null>;
  /** The location was found again somewhere else (or for the first time); store it and raise an information alert. */
  onLocationChanged?(address: string, location: MailboxLocation, previous: MailboxLocation | null, reason: string): void | Promise<void>;
}
