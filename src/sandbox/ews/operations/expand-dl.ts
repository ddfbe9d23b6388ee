/**
 * ExpandDL: the members of a distribution list of the directory (expanddl-operation.md; exchangelib's
 * test_protocol fixture for test_expanddl). An address that is not a distribution list, a mailbox's included,
 * is ErrorNameResolutionNoResults, with Exchange's text from the same page.
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerOne } from '../context.js';
import { directoryMailbox } from '../directory.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

export const expandDl: Operation = {
  name: 'ExpandDL',
  handle(context, request) {
    const address = (child(child(request, NS.messages, 'Mailbox'), NS.types, 'EmailAddress')?.text ?? '').trim().replace(/^smtp:/i, '');
    return answerOne('ExpandDL', () => {
      const list = context.state.distributionList(address);
      if (!list) throw new EwsError('ErrorNameResolutionNoResults', 'No results are found.');
      const members = list.members.map((member) => {
        const mailbox = context.state.mailbox(member);
        const nested = context.state.distributionList(member);
        if (nested) return directoryMailbox(nested.name, nested.address, 'PublicDL');
        return directoryMailbox(mailbox?.displayName ?? member, mailbox?.address ?? member, 'Mailbox');
      });
      return el('m:DLExpansion', { TotalItemsInView: members.length, IncludesLastItemInRange: 'true' }, members);
    });
  },
};
