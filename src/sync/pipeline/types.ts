/**
 * The incoming pipeline's contract: parse, filter, correlate, resolve parties, then the outcome the store
 * records. Each stage is a small policy with one default implementation (pipeline/defaults.ts): the seams where
 * an organization's rules differ. The pipeline does no I/O of its own besides PipelineLookups.
 */
import type { IncomingFilterOption, IncomingOutcome, OrganizationSettings, PipelineLookups, ResolvedParty, SyncMailbox } from '../ports.js';
import type { RegardingType } from '../../domain/activity.js';

/** A message as it comes from the connector. */
export interface IngestInput {
  serverId: string;
  mime: Buffer;
  internetMessageId?: string;
  receivedAt?: string;
  conversationId?: string;
}

/** A parsed message: what the later stages look at (parse.ts, over mailparser). */
export interface ParsedEmail {
  internetMessageId: string;
  /** True when the message had no Message-ID and internetMessageId was derived from its bytes. */
  derivedId: boolean;
  subject: string;
  from: Array<{ address: string; displayName: string | null }>;
  to: Array<{ address: string; displayName: string | null }>;
  cc: Array<{ address: string; displayName: string | null }>;
  bcc: Array<{ address: string; displayName: string | null }>;
  inReplyTo: string | null;
  references: string[];
  /** The server's ConversationId, or the conversation part of Thread-Index (its first 22 bytes, base64). */
  conversationId: string | null;
  sentAt: string | null;
  receivedAt: string;
  bodyText: string | null;
  bodyHtml: string | null;
  /** renamedFrom: the name the message gave, when it was not safe to keep (parse.ts safeFileName). */
  attachments: Array<{ fileName: string; contentType: string; content: Buffer; renamedFrom?: string }>;
  /** Header names lower-cased, values as text (first occurrence): what the auto-reply detector reads. */
  headers: Map<string, string>;
  contentType: string;
}

export interface PipelineContext {
  mailbox: SyncMailbox;
  organization: OrganizationSettings;
  filter: IncomingFilterOption;
  lookups: PipelineLookups;
}

/** Known CRM context of a message: what filtering "in response to CRM email" and correlation both need. */
export interface Correlation {
  activityId: string;
  regarding: { type: RegardingType; id: string } | null;
  /** How it was found. */
  by: 'in-reply-to' | 'references' | 'tracking-token' | 'conversation';
}

/** Stage policies. */
export interface AutoReplyDetector {
  /** Why the message is an auto-reply or a delivery report ("Auto-Submitted: auto-replied"), or null. */
  detect(email: ParsedEmail): string | null;
}

export interface Correlator {
  correlate(email: ParsedEmail, context: PipelineContext): Promise<Correlation | null>;
}

export interface PartyResolver {
  resolve(email: ParsedEmail, context: PipelineContext): Promise<ResolvedParty[]>;
}

export interface IncomingFilter {
  /** null: track it; otherwise the rule that filtered it out (recorded with the outcome). */
  decide(email: ParsedEmail, facts: { parties: ResolvedParty[]; correlation: Correlation | null; autoReply: string | null }, context: PipelineContext): string | null;
}

export interface AttachmentPolicy {
  /** Which attachments are kept; the others are named in notes. */
  apply(attachments: ParsedEmail['attachments'], organization: OrganizationSettings): { kept: ParsedEmail['attachments']; notes: string[] };
}

export interface IncomingPolicies {
  autoReply: AutoReplyDetector;
  correlator: Correlator;
  resolver: PartyResolver;
  filter: IncomingFilter;
  attachments: AttachmentPolicy;
}

/**
 * The pipeline over a batch: one outcome per input, in order (tracked, filtered, or failed for a message that
 * cannot be parsed). A lookup that fails (the store is down) rejects the whole batch: that is a cycle failure,
 * not a message failure, and nothing is recorded.
 */
export type Ingest = (messages: readonly IngestInput[], context: PipelineContext, policies?: IncomingPolicies) => Promise<IncomingOutcome[]>;
