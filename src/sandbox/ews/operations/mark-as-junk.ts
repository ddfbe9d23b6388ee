/**
 * MarkAsJunk (Exchange 2013+, markasjunk-operation.md): with MoveItem, a message marked as junk moves to Junk Email
 * and one marked as not junk to the Inbox, and the answer carries its new id (MovedItemId). Exchange also adds the
 * sender to (or removes them from) the mailbox's blocked senders list; EWS has no way to read that list, and the
 * sandbox does not filter delivery, so it keeps none.
 */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { answerEach, resolveItem } from '../context.js';
import type { Operation } from './types.js';

export const markAsJunk: Operation = {
  name: 'MarkAsJunk',
  handle(context, request) {
    const isJunk = xsBoolean(attr(request, 'IsJunk')) === true;
    const move = xsBoolean(attr(request, 'MoveItem')) === true;
    return answerEach('MarkAsJunk', children(child(request, NS.messages, 'ItemIds'), NS.types), (id) => {
      const item = resolveItem(context, id);
      if (!move) return null;
      const target = context.mailbox.distinguishedFolder(isJunk ? 'junkemail' : 'inbox')!;
      const result = item.folderId === target.id ? item : context.mailbox.moveItem(item, target);
      return el('m:MovedItemId', { Id: result.id, ChangeKey: context.mailbox.changeKey(result) });
    });
  },
};
