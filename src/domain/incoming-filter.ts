/**
 * The incoming-email filter: which messages of a mailbox become email activities, per the option its owner
 * chose. The rule that filters a message out is recorded with it, so it must say why.
 */
import type { RecordRef } from './activity.js';
import type { IncomingFilterOption } from '../sync/ports.js';

/** The default for a mailbox whose owner chose nothing: only replies to email the CRM knows. */
export const DEFAULT_INCOMING_FILTER: IncomingFilterOption = 'responses-to-crm-email';

const CRM_RECORD_TYPES = new Set<RecordRef['type']>(['contact', 'account', 'lead']);

export interface FilterFacts {
  /** Why the message is an auto-reply or delivery report (domain/auto-reply.ts), or null. */
  autoReply: string | null;
  /** The message correlates to an email the CRM tracked or sent. */
  correlated: boolean;
  /** The record the sender resolved to, or null. */
  sender: RecordRef | null;
}

/**
 * null: track it; otherwise the rule that filtered it out ("filter:<option>:<reason>" or "auto-reply:<reason>").
 *
 * "All email messages" tracks everything: the commercial component documents it so ("Everything is tracked"),
 * auto-replies included. Under the three narrower options the commercial documentation says nothing of
 * auto-replies; Liaison filters them there (and the rule names the header that gave it away), because an
 * out-of-office notice is neither a person's response nor a message a person sent, and an organization that
 * wants them tracked chooses "all". "No email messages" filters everything.
 */
export function incomingFilterRule(option: IncomingFilterOption, facts: FilterFacts): string | null {
  switch (option) {
    case 'all':
      return null;
    case 'none':
      return 'filter:none';
    case 'responses-to-crm-email':
      if (facts.autoReply !== null) return `auto-reply:${facts.autoReply}`;
      return facts.correlated ? null : 'filter:responses-to-crm-email:not-a-response';
    case 'from-crm-records':
      if (facts.autoReply !== null) return `auto-reply:${facts.autoReply}`;
      if (facts.sender === null) return 'filter:from-crm-records:sender-unresolved';
      return CRM_RECORD_TYPES.has(facts.sender.type) ? null : `filter:from-crm-records:sender-is-a-${facts.sender.type}`;
    case 'from-email-enabled-records':
      if (facts.autoReply !== null) return `auto-reply:${facts.autoReply}`;
      return facts.sender === null ? 'filter:from-email-enabled-records:sender-unresolved' : null;
    default: {
      const unknown: never = option;
      throw new Error(`unknown incoming filter option ${String(unknown)}`);
    }
  }
}
