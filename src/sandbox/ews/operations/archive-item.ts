/**
 * ArchiveItem (Exchange 2013+): moves items to the user's archive mailbox. The sandbox's mailboxes have no archive
 * mailbox, and Exchange's answer for such a user is ErrorInvalidOperation, "Archive mailbox is not enabled for
 * this user.", with an empty Items (archiveitem-operation.md, its error response example).
 */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, folderIdIn, resolveFolder } from '../context.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

export const archiveItem: Operation = {
  name: 'ArchiveItem',
  handle(context, request) {
    const source = folderIdIn(child(request, NS.messages, 'ArchiveSourceFolderId'));
    return answerEach(
      'ArchiveItem',
      children(child(request, NS.messages, 'ItemIds'), NS.types),
      () => {
        resolveFolder(context, source);
        throw new EwsError('ErrorInvalidOperation', 'Archive mailbox is not enabled for this user.');
      },
      () => el('m:Items'),
    );
  },
};
