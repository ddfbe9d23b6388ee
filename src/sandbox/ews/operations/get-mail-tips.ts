/**
 * GetMailTips: per recipient, the tips asked for (MailTipsRequested, a list; All for all of them), for a mailbox, a
 * distribution list of the directory, an address outside the organisation, or an address in the organisation's
 * domain that is nobody's (InvalidRecipient true). The answer is the odd GetMailTipsResponse: a response message
 * itself, holding one MailTipsResponseMessageType per recipient (messages.xsd; exchangelib's test_account fixture
 * for test_mail_tips). MaxMessageSize is Exchange 2016's default maximum receive size, 10 MB
 * (Set-TransportConfig -MaxReceiveSize).
 */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml } from '../../../xml/write.js';
import { perItem } from '../context.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

const MAX_MESSAGE_SIZE = 10 * 1024 * 1024;

export const getMailTips: Operation = {
  name: 'GetMailTips',
  handle(context, request) {
    const requested = new Set((child(request, NS.messages, 'MailTipsRequested')?.text ?? '').trim().split(/\s+/));
    const wants = (tip: string) => requested.has('All') || requested.has(tip);
    const { state } = context;
    const domain = state.domain.toLowerCase();
    const messages: Promise<Xml>[] = children(child(request, NS.messages, 'Recipients'), NS.types, 'Mailbox').map((recipient) =>
      perItem(
        () => {
          const address = (child(recipient, NS.types, 'EmailAddress')?.text ?? '').trim();
          if (!/^[^\s@]+@[^\s@]+$/.test(address)) throw new EwsError('ErrorInvalidSmtpAddress', 'The SMTP address format is invalid.');
          const mailbox = state.mailbox(address);
          const list = state.distributionList(address);
          const internal = address.toLowerCase().endsWith(`@${domain}`);
          const invalid = internal && !mailbox && !list;
          const members = list ? list.members.length : 1;
          const external = list ? list.members.filter((m) => !m.toLowerCase().endsWith(`@${domain}`)).length : internal ? 0 : 1;
          const oof = mailbox?.oof;
          const now = new Date().toISOString();
          const away = oof && (oof.state === 'Enabled' || (oof.state === 'Scheduled' && oof.start <= now && now < oof.end));
          const tips: Array<Xml | null> = [
            el('t:RecipientAddress', null, el('t:EmailAddress', null, address), el('t:RoutingType', null, 'SMTP')),
            el('t:PendingMailTips'),
            wants('OutOfOfficeMessage') && !invalid ? el('t:OutOfOffice', null, el('t:ReplyBody', null, el('t:Message', null, away ? oof.internalReply : ''))) : null,
            wants('MailboxFullStatus') && mailbox ? el('t:MailboxFull', null, 'false') : null,
            wants('TotalMemberCount') && !invalid ? el('t:TotalMemberCount', null, members) : null,
            wants('ExternalMemberCount') && !invalid ? el('t:ExternalMemberCount', null, external) : null,
            wants('MaxMessageSize') && !invalid ? el('t:MaxMessageSize', null, MAX_MESSAGE_SIZE) : null,
            wants('DeliveryRestriction') && !invalid ? el('t:DeliveryRestricted', null, 'false') : null,
            wants('ModerationStatus') && !invalid ? el('t:IsModerated', null, 'false') : null,
            wants('InvalidRecipient') ? el('t:InvalidRecipient', null, invalid) : null,
          ];
          return el('m:MailTipsResponseMessageType', { ResponseClass: 'Success' }, el('m:ResponseCode', null, 'NoError'), el('m:MailTips', null, tips));
        },
        (error) =>
          el(
            'm:MailTipsResponseMessageType',
            { ResponseClass: 'Error' },
            el('m:MessageText', null, error.message),
            el('m:ResponseCode', null, error.code),
            el('m:DescriptiveLinkKey', null, '0'),
          ),
      ),
    );
    return Promise.all(messages).then((answers) =>
      el(
        'm:GetMailTipsResponse',
        { ResponseClass: 'Success', 'xmlns:m': NS.messages, 'xmlns:t': NS.types },
        el('m:ResponseCode', null, 'NoError'),
        el('m:ResponseMessages', null, answers),
      ),
    );
  },
};
