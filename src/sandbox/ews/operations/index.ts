/** The EWS operations the sandbox answers, by the local name of their request element. */
import { createAttachmentOperation, deleteAttachment, getAttachment } from './attachments.js';
import { createFolder } from './create-folder.js';
import { attachedMime, createItem, sendItem } from './create-item.js';
import { findFolder } from './find-folder.js';
import { findItem } from './find-item.js';
import { deleteFolder, moveFolder } from './folders.js';
import { getFolder } from './get-folder.js';
import { getItem } from './get-item.js';
import { copyItem, deleteItem, moveItem, updateItem } from './items.js';
import { convertId, resolveNames } from './names.js';
import { getEvents, subscribe, unsubscribe } from './notifications.js';
import { syncFolderHierarchy } from './sync-folder-hierarchy.js';
import { syncFolderItems } from './sync-folder-items.js';
import type { Operation } from './types.js';
import { updateFolder } from './update-folder.js';
import { emptyFolder } from './empty-folder.js';
import { markAsJunk } from './mark-as-junk.js';
import { archiveItem } from './archive-item.js';
import { getServerTimeZones } from './get-server-time-zones.js';
import { expandDl } from './expand-dl.js';
import { getUserOofSettings, setUserOofSettings } from './user-oof-settings.js';
import { getMailTips } from './get-mail-tips.js';
import { getUserConfiguration } from './get-user-configuration.js';
import { getRoomLists, getRooms } from './rooms.js';
import { getDelegate } from './get-delegate.js';
import { findPeople } from './find-people.js';
import { getUserAvailability } from './get-user-availability.js';
import { getSearchableMailboxes } from './get-searchable-mailboxes.js';

export const OPERATIONS: ReadonlyMap<string, Operation> = new Map(
  [
    getFolder,
    findFolder,
    createFolder,
    deleteFolder,
    moveFolder,
    syncFolderHierarchy,
    syncFolderItems,
    findItem,
    getItem,
    createItem,
    sendItem,
    moveItem,
    copyItem,
    deleteItem,
    updateItem,
    getAttachment,
    createAttachmentOperation(attachedMime),
    deleteAttachment,
    resolveNames,
    convertId,
    subscribe,
    getEvents,
    unsubscribe,
    updateFolder,
    emptyFolder,
    markAsJunk,
    archiveItem,
    getServerTimeZones,
    expandDl,
    getUserOofSettings,
    setUserOofSettings,
    getMailTips,
    getUserConfiguration,
    getRoomLists,
    getRooms,
    getDelegate,
    findPeople,
    getUserAvailability,
    getSearchableMailboxes,
  ].map((op) => [op.name, op]),
);

/** Operations that hold the connection open; they count against HangingConnectionLimit, not EWSMaxConcurrency. */
export const STREAMING_OPERATION = 'GetStreamingEvents';
