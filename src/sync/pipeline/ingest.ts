/**
 * The incoming pipeline over one batch: parse every message, ask the store once for every Message-ID and
 * address the batch names, then per message, in order: detect auto-replies, correlate, resolve parties,
 * filter, and keep or leave out attachments. One outcome per input, in the inputs' order.
 */
import { createHash } from 'node:crypto';
import { answeredMessageIds } from '../../domain/correlation.js';
import type { IncomingOutcome } from '../ports.js';
import { batchLookups } from './batch-lookups.js';
import { subjectToken } from './correlator.js';
import { defaultPolicies } from './defaults.js';
import { type ParseResult, parseIncoming } from './parse.js';
import { emailAddresses } from './party-resolver.js';
import type { Ingest, IngestInput, IncomingPolicies, ParsedEmail, PipelineContext } from './types.js';

/**
 * The rule of a message whose Message-ID an earlier message of the same batch had (the same item listed twice,
 * or one message delivered twice to one Inbox). It is filtered rather than passed on as tracked again: the store
 * links a tracked message to the activity its Message-ID already has, but inside one batch that activity does
 * not exist yet, and the pipeline does not lean on how the store would order two creations of one id in one
 * transaction. The copy still gets its own recorded outcome, naming the first.
 */
export function duplicateRule(firstServerId: string): string {
  return `duplicate-in-batch:same Message-ID as item ${firstServerId}`;
}

/**
 * The rule of a different message (other bytes) that claims a Message-ID an earlier message of the batch has: a
 * forged or re-sent copy. It is neither tracked nor merged into the first's activity; it gets an outcome of its
 * own, under a key made of the id and a digest of its bytes (forgedKey), so it is accounted for and the first
 * message's outcome and activity stay as they were.
 */
export function forgedDuplicateRule(firstServerId: string, messageId: string): string {
  return `duplicate-message-id:a different message with the Message-ID ${messageId} of item ${firstServerId}; not tracked`;
}

export function forgedKey(messageId: string, mime: Buffer): string {
  return `${messageId}#sha256:${createHash('sha256').update(mime).digest('hex').slice(0, 32)}`;
}

function renameNotes(attachments: ParsedEmail['attachments']): string[] {
  return attachments.flatMap((a) =>
    a.renamedFrom === undefined ? [] : [`Attachment ${JSON.stringify(a.renamedFrom)} was renamed to "${a.fileName}": its name held a path, control or direction-changing characters.`],
  );
}

async function outcomeOf(input: IngestInput, email: ParsedEmail, context: PipelineContext, policies: IncomingPolicies): Promise<IncomingOutcome> {
  const autoReply = policies.autoReply.detect(email);
  const [correlation, parties] = await Promise.all([policies.correlator.correlate(email, context), policies.resolver.resolve(email, context)]);
  const rule = policies.filter.decide(email, { parties, correlation, autoReply }, context);
  if (rule !== null) return { kind: 'filtered', serverId: input.serverId, internetMessageId: email.internetMessageId, rule };
  const { kept, notes } = policies.attachments.apply(email.attachments, context.organization);
  return {
    kind: 'tracked',
    serverId: input.serverId,
    activity: {
      internetMessageId: email.internetMessageId,
      subject: email.subject,
      bodyText: email.bodyText,
      bodyHtml: email.bodyHtml,
      parties,
      inReplyTo: email.inReplyTo,
      references: email.references,
      conversationId: email.conversationId,
      trackingToken: subjectToken(email.subject, context.organization),
      regarding: correlation?.regarding ?? null,
      correlatedActivityId: correlation?.activityId ?? null,
      sentAt: email.sentAt,
      receivedAt: email.receivedAt,
      attachments: kept.map((a) => ({ fileName: a.fileName, contentType: a.contentType, content: a.content })),
      notes: [...renameNotes(email.attachments), ...notes],
    },
  };
}

export const ingest: Ingest = async (messages, context, policies = defaultPolicies()) => {
  // Parsed one after another: a batch holds up to 512 messages, and their decoded parts all at once would be
  // the batch's size several times over.
  const parsed: ParseResult[] = [];
  for (const input of messages) parsed.push(await parseIncoming(input));

  const emails = parsed.flatMap((result) => (result.ok ? [result.email] : []));
  const lookups = await batchLookups(context.lookups, {
    messageIds: emails.flatMap((email) => [email.internetMessageId, ...answeredMessageIds(email.inReplyTo, email.references).map((c) => c.messageId)]),
    addresses: emails.flatMap(emailAddresses),
  });
  const batchContext: PipelineContext = { ...context, lookups };

  const firstWithId = new Map<string, { serverId: string; digest: string }>();
  const digestOf = (mime: Buffer) => createHash('sha256').update(mime).digest('hex');
  const outcomes: IncomingOutcome[] = [];
  for (const [index, input] of messages.entries()) {
    const result = parsed[index]!;
    if (!result.ok) {
      const { code, message, internetMessageId } = result.failure;
      outcomes.push({ kind: 'failed', serverId: input.serverId, internetMessageId, error: { code, message, serverResponse: null } });
      continue;
    }
    const { email } = result;
    const first = firstWithId.get(email.internetMessageId);
    if (first !== undefined) {
      const same = first.digest === digestOf(input.mime);
      outcomes.push(
        same
          ? { kind: 'filtered', serverId: input.serverId, internetMessageId: email.internetMessageId, rule: duplicateRule(first.serverId) }
          : { kind: 'filtered', serverId: input.serverId, internetMessageId: forgedKey(email.internetMessageId, input.mime), rule: forgedDuplicateRule(first.serverId, email.internetMessageId) },
      );
      continue;
    }
    firstWithId.set(email.internetMessageId, { serverId: input.serverId, digest: digestOf(input.mime) });
    outcomes.push(await outcomeOf(input, email, batchContext, policies));
  }
  return outcomes;
};
