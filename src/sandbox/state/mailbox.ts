/**
 * One sandbox mailbox: its folder tree, its messages, and the change logs that SyncFolderHierarchy,
 * SyncFolderItems and subscriptions read. Every change takes the next sequence number of the mailbox.
 */
import { EventEmitter } from 'node:events';
import { encodeChangeKey, encodeId } from './ids.js';
import { type ChangeEntry, type ChangeKind, type CorruptItemCode, type Folder, type Item, type MailboxData, messageDefaults, type MessageProps, type ServerName } from './model.js';

export type EventType = 'NewMailEvent' | 'CreatedEvent' | 'DeletedEvent' | 'ModifiedEvent' | 'MovedEvent' | 'CopiedEvent';

export interface MailboxEvent {
  type: EventType;
  timestamp: string;
  itemId?: string;
  folderId?: string;
  parentFolderId: string;
  oldItemId?: string;
  oldFolderId?: string;
  oldParentFolderId?: string;
  unreadCount?: number;
}

/**
 * The folders every mailbox starts with: [distinguished id or null, display name, folder class ('' for none),
 * parent's distinguished id]. The tree is a real Exchange mailbox's (an Exchange 2013/2016 root listed in
 * ecederstrand/exchangelib issue #433: the non-IPM system folders under the root, the IPM subtree under Top of
 * Information Store; Recipient Cache under Contacts as in the Deep FindFolder example of
 * how-to-work-with-folders-by-using-ews-in-exchange.md), with the folder classes Exchange gives them (none for the
 * root's system folders). The first
 * fifteen are the sandbox's original folders, kept first so their ids stay as they were; the rest are added to
 * mailboxes saved before they existed when the state is read back.
 */
const DEFAULT_FOLDERS: Array<[string | null, string, string, string | null]> = [
  ['root', '', '', null],
  ['msgfolderroot', 'Top of Information Store', 'IPF.Note', 'root'],
  ['inbox', 'Inbox', 'IPF.Note', 'msgfolderroot'],
  ['drafts', 'Drafts', 'IPF.Note', 'msgfolderroot'],
  ['sentitems', 'Sent Items', 'IPF.Note', 'msgfolderroot'],
  ['deleteditems', 'Deleted Items', 'IPF.Note', 'msgfolderroot'],
  ['outbox', 'Outbox', 'IPF.Note', 'msgfolderroot'],
  ['junkemail', 'Junk Email', 'IPF.Note', 'msgfolderroot'],
  ['calendar', 'Calendar', 'IPF.Appointment', 'msgfolderroot'],
  ['contacts', 'Contacts', 'IPF.Contact', 'msgfolderroot'],
  ['tasks', 'Tasks', 'IPF.Task', 'msgfolderroot'],
  ['notes', 'Notes', 'IPF.StickyNote', 'msgfolderroot'],
  ['journal', 'Journal', 'IPF.Journal', 'msgfolderroot'],
  ['conversationhistory', 'Conversation History', 'IPF.Note', 'msgfolderroot'],
  ['searchfolders', 'Finder', '', 'root'],
  ['recipientcache', 'Recipient Cache', 'IPF.Contact.RecipientCache', 'contacts'],
  // The root's system folders (not shown to users).
  [null, 'AllItems', 'IPF', 'root'],
  [null, 'Common Views', '', 'root'],
  [null, 'Deferred Action', '', 'root'],
  [null, 'ExchangeSyncData', '', 'root'],
  [null, 'Freebusy Data', '', 'root'],
  ['recoverableitemsroot', 'Recoverable Items', '', 'root'],
  ['recoverableitemsdeletions', 'Deletions', '', 'recoverableitemsroot'],
  ['recoverableitemspurges', 'Purges', '', 'recoverableitemsroot'],
  ['recoverableitemsversions', 'Versions', '', 'recoverableitemsroot'],
  [null, 'Schedule', '', 'root'],
  [null, 'Sharing', 'IPF.Note', 'root'],
  [null, 'Shortcuts', '', 'root'],
  [null, 'Spooler Queue', '', 'root'],
  [null, 'System', '', 'root'],
  [null, 'Transport Queue', '', 'root'],
  [null, 'Views', '', 'root'],
  // The rest of the IPM subtree.
  [null, 'Conversation Action Settings', 'IPF.Configuration', 'msgfolderroot'],
  [null, 'Quick Step Settings', 'IPF.Configuration', 'msgfolderroot'],
  [null, 'Suggested Contacts', 'IPF.Contact', 'msgfolderroot'],
  ['syncissues', 'Sync Issues', 'IPF.Note', 'msgfolderroot'],
  // Sync Issues is IPF.Note, its subfolders have no class (exchangelib's live test_folder_grouping expects exactly that).
  ['conflicts', 'Conflicts', '', 'syncissues'],
  ['localfailures', 'Local Failures', '', 'syncissues'],
  ['serverfailures', 'Server Failures', '', 'syncissues'],
];

export class MailboxStateError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Mailbox extends EventEmitter<{ event: [MailboxEvent]; change: [] }> {
  readonly folders = new Map<string, Folder>();
  private readonly distinguished = new Map<string, string>();
  /** Every item ever stored, including those deleted or moved away (their tombstones). */
  readonly items = new Map<string, Item>();

  private constructor(readonly data: Omit<MailboxData, 'folders' | 'items'>) {
    super();
    this.setMaxListeners(0);
  }

  get guid(): string {
    return this.data.guid;
  }
  get address(): string {
    return this.data.address;
  }
  get displayName(): string {
    return this.data.displayName;
  }
  get server(): ServerName {
    return this.data.server;
  }
  set server(value: ServerName) {
    this.data.server = value;
    this.emit('change');
  }
  get seq(): number {
    return this.data.seq;
  }
  get hierarchyLog(): ChangeEntry[] {
    return this.data.hierarchyLog;
  }
  /** The out-of-office settings; until set, off, for everyone, without replies. */
  get oof(): MailboxData['oof'] {
    return this.data.oof;
  }
  set oof(value: MailboxData['oof']) {
    this.data.oof = value;
    this.emit('change');
  }

  static create(guid: string, address: string, displayName: string, server: ServerName, aliases: string[] = []): Mailbox {
    const mailbox = new Mailbox({ guid, address, displayName, server, aliases, nextCounter: 1, seq: 0, hierarchyLog: [] });
    mailbox.addDefaultFolders();
    return mailbox;
  }

  static fromData(data: MailboxData): Mailbox {
    const { folders, items, ...rest } = data;
    const mailbox = new Mailbox(rest);
    for (const folder of folders) {
      mailbox.folders.set(folder.id, folder);
      if (folder.distinguishedId) mailbox.distinguished.set(folder.distinguishedId, folder.id);
    }
    for (const item of items) {
      item.props = { ...messageDefaults(), ...item.props };
      mailbox.items.set(item.id, item);
    }
    return mailbox;
  }

  /**
   * Creates the default folders the mailbox does not have yet: all of them for a new mailbox; for one saved by an
   * older sandbox, those added to the default tree since.
   */
  addDefaultFolders(): void {
    for (const [distinguishedId, name, folderClass, parent] of DEFAULT_FOLDERS) {
      const parentId = parent === null ? null : this.distinguished.get(parent);
      if (parentId === undefined) continue;
      if (distinguishedId ? this.distinguished.has(distinguishedId) : this.childFolders(parentId!).some((f) => f.displayName === name)) continue;
      this.addFolder(parentId, name, folderClass, distinguishedId, false);
    }
  }

  toData(): MailboxData {
    return { ...this.data, folders: [...this.folders.values()], items: [...this.items.values()] };
  }

  owns(address: string): boolean {
    const key = address.toLowerCase();
    return this.data.address.toLowerCase() === key || this.data.aliases.some((a) => a.toLowerCase() === key);
  }

  private nextId(kind: 'folder' | 'item'): string {
    const id = encodeId(kind, this.data.guid, this.data.nextCounter);
    this.data.nextCounter += 1;
    return id;
  }

  private nextSeq(): number {
    this.data.seq += 1;
    return this.data.seq;
  }

  private fire(event: Omit<MailboxEvent, 'timestamp'>): void {
    this.emit('event', { ...event, timestamp: new Date().toISOString() });
  }

  changeKey(target: Folder | Item): string {
    return encodeChangeKey('itemIds' in target ? 'folder' : 'item', this.data.guid, target.changeSeq ?? target.createdSeq);
  }

  // ---- folders ----

  folder(id: string): Folder | undefined {
    const folder = this.folders.get(id);
    return folder && folder.deletedSeq === null ? folder : undefined;
  }

  distinguishedFolder(name: string): Folder | undefined {
    const id = this.distinguished.get(name);
    return id ? this.folder(id) : undefined;
  }

  childFolders(parentId: string): Folder[] {
    return [...this.folders.values()].filter((f) => f.parentId === parentId && f.deletedSeq === null);
  }

  /** The folder and every live folder below it, depth first. */
  subtree(rootId: string): Folder[] {
    const result: Folder[] = [];
    const walk = (id: string) => {
      for (const child of this.childFolders(id)) {
        result.push(child);
        walk(child.id);
      }
    };
    walk(rootId);
    return result;
  }

  isInside(folderId: string, ancestorId: string): boolean {
    let current = this.folders.get(folderId);
    while (current?.parentId) {
      if (current.parentId === ancestorId) return true;
      current = this.folders.get(current.parentId);
    }
    return false;
  }

  addFolder(parentId: string | null, displayName: string, folderClass: string, distinguishedId: string | null = null, checkName = true, options: { isHidden?: boolean } = {}): Folder {
    if (parentId !== null && checkName) {
      const clash = this.childFolders(parentId).find((f) => f.displayName.toLowerCase() === displayName.toLowerCase());
      if (clash) throw new MailboxStateError('ErrorFolderExists', 'A folder with the specified name already exists.');
    }
    const seq = this.nextSeq();
    const folder: Folder = {
      id: this.nextId('folder'),
      parentId,
      displayName,
      folderClass,
      distinguishedId,
      ...(options.isHidden ? { isHidden: true } : {}),
      version: 1,
      createdSeq: seq,
      changeSeq: seq,
      deletedSeq: null,
      itemIds: [],
      log: [],
    };
    this.folders.set(folder.id, folder);
    if (distinguishedId) this.distinguished.set(distinguishedId, folder.id);
    this.data.hierarchyLog.push({ seq, id: folder.id, kind: 'create' });
    if (parentId) this.fire({ type: 'CreatedEvent', folderId: folder.id, parentFolderId: parentId });
    this.emit('change');
    return folder;
  }

  /** One of the default folders without a distinguished id (Common Views, Spooler Queue, Quick Step Settings…). */
  isSystemFolder(folder: Folder): boolean {
    return DEFAULT_FOLDERS.some(([id, name, , parent]) => id === null && parent !== null && this.distinguished.get(parent) === folder.parentId && name === folder.displayName);
  }

  deleteFolder(folder: Folder): void {
    if (folder.distinguishedId) throw new MailboxStateError('ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be deleted.');
    // Exchange refuses to delete the system folders too (exchangelib's live test_non_deletable_folders accepts this code).
    if (this.isSystemFolder(folder)) throw new MailboxStateError('ErrorCannotDeleteObject', 'The object cannot be deleted.');
    for (const descendant of [folder, ...this.subtree(folder.id)]) {
      for (const itemId of descendant.itemIds) {
        const item = this.items.get(itemId);
        if (item && item.deletedSeq === null) this.removeItem(item, false);
      }
      const seq = this.nextSeq();
      descendant.deletedSeq = seq;
      this.data.hierarchyLog.push({ seq, id: descendant.id, kind: 'delete' });
    }
    this.fire({ type: 'DeletedEvent', folderId: folder.id, parentFolderId: folder.parentId ?? '' });
    this.emit('change');
  }

  moveFolder(folder: Folder, target: Folder): void {
    if (folder.distinguishedId) throw new MailboxStateError('ErrorMoveDistinguishedFolder', 'Distinguished folders cannot be moved.');
    if (target.id === folder.id || this.isInside(target.id, folder.id)) {
      throw new MailboxStateError('ErrorMoveCopyFailed', 'The move or copy operation failed.');
    }
    if (this.childFolders(target.id).some((f) => f.displayName.toLowerCase() === folder.displayName.toLowerCase())) {
      throw new MailboxStateError('ErrorMoveCopyFailed', 'The move or copy operation failed.');
    }
    const oldParent = folder.parentId ?? '';
    folder.parentId = target.id;
    this.touchFolder(folder);
    this.fire({ type: 'MovedEvent', folderId: folder.id, parentFolderId: target.id, oldFolderId: folder.id, oldParentFolderId: oldParent });
  }

  /** Renames a folder or changes its class; a name another folder under the same parent has is ErrorFolderExists. */
  updateFolder(folder: Folder, change: { displayName?: string; folderClass?: string }): void {
    const name = change.displayName;
    if (name !== undefined && folder.parentId && name.toLowerCase() !== folder.displayName.toLowerCase()) {
      if (this.childFolders(folder.parentId).some((f) => f.displayName.toLowerCase() === name.toLowerCase())) {
        throw new MailboxStateError('ErrorFolderExists', 'A folder with the specified name already exists.');
      }
    }
    if (name !== undefined) folder.displayName = name;
    if (change.folderClass !== undefined) folder.folderClass = change.folderClass;
    this.touchFolder(folder);
    this.fire({ type: 'ModifiedEvent', folderId: folder.id, parentFolderId: folder.parentId ?? '' });
  }

  private touchFolder(folder: Folder): void {
    folder.version += 1;
    folder.changeSeq = this.nextSeq();
    this.data.hierarchyLog.push({ seq: folder.changeSeq, id: folder.id, kind: 'update' });
    this.emit('change');
  }

  liveItems(folder: Folder): Item[] {
    const result: Item[] = [];
    for (const id of folder.itemIds) {
      const item = this.items.get(id);
      if (item && item.deletedSeq === null && item.folderId === folder.id) result.push(item);
    }
    return result;
  }

  counts(folder: Folder): { total: number; unread: number; children: number } {
    const items = this.liveItems(folder);
    return { total: items.length, unread: items.filter((i) => !i.props.isRead).length, children: this.childFolders(folder.id).length };
  }

  // ---- items ----

  item(id: string): Item | undefined {
    const item = this.items.get(id);
    return item && item.deletedSeq === null ? item : undefined;
  }

  private logItem(folder: Folder, id: string, kind: ChangeKind): number {
    const seq = this.nextSeq();
    folder.log.push({ seq, id, kind });
    return seq;
  }

  /** Stores a message in a folder. `delivered` marks mail that arrived (NewMailEvent), not a saved draft. */
  addItem(folder: Folder, mimeRef: string, props: MessageProps, delivered: boolean, corrupt?: CorruptItemCode): Item {
    const id = this.nextId('item');
    const seq = this.logItem(folder, id, 'create');
    const item: Item = { id, folderId: folder.id, version: 1, mimeRef, props, createdSeq: seq, changeSeq: seq, deletedSeq: null, ...(corrupt ? { corrupt } : {}) };
    this.items.set(id, item);
    folder.itemIds.push(id);
    this.fire({ type: 'CreatedEvent', itemId: id, parentFolderId: folder.id });
    if (delivered) this.fire({ type: 'NewMailEvent', itemId: id, parentFolderId: folder.id });
    this.emit('change');
    return item;
  }

  private removeItem(item: Item, fireEvent: boolean): void {
    const folder = this.folders.get(item.folderId)!;
    item.deletedSeq = this.logItem(folder, item.id, 'delete');
    if (fireEvent) this.fire({ type: 'DeletedEvent', itemId: item.id, parentFolderId: folder.id });
    this.emit('change');
  }

  deleteItem(item: Item): void {
    this.removeItem(item, true);
  }

  /**
   * Deletes a message the way DeleteItem's DeleteType asks: MoveToDeletedItems moves it to Deleted Items;
   * SoftDelete, or MoveToDeletedItems of what is already in Deleted Items, moves it to Recoverable Items\Deletions
   * (the dumpster, where a client finds it again); HardDelete, or any deletion from the dumpster, removes it.
   */
  disposeItem(item: Item, type: 'HardDelete' | 'SoftDelete' | 'MoveToDeletedItems'): Item | null {
    const deleted = this.distinguishedFolder('deleteditems')!;
    const dumpster = this.distinguishedFolder('recoverableitemsroot');
    const deletions = this.distinguishedFolder('recoverableitemsdeletions');
    const inDumpster = dumpster !== undefined && (item.folderId === dumpster.id || this.isInside(item.folderId, dumpster.id));
    const inDeletedItems = item.folderId === deleted.id || this.isInside(item.folderId, deleted.id);
    if (type === 'MoveToDeletedItems' && !inDeletedItems && !inDumpster) return this.moveItem(item, deleted);
    if (type !== 'HardDelete' && deletions && !inDumpster) return this.moveItem(item, deletions);
    this.deleteItem(item);
    return null;
  }

  /** Moves a message: a new item with a new id appears in the target folder and the old one is gone. */
  moveItem(item: Item, target: Folder): Item {
    const source = this.folders.get(item.folderId)!;
    item.deletedSeq = this.logItem(source, item.id, 'delete');
    const id = this.nextId('item');
    const seq = this.logItem(target, id, 'create');
    const moved: Item = { ...item, id, originalId: item.originalId ?? item.id, folderId: target.id, version: item.version + 1, createdSeq: seq, changeSeq: seq, deletedSeq: null };
    this.items.set(id, moved);
    target.itemIds.push(id);
    this.fire({ type: 'MovedEvent', itemId: id, parentFolderId: target.id, oldItemId: item.id, oldParentFolderId: source.id });
    this.emit('change');
    return moved;
  }

  copyItem(item: Item, target: Folder): Item {
    const id = this.nextId('item');
    const seq = this.logItem(target, id, 'create');
    const copy: Item = { ...item, originalId: undefined, props: structuredClone(item.props), id, folderId: target.id, version: 1, createdSeq: seq, changeSeq: seq, deletedSeq: null };
    this.items.set(id, copy);
    target.itemIds.push(id);
    this.fire({ type: 'CopiedEvent', itemId: id, parentFolderId: target.id, oldItemId: item.id, oldParentFolderId: item.folderId });
    this.emit('change');
    return copy;
  }

  /**
   * Changes properties of a message (and, when given, the MIME it is sent as). A change of the read flag alone is
   * logged as such (ReadFlagChange). Every change is a new version: a new change key.
   */
  updateItem(item: Item, change: Partial<MessageProps>, mimeRef?: string): void {
    const onlyRead = Object.keys(change).every((k) => k === 'isRead');
    Object.assign(item.props, change);
    if (mimeRef) item.mimeRef = mimeRef;
    item.props.lastModifiedTime = new Date().toISOString();
    item.version += 1;
    item.changeSeq = this.logItem(this.folders.get(item.folderId)!, item.id, onlyRead ? 'read' : 'update');
    this.fire({ type: 'ModifiedEvent', itemId: item.id, parentFolderId: item.folderId });
    this.emit('change');
  }

  /** The ItemId/ChangeKey pair of an item, the way responses carry it. */
  itemRef(item: Item): { id: string; changeKey: string } {
    return { id: item.id, changeKey: this.changeKey(item) };
  }
}
