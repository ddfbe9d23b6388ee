/** SyncFolderHierarchy: the folders created, changed or deleted under a folder (default: the message root). */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerOne, folderIdIn, resolveFolder } from '../context.js';
import { readFolderShape, writeFolder } from '../shapes.js';
import { TEXT } from '../soap.js';
import { computeSync } from '../sync.js';
import { encodeSyncState, startPosition } from '../sync-state.js';
import type { Operation } from './types.js';

export const syncFolderHierarchy: Operation = {
  name: 'SyncFolderHierarchy',
  sync: true,
  handle(context, request) {
    const { mailbox, state } = context;
    return answerOne(
      'SyncFolderHierarchy',
      () => {
        const shape = readFolderShape(child(request, NS.messages, 'FolderShape'));
        const idElement = folderIdIn(child(request, NS.messages, 'SyncFolderId'));
        const root = idElement ? resolveFolder(context, idElement, 'ErrorSyncFolderNotFound') : mailbox.distinguishedFolder('msgfolderroot')!;
        const stateText = child(request, NS.messages, 'SyncState')?.text.trim() ?? '';
        const key = { kind: 'folders' as const, mailbox: mailbox.guid, folder: root.id };
        const from = startPosition(state.secret, stateText, key, mailbox.seq, TEXT.invalidSyncStateFolders);
        const page = computeSync(
          mailbox.hierarchyLog,
          from,
          mailbox.seq,
          Number.MAX_SAFE_INTEGER,
          (id) => mailbox.folders.get(id),
          (id) => mailbox.isInside(id, root.id),
        );
        const changes = page.changes.map(({ id, change }) => {
          const folder = mailbox.folders.get(id)!;
          if (change === 'delete') return el('t:Delete', null, el('t:FolderId', { Id: folder.id, ChangeKey: mailbox.changeKey(folder) }));
          return el(change === 'create' ? 't:Create' : 't:Update', null, writeFolder(folder, mailbox, shape));
        });
        return [
          el('m:SyncState', null, encodeSyncState(state.secret, { ...key, seq: page.position })),
          el('m:IncludesLastFolderInRange', null, 'true'),
          el('m:Changes', null, changes),
        ];
      },
      () => [el('m:SyncState'), el('m:IncludesLastFolderInRange', null, 'true')],
    );
  },
};
