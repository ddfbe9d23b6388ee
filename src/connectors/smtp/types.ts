/**
 * The SMTP submission both IMAP/SMTP and POP3/SMTP profiles send through (nodemailer underneath). What the
 * outgoing half of their sessions needs, nothing more: one message, its envelope, and a verdict the connector's
 * classify() can read (a 5xx is permanent, a 4xx or a connection lost before the end of DATA transient, a
 * connection lost after the message's final dot uncertain).
 */
import type { MailEndpoint } from '../mail/endpoint.js';
import type { MailLogin } from '../mail/credentials.js';

export interface SmtpSenderOptions {
  endpoint: MailEndpoint;
  trustedCaPem: string | null;
  login: MailLogin;
  /** Connect, greeting, each command and the DATA answer, in ms. */
  timeoutMs: number;
  /** The name Liaison gives in EHLO. */
  clientName?: string;
}

export interface SmtpEnvelope {
  from: string;
  to: readonly string[];
}

export interface SmtpReceipt {
  /** The server's final reply to DATA, verbatim ("250 2.0.0 Ok: queued as 4Xyz"). */
  response: string;
  accepted: string[];
  /** Recipients refused at RCPT while others were accepted, with the server's reply. */
  rejected: Array<{ address: string; response: string }>;
}

export interface SmtpSender {
  submit(envelope: SmtpEnvelope, mime: Buffer): Promise<SmtpReceipt>;
  close(): Promise<void>;
}
