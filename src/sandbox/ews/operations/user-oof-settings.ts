/**
 * GetUserOofSettings and SetUserOofSettings: a mailbox's out-of-office settings. Their answers are not arrays of
 * response messages: GetUserOofSettingsResponse holds one ResponseMessage, then OofSettings and AllowExternalOof
 * (messages.xsd; getuseroofsettings-operation.md). A mailbox never set answers as Exchange does for one: OofState
 * Disabled, ExternalAudience All, a Duration, empty replies.
 */
import { child, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml, type XmlChild } from '../../../xml/write.js';
import type { OofSettings } from '../../state/model.js';
import { type EwsContext, perItem } from '../context.js';
import { actingMailbox } from '../directory.js';
import { isoSeconds } from '../shapes.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

/** ResponseMessage: the single, unnamed-operation response message these two answers carry. */
function responseMessage(error?: EwsError): Xml {
  if (!error) return el('m:ResponseMessage', { ResponseClass: 'Success' }, el('m:ResponseCode', null, 'NoError'));
  return el(
    'm:ResponseMessage',
    { ResponseClass: 'Error' },
    el('m:MessageText', null, error.message),
    el('m:ResponseCode', null, error.code),
    el('m:DescriptiveLinkKey', null, '0'),
  );
}

function root(name: string, ...content: XmlChild[]): Xml {
  return el(`m:${name}`, { 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, ...content);
}

function requestedAddress(request: XmlElement): string {
  return (child(child(request, NS.types, 'Mailbox'), NS.types, 'Address')?.text ?? '').trim();
}

function defaults(): OofSettings {
  const start = new Date();
  start.setUTCMinutes(0, 0, 0);
  const end = new Date(start.getTime() + 24 * 3600 * 1000);
  return { state: 'Disabled', externalAudience: 'All', start: start.toISOString(), end: end.toISOString(), internalReply: '', externalReply: '' };
}

function reply(name: string, text: string): Xml {
  return el(`t:${name}`, null, el('t:Message', null, text));
}

export const getUserOofSettings: Operation = {
  name: 'GetUserOofSettingsRequest',
  handle(context: EwsContext, request) {
    return perItem(
      () => {
        const oof = actingMailbox(context, requestedAddress(request)).oof ?? defaults();
        return root(
          'GetUserOofSettingsResponse',
          responseMessage(),
          el(
            't:OofSettings',
            null,
            el('t:OofState', null, oof.state),
            el('t:ExternalAudience', null, oof.externalAudience),
            el('t:Duration', null, el('t:StartTime', null, isoSeconds(oof.start)), el('t:EndTime', null, isoSeconds(oof.end))),
            reply('InternalReply', oof.internalReply),
            reply('ExternalReply', oof.externalReply),
          ),
          el('m:AllowExternalOof', null, 'All'),
        );
      },
      (error) => root('GetUserOofSettingsResponse', responseMessage(error)),
    );
  },
};

const STATES = new Set(['Disabled', 'Enabled', 'Scheduled']);
const AUDIENCES = new Set(['None', 'Known', 'All']);

export const setUserOofSettings: Operation = {
  name: 'SetUserOofSettingsRequest',
  handle(context: EwsContext, request) {
    return perItem(
      () => {
        const mailbox = actingMailbox(context, requestedAddress(request));
        const given = child(request, NS.types, 'UserOofSettings');
        const text = (name: string) => child(given, NS.types, name)?.text.trim() ?? '';
        const current = mailbox.oof ?? defaults();
        const duration = child(given, NS.types, 'Duration');
        const time = (name: string, fallback: string) => {
          const value = child(duration, NS.types, name)?.text.trim();
          const parsed = value ? new Date(/(Z|[+-]\d\d:\d\d)$/.test(value) ? value : `${value}Z`) : null;
          return parsed && !Number.isNaN(parsed.getTime()) ? parsed.toISOString() : fallback;
        };
        const start = time('StartTime', current.start);
        const end = time('EndTime', current.end);
        if (text('OofState') === 'Scheduled' && start >= end) {
          throw new EwsError('ErrorInvalidScheduledOofDuration', 'The scheduled Oof duration is invalid.');
        }
        const replyText = (name: string, fallback: string) => {
          const element = child(given, NS.types, name);
          return element ? (child(element, NS.types, 'Message')?.text ?? '') : fallback;
        };
        mailbox.oof = {
          state: STATES.has(text('OofState')) ? (text('OofState') as OofSettings['state']) : current.state,
          externalAudience: AUDIENCES.has(text('ExternalAudience')) ? (text('ExternalAudience') as OofSettings['externalAudience']) : current.externalAudience,
          start,
          end,
          internalReply: replyText('InternalReply', current.internalReply),
          externalReply: replyText('ExternalReply', current.externalReply),
        };
        return root('SetUserOofSettingsResponse', responseMessage());
      },
      (error) => root('SetUserOofSettingsResponse', responseMessage(error)),
    );
  },
};
