/**
 * Email activities: the CRM record of one email. Statuses, the send transition, and how parties resolve to
 * email-enabled records.
 */

/**
 * `delivery-uncertain`: a send whose outcome nobody can know (the SMTP server's answer was lost after the message
 * went, and POP3 has no Sent folder to look in): a person decides whether it went, Liaison never resends it alone.
 */
export const ACTIVITY_STATUSES = ['draft', 'pending-send', 'sending', 'sent', 'failed', 'received', 'delivery-uncertain'] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

export const DIRECTIONS = ['incoming', 'outgoing'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const PARTY_ROLES = ['from', 'to', 'cc', 'bcc'] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

/** Records an email address can resolve to. */
export const EMAIL_ENABLED_TYPES = ['user', 'queue', 'contact', 'account', 'lead'] as const;
export type EmailEnabledType = (typeof EMAIL_ENABLED_TYPES)[number];

/** CRM records an email can be regarding. */
export const REGARDING_TYPES = ['contact', 'account', 'lead'] as const;
export type RegardingType = (typeof REGARDING_TYPES)[number];

export interface RecordRef {
  type: EmailEnabledType;
  id: string;
}

/** A sender resolves to the first match in this order (users first, queues last). */
export const SENDER_ORDER: readonly EmailEnabledType[] = ['user', 'contact', 'account', 'lead', 'queue'];

/** With this many matches or more, a sender stays unresolved: the address says too little. */
export const SENDER_MATCH_LIMIT = 100;

export function resolveSender(matches: readonly RecordRef[]): RecordRef | null {
  if (matches.length === 0 || matches.length >= SENDER_MATCH_LIMIT) return null;
  return [...matches].sort((a, b) => SENDER_ORDER.indexOf(a.type) - SENDER_ORDER.indexOf(b.type))[0] ?? null;
}

/** A recipient is linked to every record its address matches, or left as the bare address. */
export function resolveRecipient(matches: readonly RecordRef[]): Array<RecordRef | null> {
  if (matches.length === 0) return [null];
  return [...matches].sort((a, b) => SENDER_ORDER.indexOf(a.type) - SENDER_ORDER.indexOf(b.type));
}

/** Why a draft cannot be sent yet; empty when it can. */
export function sendProblems(activity: { status: ActivityStatus; direction: Direction; recipientCount: number }): string[] {
  const problems: string[] = [];
  if (activity.direction !== 'outgoing') problems.push('only outgoing email can be sent');
  if (activity.status !== 'draft' && activity.status !== 'failed') {
    problems.push(`the email is ${activity.status}; only a draft (or an email whose sending failed) can be sent`);
  }
  if (activity.recipientCount === 0) problems.push('the email has no recipients; add at least one to, cc or bcc address');
  return problems;
}

/** Attachment limits: the CRM's defaults (5,120 KB per file, and the blocked file types), and Liaison's own per email. */
export const ATTACHMENT_POLICY = {
  maxBytes: 5120 * 1024,
  /** All the attachments of one email together. */
  maxTotalBytes: 25 * 1024 * 1024,
  /** Attachments on one email, and in one request. */
  maxCount: 50,
  blockedExtensions: new Set(
    (
      'ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll exe fxp hlp hta htr htw ida idc idq ' +
      'inf ins isp its jar js jse ksh lnk mad maf mag mam maq mar mas mat mau mav maw mda mdb mde mdt mdw mdz msc msh msh1 ' +
      'msh1xml msh2 msh2xml mshxml msi msp mst ops pcd pif prf prg printer pst reg rem scf scr sct shb shs shtm shtml soap stm ' +
      'tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh'
    ).split(' '),
  ),
} as const;

/** The longest text a file of `bytes` bytes becomes in base64 (line breaks, which are ignored, allowed every 76 characters). */
export function base64Length(bytes: number): number {
  const text = 4 * Math.ceil(bytes / 3);
  return text + 2 * Math.ceil(text / 76);
}

/** Limits of an email's own text. Lists carry only an excerpt of the body; reading one email gives all of it. */
export const ACTIVITY_LIMITS = {
  subjectMaxLength: 2000,
  /** Each of the text and the HTML body, in characters. */
  bodyMaxLength: 1024 * 1024,
  recipientsPerRole: 500,
  /** The characters of the text body a list item carries. */
  excerptLength: 200,
} as const;

/**
 * The largest draft request (create or change) in bytes: the body texts at 4 bytes a character (UTF-8's most),
 * every attachment base64-encoded, and 1 MiB for the rest (subject, recipients, file names, JSON syntax).
 */
export const DRAFT_REQUEST_MAX_BYTES =
  2 * ACTIVITY_LIMITS.bodyMaxLength * 4 + base64Length(ATTACHMENT_POLICY.maxTotalBytes) + 1024 * 1024;

export function attachmentProblem(fileName: string, size: number): string | null {
  const dot = fileName.lastIndexOf('.');
  const extension = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  if (ATTACHMENT_POLICY.blockedExtensions.has(extension)) return `"${fileName}": .${extension} files are blocked`;
  if (size > ATTACHMENT_POLICY.maxBytes) {
    return `"${fileName}" is ${Math.ceil(size / 1024)} KB; attachments may be at most ${ATTACHMENT_POLICY.maxBytes / 1024} KB`;
  }
  return null;
}

/** Why adding these attachments to an email that already has `count` of `bytes` bytes would break the totals. */
export function attachmentTotalsProblem(current: { count: number; bytes: number }, added: readonly number[]): string | null {
  const count = current.count + added.length;
  const bytes = added.reduce((sum, size) => sum + size, current.bytes);
  if (count > ATTACHMENT_POLICY.maxCount) {
    return `an email may have at most ${ATTACHMENT_POLICY.maxCount} attachments; this one would have ${count}`;
  }
  if (bytes > ATTACHMENT_POLICY.maxTotalBytes) {
    return `an email's attachments may be at most ${ATTACHMENT_POLICY.maxTotalBytes / 1024} KB together; these would make ${Math.ceil(bytes / 1024)} KB`;
  }
  return null;
}
