/** SyncFolderItems: the changes to one folder's items since a sync state, at most MaxChangesReturned of them. */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerOne, folderIdIn, resolveFolder } from '../context.js';
import { assertShapeFor, readItemShape, writeItem } from '../shapes.js';
import { TEXT } from '../soap.js';
import { computeSync } from '../sync.js';
import { encodeSyncState, startPosition } from '../sync-state.js';
import type { Operation } from './types.js';

export const syncFolderItems: Operation = {
  name: 'SyncFolderItems',
  sync: true,
  handle(context, request) {
    const { mailbox, state } = context;
    return answerOne(
      'SyncFolderItems',
      () => {
        const shape = readItemShape(child(request, NS.messages, 'ItemShape'));
        assertShapeFor(shape, 'sync', context.requestVersion);
        const folder = resolveFolder(context, folderIdIn(child(request, NS.messages, 'SyncFolderId')), 'ErrorSyncFolderNotFound');
        const stateText = child(request, NS.messages, 'SyncState')?.text.trim() ?? '';
        const key = { kind: 'items' as const, mailbox: mailbox.guid, folder: folder.id };
        const from = startPosition(state.secret, stateText, key, mailbox.seq, TEXT.invalidSyncStateItems);
        const max = Number(child(request, NS.messages, 'MaxChangesReturned')?.text ?? 100);
        const ignored = new Set(children(child(request, NS.messages, 'Ignore'), NS.types, 'ItemId').map((i) => attr(i, 'Id') ?? ''));
        const page = computeSync(folder.log, from, mailbox.seq, max, (id) => mailbox.items.get(id), (id) => !ignored.has(id));
        const changes = page.changes.map(({ id, change }) => {
          const item = mailbox.items.get(id)!;
          const ref = el('t:ItemId', { Id: item.id, ChangeKey: mailbox.changeKey(item) });
          switch (change) {
            case 'create':
              return el('t:Create', null, writeItem(item, mailbox, shape, 'sync', state));
            case 'update':
              return el('t:Update', null, writeItem(item, mailbox, shape, 'sync', state));
            case 'read':
              return el('t:ReadFlagChange', null, ref, el('t:IsRead', null, item.props.isRead));
            case 'delete':
              return el('t:Delete', null, ref);
          }
        });
        return [
          el('m:SyncState', null, encodeSyncState(state.secret, { ...key, seq: page.position })),
          el('m:IncludesLastItemInRange', null, page.last),
          el('m:Changes', null, changes),
        ];
      },
      // An error answer still says the range is complete, so a client does not loop on it.
      () => [el('m:SyncState'), el('m:IncludesLastItemInRange', null, 'true')],
    );
  },
};
