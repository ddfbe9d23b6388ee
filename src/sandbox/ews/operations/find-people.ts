/**
 * FindPeople (Exchange 2013+): people in a contacts folder (the default Contacts when no ParentFolderId is given).
 * The sandbox stores no contacts, so every folder holds nobody: Success with an empty People. The answer is a
 * response message itself (FindPeopleResponseMessageType); an error keeps the counts, as in the real answer to a
 * distinguished folder an on-premises mailbox lacks ("directory": ErrorInvalidOperation, "The distinguished folder
 * name is unrecognized.", pasted from a real server in a FindPeople client's source).
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type XmlChild } from '../../../xml/write.js';
import { folderIdIn, perItem, resolveFolder } from '../context.js';
import type { Operation } from './types.js';

const COUNTS = (): XmlChild[] => [el('m:TotalNumberOfPeopleInView', null, 0), el('m:FirstMatchingRowIndex', null, 0), el('m:FirstLoadedRowIndex', null, 0)];

export const findPeople: Operation = {
  name: 'FindPeople',
  handle(context, request) {
    const root = (responseClass: 'Success' | 'Error', ...content: XmlChild[]) =>
      el('m:FindPeopleResponse', { ResponseClass: responseClass, 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, ...content);
    return perItem(
      () => {
        const parent = folderIdIn(child(request, NS.messages, 'ParentFolderId'));
        if (parent) resolveFolder(context, parent);
        return root('Success', el('m:ResponseCode', null, 'NoError'), el('m:People'), ...COUNTS());
      },
      (error) =>
        root('Error', el('m:MessageText', null, error.message), el('m:ResponseCode', null, error.code), el('m:DescriptiveLinkKey', null, '0'), ...COUNTS()),
    );
  },
};
