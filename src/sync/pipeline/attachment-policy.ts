/**
 * The default AttachmentPolicy: the organization's size limit and blocked extensions. A left-out attachment is
 * named in a note on the activity (file, size, why), so nothing disappears without a trace.
 */
import type { OrganizationSettings } from '../ports.js';
import type { AttachmentPolicy, ParsedEmail } from './types.js';

function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot >= 0 ? fileName.slice(dot + 1).trim().toLowerCase() : '';
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${Math.ceil(bytes / 1024).toLocaleString('en-US')} KB (${bytes.toLocaleString('en-US')} bytes)`;
}

export class OrganizationAttachmentPolicy implements AttachmentPolicy {
  apply(attachments: ParsedEmail['attachments'], organization: OrganizationSettings): { kept: ParsedEmail['attachments']; notes: string[] } {
    const blocked = new Set(organization.blockedAttachmentExtensions.map((e) => e.replace(/^\./, '').toLowerCase()));
    const kept: ParsedEmail['attachments'] = [];
    const notes: string[] = [];
    for (const attachment of attachments) {
      const extension = extensionOf(attachment.fileName);
      const bytes = attachment.content.length;
      if (extension !== '' && blocked.has(extension)) {
        notes.push(`Attachment "${attachment.fileName}" (${size(bytes)}) was left out: .${extension} files are blocked by the organization.`);
      } else if (bytes > organization.maxAttachmentBytes) {
        notes.push(`Attachment "${attachment.fileName}" (${size(bytes)}) was left out: it is larger than the organization's limit of ${size(organization.maxAttachmentBytes)}.`);
      } else {
        kept.push(attachment);
      }
    }
    return { kept, notes };
  }
}
