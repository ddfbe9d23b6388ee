/**
 * GetUserAvailability: free/busy of the sandbox's mailboxes. The sandbox stores no calendar items, so every
 * calendar is empty and every mailbox is free for the whole window: MergedFreeBusy all "0" (one digit per
 * MergedFreeBusyIntervalInMinutes, 30 by default) for the merged views, no CalendarEventArray, working hours
 * Monday to Friday 08:00-17:00 (Exchange's default). Another mailbox's calendar grants its Default permission
 * (free/busy only), so a Detailed view of it comes back as FreeBusy, as in the documentation's example
 * (getuseravailability-operation.md); an address that is no mailbox here is ErrorMailRecipientNotFound. Meeting
 * suggestions (SuggestionsViewOptions) are not computed and not answered.
 */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml } from '../../../xml/write.js';
import type { EwsContext } from '../context.js';
import type { Operation } from './types.js';

const DEFAULT_INTERVAL = 30;

function responseMessage(code = 'NoError', text?: string): Xml {
  if (code === 'NoError') return el('m:ResponseMessage', { ResponseClass: 'Success' }, el('m:ResponseCode', null, 'NoError'));
  return el('m:ResponseMessage', { ResponseClass: 'Error' }, el('m:MessageText', null, text ?? ''), el('m:ResponseCode', null, code), el('m:DescriptiveLinkKey', null, '0'));
}

/** A change of a time zone without daylight time (UTC): no date, no bias. */
function noChange(name: 't:StandardTime' | 't:DaylightTime'): Xml {
  return el(name, null, el('t:Bias', null, 0), el('t:Time', null, '00:00:00'), el('t:DayOrder', null, 0), el('t:Month', null, 0), el('t:DayOfWeek', null, 'Sunday'));
}

function workingHours(): Xml {
  return el(
    't:WorkingHours',
    null,
    el('t:TimeZone', null, el('t:Bias', null, 0), noChange('t:StandardTime'), noChange('t:DaylightTime')),
    el(
      't:WorkingPeriodArray',
      null,
      el('t:WorkingPeriod', null, el('t:DayOfWeek', null, 'Monday Tuesday Wednesday Thursday Friday'), el('t:StartTimeInMinutes', null, 480), el('t:EndTimeInMinutes', null, 1020)),
    ),
  );
}

/** The view another mailbox's Default permission (free/busy time only) grants for the view asked for. */
function grantedView(requested: string, own: boolean): string {
  if (own) return requested;
  if (requested === 'Detailed') return 'FreeBusy';
  if (requested === 'DetailedMerged') return 'FreeBusyMerged';
  return requested;
}

function actingAddress(context: EwsContext): string | null {
  try {
    return context.mailbox.address;
  } catch {
    return null;
  }
}

export const getUserAvailability: Operation = {
  name: 'GetUserAvailabilityRequest',
  handle(context, request) {
    const options = child(request, NS.types, 'FreeBusyViewOptions');
    const window = child(options, NS.types, 'TimeWindow');
    const start = Date.parse(child(window, NS.types, 'StartTime')?.text.trim() ?? '');
    const end = Date.parse(child(window, NS.types, 'EndTime')?.text.trim() ?? '');
    const interval = Number(child(options, NS.types, 'MergedFreeBusyIntervalInMinutes')?.text.trim() || DEFAULT_INTERVAL) || DEFAULT_INTERVAL;
    const requested = child(options, NS.types, 'RequestedView')?.text.trim() || 'Detailed';
    // The mailbox the request acts on (impersonated, or the caller's own); a service account may have none.
    const acting = actingAddress(context);
    const slots = Number.isFinite(start) && Number.isFinite(end) && end > start ? Math.ceil((end - start) / (interval * 60_000)) : 0;
    const answers = children(child(request, NS.messages, 'MailboxDataArray'), NS.types, 'MailboxData').map((data) => {
      const address = (child(child(data, NS.types, 'Email'), NS.types, 'Address')?.text ?? '').trim();
      const mailbox = context.state.mailbox(address);
      if (!mailbox) {
        return el(
          'm:FreeBusyResponse',
          null,
          responseMessage('ErrorMailRecipientNotFound', `Unable to resolve e-mail address ${address} to an Active Directory object.`),
          el('m:FreeBusyView', null, el('t:FreeBusyViewType', null, 'None')),
        );
      }
      const view = grantedView(requested, acting !== null && mailbox.owns(acting));
      const merged = view.endsWith('Merged') || view === 'MergedOnly';
      return el(
        'm:FreeBusyResponse',
        null,
        responseMessage(),
        el(
          'm:FreeBusyView',
          null,
          el('t:FreeBusyViewType', null, view),
          merged ? el('t:MergedFreeBusy', null, '0'.repeat(slots)) : null,
          view === 'None' || view === 'MergedOnly' ? null : workingHours(),
        ),
      );
    });
    return el('m:GetUserAvailabilityResponse', { 'xmlns:m': NS.messages, 'xmlns:t': NS.types }, el('m:FreeBusyResponseArray', null, answers));
  },
};
