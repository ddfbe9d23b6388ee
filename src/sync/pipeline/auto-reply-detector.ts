/** The default AutoReplyDetector: the header rules of domain/auto-reply.ts. */
import { autoReplyReason } from '../../domain/auto-reply.js';
import type { AutoReplyDetector, ParsedEmail } from './types.js';

export class HeaderAutoReplyDetector implements AutoReplyDetector {
  detect(email: ParsedEmail): string | null {
    return autoReplyReason(email.headers, email.contentType);
  }
}
