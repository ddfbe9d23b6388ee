/**
 * The MIME of an email the CRM sends, as handed to the server (EWS CreateItem MimeContent with
 * SendAndSaveCopy). Every attempt writes the same Message-ID, the one the store generated before the first
 * attempt: it is how a retry after an uncertain outcome finds the copy that may already be in Sent Items, and
 * how replies correlate.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { normalizeMessageId } from '../domain/message-id.js';
import { subjectWithToken } from '../domain/tracking-token.js';
import type { OrganizationSettings, OutgoingEmail } from './ports.js';

type Address = OutgoingEmail['from'];

const format = (a: Address) => ({ name: a.displayName ?? '', address: a.address });

/** Exchange keeps at most 255 characters of a subject (EWS reference, Subject); a token past them would be cut off. */
const SUBJECT_MAX_LENGTH = 255;

/** The subject with the token at its end, the subject shortened (not the token) so that both fit. */
function tokenSubject(subject: string, token: string, organization: OrganizationSettings): string {
  const format = { prefix: organization.trackingTokenPrefix, digits: organization.trackingTokenDigits };
  const full = subjectWithToken(format, subject, token);
  const chars = [...full];
  if (chars.length <= SUBJECT_MAX_LENGTH) return full;
  const room = SUBJECT_MAX_LENGTH - [...token].length - 1;
  return subjectWithToken(format, [...subject].slice(0, Math.max(0, room)).join('').trimEnd(), token);
}

export async function buildOutgoingMime(email: OutgoingEmail, organization: OrganizationSettings, options: { now?: Date } = {}): Promise<Buffer> {
  const messageId = normalizeMessageId(email.messageId);
  if (messageId === null) throw new Error(`email ${email.activityId} has no usable Message-ID (${JSON.stringify(email.messageId)}); it is generated and stored before the first attempt`);
  const subject = email.trackingToken ? tokenSubject(email.subject, email.trackingToken, organization) : email.subject;
  const composer = new MailComposer({
    messageId,
    date: options.now ?? new Date(),
    from: format(email.from),
    to: email.to.map(format),
    cc: email.cc.map(format),
    bcc: email.bcc.map(format),
    subject,
    inReplyTo: normalizeMessageId(email.inReplyTo) ?? undefined,
    references: email.references.length > 0 ? email.references : undefined,
    text: email.bodyText ?? undefined,
    html: email.bodyHtml ?? undefined,
    attachments: email.attachments.map((a) => ({ filename: a.fileName, contentType: a.contentType, content: a.content })),
  });
  const node = composer.compile();
  // Bcc stays in the MIME given to Exchange. Exchange reads MIME recipient headers into the item's recipients
  // (a Bcc header becomes a recipient of type 3, MS-OXCMAIL 2.1.3.1.1), so Bcc recipients get the message and
  // the Sent Items copy lists them; and when it writes the message out for SMTP delivery it "MUST NOT copy Bcc
  // recipients to the MIME Bcc header" (MS-OXCMAIL 2.1.3.1.1.2), so no recipient sees them. Dropping the
  // header (the composer's default, right for SMTP) would lose the Bcc recipients of a MIME-only CreateItem.
  // That Exchange's MIME reader keeps a Bcc header is inferred from the converter's documented option to
  // include MIME Bcc recipients (IConverterSession CCSF_INCLUDE_BCC), not seen in a capture; a connector may
  // also list them in t:BccRecipients after t:MimeContent, which EWS's schema order allows.
  node.keepBcc = true;
  return node.build();
}
