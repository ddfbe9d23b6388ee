/**
 * UpdateFolder: SetFolderField, AppendToFolderField and DeleteFolderField on a folder's DisplayName. A name
 * another folder under the same parent has is ErrorFolderExists; another FolderClass is ErrorObjectTypeChanged
 * (responsecode.md, ErrorNoFolderClassOverride; exchangelib's live tests); what cannot be changed that way
 * is ErrorInvalidPropertySet / ErrorInvalidPropertyAppend / ErrorInvalidPropertyDelete with the path in MessageXml.
 * Deleting the PermissionSet resets a folder's permissions to the default, which is all the sandbox has.
 */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml } from '../../../xml/write.js';
import type { Folder } from '../../state/model.js';
import { answerEach, resolveFolder } from '../context.js';
import { folderElement } from '../shapes.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

const ACTION_ERRORS: Record<string, [string, string]> = {
  SetFolderField: ['ErrorInvalidPropertySet', 'Set action is invalid for property.'],
  AppendToFolderField: ['ErrorInvalidPropertyAppend', 'Append action is invalid for property.'],
  DeleteFolderField: ['ErrorInvalidPropertyDelete', 'Delete action is invalid for property.'],
};

function pathXml(path: XmlElement | undefined): Xml {
  if (path?.local === 'ExtendedFieldURI') {
    const attributes: Record<string, string> = {};
    for (const a of path.attributes) attributes[a.local] = a.value;
    return el('t:ExtendedFieldURI', attributes);
  }
  return el(`t:${path?.local === 'IndexedFieldURI' ? 'IndexedFieldURI' : 'FieldURI'}`, { FieldURI: attr(path, 'FieldURI') ?? '' });
}

function refuse(update: XmlElement, path: XmlElement | undefined): never {
  const [code, text] = ACTION_ERRORS[update.local] ?? ACTION_ERRORS.SetFolderField!;
  throw new EwsError(code, text, { xml: pathXml(path) });
}

/** The changes one update asks for, or the error Exchange gives for it. */
function readUpdate(folder: Folder, update: XmlElement): { displayName?: string; folderClass?: string } {
  const path = update.children.find((c) => c.ns === NS.types && /FieldURI$/.test(c.local));
  const uri = path?.local === 'FieldURI' ? (attr(path, 'FieldURI') ?? '') : '';
  const value = update.children.find((c) => c.ns === NS.types && /Folder$/.test(c.local));
  if (update.local === 'AppendToFolderField') refuse(update, path);
  const remove = update.local === 'DeleteFolderField';
  switch (uri) {
    case 'folder:DisplayName': {
      if (remove) refuse(update, path);
      return { displayName: child(value, NS.types, 'DisplayName')?.text ?? '' };
    }
    case 'folder:FolderClass': {
      // A folder's class is fixed once it is created: exchangelib's live suite (test_create_update_empty_delete)
      // gets ErrorObjectTypeChanged from Exchange for any other class, even of the same folder type.
      const folderClass = remove ? '' : (child(value, NS.types, 'FolderClass')?.text.trim() ?? '');
      if (folderClass !== folder.folderClass) throw new EwsError('ErrorObjectTypeChanged', 'Object type changed.');
      return {};
    }
    case 'folder:PermissionSet':
      // The sandbox's folders carry the default permissions only, which is what deleting the set leaves (exchangelib
      // deletes it on every folder save); other permissions are not modelled.
      if (remove) return {};
      return refuse(update, path);
    default:
      // Counts, ids and the rest are read-only; extended properties are not stored on folders.
      return refuse(update, path);
  }
}

export const updateFolder: Operation = {
  name: 'UpdateFolder',
  handle(context, request) {
    return answerEach(
      'UpdateFolder',
      children(child(request, NS.messages, 'FolderChanges'), NS.types, 'FolderChange'),
      (change) => {
        const idElement = change.children.find((c) => c.ns === NS.types && (c.local === 'FolderId' || c.local === 'DistinguishedFolderId'));
        const folder = resolveFolder(context, idElement);
        let props: { displayName?: string; folderClass?: string } = {};
        for (const update of children(child(change, NS.types, 'Updates'), NS.types)) props = { ...props, ...readUpdate({ ...folder, ...props }, update) };
        if (Object.keys(props).length > 0) context.mailbox.updateFolder(folder, props);
        return el('m:Folders', null, el(`t:${folderElement(folder)}`, null, el('t:FolderId', { Id: folder.id, ChangeKey: context.mailbox.changeKey(folder) })));
      },
      () => el('m:Folders'),
    );
  },
};
