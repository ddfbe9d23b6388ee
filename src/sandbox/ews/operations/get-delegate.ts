/**
 * GetDelegate: the sandbox models no delegates, and answers as Exchange does for a mailbox without any: Success,
 * no delegate user messages, DeliverMeetingRequests DelegatesAndMe (Exchange's default; exchangelib's
 * test_account fixture for test_delegate shows the answer's shape). Asking about named users who are not
 * delegates is ErrorNotDelegate for each.
 */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { perItem } from '../context.js';
import { actingMailbox } from '../directory.js';
import type { Operation } from './types.js';

export const getDelegate: Operation = {
  name: 'GetDelegate',
  handle(context, request) {
    const address = (child(child(request, NS.messages, 'Mailbox'), NS.types, 'EmailAddress')?.text ?? '').trim();
    const users = children(child(request, NS.messages, 'UserIds'), NS.types, 'UserId');
    const root = (...content: Parameters<typeof el>[2][]) => el('m:GetDelegateResponse', { ResponseClass: 'Success', 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, ...content);
    return perItem(
      () => {
        actingMailbox(context, address);
        const messages = users.map(() =>
          el(
            'm:DelegateUserResponseMessageType',
            { ResponseClass: 'Error' },
            el('m:MessageText', null, 'The specified user is not a delegate.'),
            el('m:ResponseCode', null, 'ErrorNotDelegate'),
            el('m:DescriptiveLinkKey', null, '0'),
          ),
        );
        return root(el('m:ResponseCode', null, 'NoError'), messages.length ? el('m:ResponseMessages', null, messages) : null, el('m:DeliverMeetingRequests', null, 'DelegatesAndMe'));
      },
      (error) =>
        el(
          'm:GetDelegateResponse',
          { ResponseClass: 'Error', 'xmlns:m': NS.messages, 'xmlns:t': NS.types },
          el('m:MessageText', null, error.message),
          el('m:ResponseCode', null, error.code),
          el('m:DescriptiveLinkKey', null, '0'),
        ),
    );
  },
};
