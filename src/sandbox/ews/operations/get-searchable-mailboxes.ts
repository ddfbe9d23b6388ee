/**
 * GetSearchableMailboxes (eDiscovery, Exchange 2013+): needs the Discovery Management role, which no sandbox
 * account holds, so every caller gets ErrorAccessDenied, as exchangelib's live suite gets from Exchange for an
 * account without it (tests/test_protocol.py, test_get_searchable_mailboxes). The answer is a response message
 * itself (GetSearchableMailboxesResponseMessageType).
 */
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { TEXT } from '../soap.js';
import type { Operation } from './types.js';

export const getSearchableMailboxes: Operation = {
  name: 'GetSearchableMailboxes',
  handle() {
    return el(
      'm:GetSearchableMailboxesResponse',
      { ResponseClass: 'Error', 'xmlns:m': NS.messages, 'xmlns:t': NS.types },
      el('m:MessageText', null, TEXT.accessDenied),
      el('m:ResponseCode', null, 'ErrorAccessDenied'),
      el('m:DescriptiveLinkKey', null, '0'),
      // Required by the schema, empty in an error.
      el('m:SearchableMailboxes'),
    );
  },
};
