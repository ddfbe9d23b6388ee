/**
 * The default Correlator: In-Reply-To, then References from the newest, against tracked and sent email; then
 * the tracking token in the subject (when the organization uses tokens); then the conversation. The first
 * match wins and the email inherits its regarding record.
 */
import { answeredMessageIds } from '../../domain/correlation.js';
import { findTrackingToken } from '../../domain/tracking-token.js';
import type { OrganizationSettings } from '../ports.js';
import type { Correlation, Correlator, ParsedEmail, PipelineContext } from './types.js';

/** The token in the subject, when the organization uses tokens; null otherwise. */
export function subjectToken(subject: string, organization: OrganizationSettings): string | null {
  if (!organization.useTrackingToken) return null;
  return findTrackingToken({ prefix: organization.trackingTokenPrefix, digits: organization.trackingTokenDigits }, subject);
}

export class HeaderTokenConversationCorrelator implements Correlator {
  async correlate(email: ParsedEmail, context: PipelineContext): Promise<Correlation | null> {
    const candidates = answeredMessageIds(email.inReplyTo, email.references);
    // The message's own activity (the same Message-ID tracked from another mailbox) is never what it answers:
    // the conversation's latest activity may well be that one.
    const found = await context.lookups.activitiesByMessageId([email.internetMessageId, ...candidates.map((c) => c.messageId)]);
    const own = found.get(email.internetMessageId)?.activityId ?? null;
    for (const candidate of candidates) {
      const hit = found.get(candidate.messageId);
      if (hit && hit.activityId !== own) return { activityId: hit.activityId, regarding: hit.regarding, by: candidate.by };
    }
    const token = subjectToken(email.subject, context.organization);
    if (token !== null) {
      const hit = await context.lookups.activityByTrackingToken(token);
      if (hit && hit.activityId !== own) return { activityId: hit.activityId, regarding: hit.regarding, by: 'tracking-token' };
    }
    if (email.conversationId !== null) {
      const hit = await context.lookups.activityByConversation(email.conversationId);
      if (hit && hit.activityId !== own) return { activityId: hit.activityId, regarding: hit.regarding, by: 'conversation' };
    }
    return null;
  }
}
