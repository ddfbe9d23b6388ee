/** The pipeline's policies as Liaison ships them: one default implementation of each seam. */
import { OrganizationAttachmentPolicy } from './attachment-policy.js';
import { HeaderAutoReplyDetector } from './auto-reply-detector.js';
import { HeaderTokenConversationCorrelator } from './correlator.js';
import { OptionIncomingFilter } from './filter.js';
import { RecordPartyResolver } from './party-resolver.js';
import type { IncomingPolicies } from './types.js';

export function defaultPolicies(): IncomingPolicies {
  return {
    autoReply: new HeaderAutoReplyDetector(),
    correlator: new HeaderTokenConversationCorrelator(),
    resolver: new RecordPartyResolver(),
    filter: new OptionIncomingFilter(),
    attachments: new OrganizationAttachmentPolicy(),
  };
}
