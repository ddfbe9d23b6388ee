/**
 * One mailbox over POP3, with its sends over SMTP. POP3 has one folder and no push: the cursor is the set of
 * UIDLs already processed (pruned to those still on the server), so new mail is every UIDL not in it. Mail is left
 * on the server unless the profile says to delete it after tracking: then what the stored cursor says was
 * processed (its outcome committed with that cursor) is deleted at the start of the next listing, and the
 * deletions are committed by QUIT before anything else is read.
 *
 * There is no Sent folder to look in: findSent answers "cannot tell", so a send whose outcome is uncertain is set
 * aside as delivery uncertain for a person, never sent twice.
 */
import type { ChangePage, FetchedMessage, FolderRef, InventoryPage, MailboxSession, MessageFailure, OutgoingMessage, SendReceipt, WellKnownFolder } from '../connector.js';
import type { MailLogin } from '../mail/credentials.js';
import type { MailEndpoint } from '../mail/endpoint.js';
import { submissionOf } from '../mail/outgoing.js';
import type { SmtpSender } from '../smtp/types.js';
import { Pop3Client, Pop3Error } from './client.js';
import { pop3Inventory } from './inventory.js';

/** POP3 has only the Inbox: asked for another folder, or to move, the session says so. */
export class Pop3NoFoldersError extends Error {
  constructor(what: string) {
    super(`POP3 has no folders: ${what}`);
    this.name = 'Pop3NoFoldersError';
  }
}

export interface Pop3SessionOptions {
  address: string;
  endpoint: MailEndpoint;
  login: MailLogin;
  trustedCaPem: string | null;
  timeoutMs: number;
  deleteAfterTracking: boolean;
  smtp: () => Promise<SmtpSender>;
}

interface Cursor {
  seen: string[];
}

function parseCursor(text: string | null): Set<string> {
  if (text === null) return new Set();
  try {
    const value = JSON.parse(text) as Partial<Cursor>;
    if (Array.isArray(value.seen) && value.seen.every((s) => typeof s === 'string')) return new Set(value.seen);
  } catch {
    // fall through
  }
  // Not a cursor of this session kind: start again; the engine's Message-ID rule tracks nothing twice.
  return new Set();
}

export class Pop3Session implements MailboxSession {
  readonly address: string;
  private client: Pop3Client | null = null;
  /** UIDL → message number, for this connection (numbers hold only within one session). */
  private numbers = new Map<string, number>();
  private sender: SmtpSender | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: Pop3SessionOptions) {
    this.address = options.address;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async connection(): Promise<Pop3Client> {
    if (this.client && !this.client.closed) return this.client;
    const { endpoint, trustedCaPem, timeoutMs, login } = this.options;
    const client = await Pop3Client.connect({ endpoint, trustedCaPem, timeoutMs });
    try {
      await client.login(login.username, login.password);
    } catch (error) {
      client.close();
      throw error;
    }
    this.client = client;
    this.numbers = new Map((await client.uidl()).map((e) => [e.uid, e.number]));
    return client;
  }

  listChanges(folder: WellKnownFolder | FolderRef, cursorText: string | null, max: number): Promise<ChangePage> {
    return this.exclusive(async () => {
      if (folder !== 'inbox') throw new Pop3NoFoldersError(`only the Inbox can be read, not ${typeof folder === 'string' ? folder : folder.displayName}`);
      const seen = parseCursor(cursorText);
      let client = await this.connection();
      if (this.options.deleteAfterTracking) {
        const processed = [...this.numbers].filter(([uid]) => seen.has(uid));
        if (processed.length > 0) {
          for (const [, number] of processed) await client.dele(number);
          // Deletions take effect at QUIT only: commit them, then read the mailbox again.
          await client.quit();
          this.client = null;
          client = await this.connection();
        }
      }
      void client;
      const onServer = [...this.numbers.keys()];
      const fresh = onServer.filter((uid) => !seen.has(uid));
      const page = fresh.slice(0, Math.max(1, max));
      const kept = onServer.filter((uid) => seen.has(uid) || page.includes(uid));
      return {
        changes: page.map((uid) => ({ kind: 'created' as const, serverId: uid })),
        cursor: JSON.stringify({ seen: kept } satisfies Cursor),
        complete: page.length === fresh.length,
      };
    });
  }

  /** The missing-mail audit's listing (inventory.ts): the UIDL listing a page at a time, TOP n 0 for the headers. */
  inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    return this.exclusive(async () => {
      if (folder !== 'inbox') throw new Pop3NoFoldersError(`only the Inbox can be listed, not ${typeof folder === 'string' ? folder : folder.displayName}`);
      const client = await this.connection();
      return pop3Inventory(client, [...this.numbers], since, page, max);
    });
  }

  fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    return this.exclusive(async () => {
      const results: Array<FetchedMessage | MessageFailure> = [];
      for (const serverId of serverIds) {
        const client = await this.connection();
        const number = this.numbers.get(serverId);
        if (number === undefined) {
          results.push({ serverId, error: new Error(`message ${serverId} is no longer on the POP3 server`) });
          continue;
        }
        try {
          results.push({ serverId, mime: await client.retr(number) });
        } catch (error) {
          // A connection lost mid-message fails the cycle (the next one reads it again); a refusal is this message's.
          if (error instanceof Pop3Error && (error.kind === 'network' || error.kind === 'tls' || client.closed)) throw error;
          results.push({ serverId, error: error as Error });
        }
      }
      return results;
    });
  }

  async send(message: OutgoingMessage): Promise<SendReceipt | void> {
    const { envelope, wire } = await submissionOf(message.mime, this.address);
    this.sender ??= await this.options.smtp();
    // POP3 has no Sent folder: the CRM's activity is the only copy Liaison keeps (docs/MAIL.md).
    await this.sender.submit(envelope, wire);
  }

  async findSent(): Promise<boolean | null> {
    return null;
  }

  async ensureFolder(path: readonly string[]): Promise<FolderRef & { created: boolean }> {
    throw new Pop3NoFoldersError(`the folder ${path.join('/')} cannot be created; turn off Move Failed Emails to Undeliverable Folder`);
  }

  async move(): Promise<string[]> {
    throw new Pop3NoFoldersError('messages cannot be moved; turn off Move Failed Emails to Undeliverable Folder');
  }

  async waitForChange(_folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    // POP3 cannot be told of new mail: the wait only ends.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
    return false;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await Promise.allSettled([client && !client.closed ? client.quit().catch(() => client.close()) : Promise.resolve(), this.sender?.close()]);
    this.sender = null;
  }
}
