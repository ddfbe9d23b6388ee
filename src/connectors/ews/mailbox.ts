/**
 * One Exchange mailbox reached by impersonation: the MailboxSession the engine uses, and the checks Test
 * Connection and Test & Enable run (sign in, open the Inbox, make sure the Undeliverable folder exists).
 */
import type { ChangePage, FetchedMessage, FolderRef, InventoryEntry, InventoryPage, MailboxSession, MessageChange, MessageFailure, OutgoingMessage, WellKnownFolder } from '../connector.js';
import { addressText, pageSize } from '../mail/inventory.js';
import type { EwsClient } from './client.js';
import { CreateFolder } from './operations/create-folder.js';
import { CreateItem } from './operations/create-item.js';
import { type FolderRef as EwsFolderRef, type DistinguishedFolderName, type EwsFolder, type PerItem } from './operations/common.js';
import { FindFolder } from './operations/find-folder.js';
import { FindItem } from './operations/find-item.js';
import { GET_ITEM_BATCH, GetItem } from './operations/get-item.js';
import { GetFolder } from './operations/get-folder.js';
import { MoveItem } from './operations/move-item.js';
import { SyncFolderItems } from './operations/sync-folder-items.js';
import type { SubscriptionEventType } from './operations/notifications.js';
import { Subscribe } from './operations/subscribe.js';
import { Unsubscribe } from './operations/unsubscribe.js';
import { EwsSendUncertainError, leavesSendUncertain } from './send-errors.js';
import { EwsProtocolError, EwsResponseError } from './soap/errors.js';

const DISTINGUISHED: Record<WellKnownFolder, DistinguishedFolderName> = {
  inbox: 'inbox',
  sent: 'sentitems',
  drafts: 'drafts',
  deleted: 'deleteditems',
  junk: 'junkemail',
};

/** What counts as a change worth a sync: mail arriving, leaving or changing in the folders watched. */
const WATCHED_EVENTS: readonly SubscriptionEventType[] = ['NewMailEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent', 'CopiedEvent'];

/**
 * The most FindItem entries one inventory page asks for. Exchange's EWSFindCountLimit keeps at most 1000 items of
 * a FindItem in memory (250 with a restriction, from Exchange 2013 on); a larger page has no effect beyond that,
 * and a partial page is followed from the offset the server reports.
 */
export const INVENTORY_PAGE_LIMIT = 1000;

/** The name of the folder failed email is moved to, under the Inbox (as the commercial component names it). */
export const UNDELIVERABLE_FOLDER = 'Undeliverable';

function value<T>(result: PerItem<T> | undefined, operation: string): T {
  if (result === undefined) throw new EwsProtocolError(operation, 'the answer has no response message');
  if (result instanceof EwsResponseError) throw result;
  return result;
}

function folderRef(folder: WellKnownFolder | FolderRef, mailbox: string): EwsFolderRef {
  return typeof folder === 'string' ? { distinguishedId: DISTINGUISHED[folder], mailbox } : { id: folder.id };
}

/** A GetFolder of the message root without impersonation: proves the endpoint and the sign-in. */
export async function probeEws(client: EwsClient, signal?: AbortSignal): Promise<string> {
  const [root] = await client.call(GetFolder, { folderIds: [{ distinguishedId: 'msgfolderroot' }], baseShape: 'IdOnly' }, signal ? { signal } : {});
  value(root, 'GetFolder');
  return 'the account has a mailbox of its own';
}

export async function openInbox(client: EwsClient, mailbox: string, signal?: AbortSignal): Promise<EwsFolder> {
  const [inbox] = await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox', mailbox }], baseShape: 'Default' }, { mailbox, ...(signal ? { signal } : {}) });
  return value(inbox, 'GetFolder');
}

async function findChildFolder(client: EwsClient, mailbox: string, parent: EwsFolderRef, name: string): Promise<EwsFolder | null> {
  const found = await client.call(
    FindFolder,
    {
      parentFolderIds: [parent],
      traversal: 'Shallow',
      baseShape: 'Default',
      restriction: { op: 'IsEqualTo', path: 'folder:DisplayName', value: name },
    },
    { mailbox },
  );
  // Exchange compares display names without regard to case, as the restriction does; pick the exact one first.
  return found.folders.find((f) => f.displayName === name) ?? found.folders.find((f) => f.displayName?.toLowerCase() === name.toLowerCase()) ?? null;
}

/** The folder at `path` under `parent`, created level by level where missing. */
export async function ensureFolderPath(client: EwsClient, mailbox: string, path: readonly string[], parent: EwsFolderRef): Promise<FolderRef & { created: boolean }> {
  let current: EwsFolderRef = parent;
  let created = false;
  let ref: FolderRef | null = null;
  for (const name of path) {
    let folder = await findChildFolder(client, mailbox, current, name);
    if (!folder) {
      const [made] = await client.call(CreateFolder, { parentFolderId: current, folders: [{ displayName: name, folderClass: 'IPF.Note' }] }, { mailbox });
      try {
        const id = value(made, 'CreateFolder');
        folder = { kind: 'Folder', folderId: id, displayName: name, extendedProperties: [] };
        created = true;
      } catch (error) {
        // Another worker (or a person) created it between the search and the creation: use theirs.
        if (!(error instanceof EwsResponseError && error.responseCode === 'ErrorFolderExists')) throw error;
        folder = await findChildFolder(client, mailbox, current, name);
        if (!folder) throw error;
      }
    }
    if (!folder.folderId) throw new EwsProtocolError('FindFolder', `the folder ${name} came back without an id`);
    ref = { id: folder.folderId.id, displayName: folder.displayName ?? name };
    current = { id: folder.folderId.id };
  }
  if (!ref) throw new Error('ensureFolderPath needs a path of at least one folder');
  return { ...ref, created };
}

export function ensureUndeliverableFolder(client: EwsClient, mailbox: string): Promise<FolderRef & { created: boolean }> {
  return ensureFolderPath(client, mailbox, [UNDELIVERABLE_FOLDER], { distinguishedId: 'inbox', mailbox });
}

export class EwsMailboxSession implements MailboxSession {
  constructor(
    readonly address: string,
    private readonly client: EwsClient,
  ) {}

  async listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage> {
    const result = await this.client.call(
      SyncFolderItems,
      {
        folderId: folderRef(folder, this.address),
        syncState: cursor,
        maxChangesReturned: Math.max(1, Math.min(512, max)),
        properties: ['message:InternetMessageId', 'item:DateTimeReceived', 'message:IsRead'],
      },
      { mailbox: this.address },
    );
    const changes: MessageChange[] = result.changes.map((change): MessageChange => {
      if (change.type === 'delete') return { kind: 'deleted', serverId: change.itemId.id };
      if (change.type === 'readFlagChange') return { kind: 'read-flag', serverId: change.itemId.id, isRead: change.isRead };
      const out: MessageChange = { kind: change.type === 'create' ? 'created' : 'updated', serverId: change.itemId.id };
      if (change.item.internetMessageId) out.internetMessageId = change.item.internetMessageId;
      if (change.item.dateTimeReceived) out.receivedAt = change.item.dateTimeReceived;
      if (change.item.isRead !== undefined) out.isRead = change.item.isRead;
      return out;
    });
    return { changes, cursor: result.syncState, complete: result.includesLastItemInRange };
  }

  /**
   * FindItem (Shallow, IdOnly plus the few properties the audit shows) sorted by DateTimeReceived ascending, so
   * that mail arriving while the audit pages lands after what it has already read; offset paging, the next
   * offset as the server reports it (Exchange may return fewer than asked under EWSFindCountLimit).
   */
  async inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    const offset = page === null ? 0 : /^\d{1,15}$/.test(page) ? Number(page) : -1;
    if (offset < 0) throw new Error(`inventory page "${page}" is not an offset this connector gave`);
    const found = await this.client.call(
      FindItem,
      {
        parentFolderIds: [folderRef(folder, this.address)],
        traversal: 'Shallow',
        shape: { baseShape: 'IdOnly', properties: ['message:InternetMessageId', 'item:DateTimeReceived', 'item:Subject', 'message:From'] },
        ...(since ? { restriction: { op: 'IsGreaterThanOrEqualTo' as const, path: 'item:DateTimeReceived', value: since } } : {}),
        sortOrder: [{ path: 'item:DateTimeReceived', order: 'Ascending' }],
        paging: { offset, maxEntriesReturned: Math.min(INVENTORY_PAGE_LIMIT, pageSize(max)), basePoint: 'Beginning' },
      },
      { mailbox: this.address },
    );
    const entries = found.items.map((item, index): InventoryEntry => {
      if (!item.itemId) throw new EwsProtocolError('FindItem', `item ${offset + index + 1} of the folder came back without an ItemId`);
      const entry: InventoryEntry = { serverId: item.itemId.id };
      if (item.internetMessageId) entry.internetMessageId = item.internetMessageId;
      if (item.dateTimeReceived) entry.receivedAt = item.dateTimeReceived;
      if (item.subject !== undefined) entry.subject = item.subject;
      const from = addressText(item.from?.name, item.from?.emailAddress);
      if (from) entry.from = from;
      return entry;
    });
    if (found.includesLastItemInRange) return { entries, next: null };
    const next = found.indexedPagingOffset ?? offset + entries.length;
    // A server that says more is coming but does not move forward would have the audit ask the same page forever.
    if (next <= offset) throw new EwsProtocolError('FindItem', `the server reports more items but its next offset (${next}) does not move past ${offset}`);
    return { entries, next: String(next) };
  }

  async fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    const out: Array<FetchedMessage | MessageFailure> = [];
    for (let i = 0; i < serverIds.length; i += GET_ITEM_BATCH) {
      const batch = serverIds.slice(i, i + GET_ITEM_BATCH);
      const items = await this.client.call(
        GetItem,
        {
          itemIds: batch.map((id) => ({ id })),
          baseShape: 'IdOnly',
          includeMimeContent: true,
          properties: ['message:InternetMessageId', 'item:DateTimeReceived', 'item:ConversationId'],
        },
        { mailbox: this.address },
      );
      batch.forEach((serverId, index) => {
        const item = items[index];
        if (item === undefined) out.push({ serverId, error: new EwsProtocolError('GetItem', `no response message for item ${index + 1} of ${batch.length}`) });
        else if (item instanceof EwsResponseError) out.push({ serverId, error: item });
        else if (!item.mimeContent) out.push({ serverId, error: new EwsProtocolError('GetItem', 'the item came back without its MimeContent') });
        else {
          const message: FetchedMessage = { serverId, mime: item.mimeContent };
          if (item.internetMessageId) message.internetMessageId = item.internetMessageId;
          if (item.dateTimeReceived) message.receivedAt = item.dateTimeReceived;
          if (item.conversationId) message.conversationId = item.conversationId.id;
          out.push(message);
        }
      });
    }
    return out;
  }

  /**
   * CreateItem with the message's MIME. A connection that breaks or times out once the request has left leaves
   * the outcome unknown: that is thrown as EwsSendUncertainError, so that the engine looks in Sent Items before
   * it sends again instead of sending twice.
   */
  async send(message: OutgoingMessage): Promise<void> {
    try {
      await this.create(message);
    } catch (error) {
      if (leavesSendUncertain(error)) throw new EwsSendUncertainError(this.address, error);
      throw error;
    }
  }

  private async create(message: OutgoingMessage): Promise<void> {
    await this.client.call(
      CreateItem,
      {
        disposition: message.saveCopy ? 'SendAndSaveCopy' : 'SendOnly',
        ...(message.saveCopy ? { savedItemFolderId: { distinguishedId: 'sentitems', mailbox: this.address } } : {}),
        message: { mime: message.mime },
      },
      { mailbox: this.address },
    );
  }

  async findSent(internetMessageId: string): Promise<boolean> {
    const found = await this.client.call(
      FindItem,
      {
        parentFolderIds: [{ distinguishedId: 'sentitems', mailbox: this.address }],
        traversal: 'Shallow',
        shape: { baseShape: 'IdOnly' },
        restriction: { op: 'IsEqualTo', path: 'message:InternetMessageId', value: internetMessageId },
        paging: { maxEntriesReturned: 1, offset: 0 },
      },
      { mailbox: this.address },
    );
    return found.items.length > 0;
  }

  ensureFolder(path: readonly string[], under: WellKnownFolder = 'inbox'): Promise<FolderRef & { created: boolean }> {
    return ensureFolderPath(this.client, this.address, path, folderRef(under, this.address));
  }

  async move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]> {
    const moved = await this.client.call(MoveItem, { toFolderId: folderRef(to, this.address), itemIds: serverIds.map((id) => ({ id })), returnNewItemIds: true }, { mailbox: this.address });
    return moved.map((result, index) => {
      const id = value(result, 'MoveItem');
      // Exchange 2007 does not return new ids; the item then keeps no id Liaison can use, which is said, not guessed.
      if (!id) throw new EwsProtocolError('MoveItem', `the server did not return the new id of item ${index + 1}`);
      return id.id;
    });
  }

  /**
   * A streaming subscription to the folders, read until the server reports a change, the time is up, or the
   * signal ends it. Exchange closes a streaming connection after at most 30 minutes.
   */
  async waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    const { subscriptionId } = await this.client.call(
      Subscribe,
      { kind: 'streaming', folders: folders.map((f) => folderRef(f, this.address)), eventTypes: WATCHED_EVENTS },
      { mailbox: this.address },
    );
    try {
      const stream = await this.client.stream(
        { subscriptionIds: [subscriptionId], connectionTimeoutMinutes: Math.max(1, Math.min(30, Math.ceil(timeoutMs / 60_000))) },
        { mailbox: this.address },
      );
      const stop = () => stream.cancel();
      const timer = setTimeout(stop, timeoutMs);
      signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const item of stream) {
          if (item.kind === 'error') throw item.error;
          if (item.kind === 'notification' && item.notification.events.some((e) => e.type !== 'StatusEvent')) return true;
          if (item.kind === 'connection' && item.status === 'Closed') return false;
        }
        return false;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        stream.cancel();
      }
    } finally {
      // A streaming subscription no connection reads expires on the server by itself; a failed Unsubscribe
      // leaves nothing behind that matters, so it does not replace the outcome of the wait.
      await this.client.call(Unsubscribe, { subscriptionId }, { mailbox: this.address }).catch(() => undefined);
    }
  }
}
