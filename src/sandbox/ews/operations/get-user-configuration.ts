/**
 * GetUserConfiguration: a configuration object (an associated item named IPM.Configuration.<name>) of a folder.
 * The sandbox's mailboxes hold none, and Exchange's answer for a name a folder does not have is ErrorItemNotFound
 * with the store's text; the folder itself is looked up first (a folder that is not there is that error too).
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { answerOne, folderIdIn, resolveFolder } from '../context.js';
import { EwsError, TEXT } from '../soap.js';
import type { Operation } from './types.js';

export const getUserConfiguration: Operation = {
  name: 'GetUserConfiguration',
  handle(context, request) {
    const name = child(request, NS.messages, 'UserConfigurationName');
    return answerOne('GetUserConfiguration', () => {
      resolveFolder(context, folderIdIn(name));
      throw new EwsError('ErrorItemNotFound', TEXT.itemNotFound);
    });
  },
};
