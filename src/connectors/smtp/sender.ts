/**
 * SMTP submission with nodemailer's SMTP connection (one connection per sender, reused for its messages). Port 465
 * is TLS from the first byte; any other port must offer STARTTLS, and Liaison never sends a password without it.
 * The certificate is checked for the profile's server name, with the profile's CA.
 *
 * Where the send stands when it fails is what makes it safe to retry: the message is handed to nodemailer as a
 * stream, which it reads only after the server answered DATA with 354; once the stream has been read to its end,
 * the final dot is on its way, and a connection lost then (before the server's answer) is an uncertain outcome.
 */
import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { tlsOptionsFor } from '../mail/endpoint.js';
import { SmtpSendError, type SmtpPhase } from './classify.js';
import type { SmtpEnvelope, SmtpReceipt, SmtpSender, SmtpSenderOptions } from './types.js';

interface NodemailerError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

function connectPhase(error: NodemailerError, tls: boolean): SmtpPhase {
  if (/STARTTLS/i.test(error.message)) return 'starttls';
  if (error.code === 'ETLS' || /certificate|TLS|SSL/i.test(error.message)) return 'tls';
  if (error.code === 'EAUTH') return 'auth';
  if (error.code === 'EPROTOCOL' && /greeting/i.test(error.message)) return 'greeting';
  return tls ? 'tls' : 'connect';
}

export function createSmtpSender(options: SmtpSenderOptions): SmtpSender {
  const { endpoint, login, timeoutMs } = options;
  let connection: SMTPConnection | null = null;

  const open = async (): Promise<SMTPConnection> => {
    if (connection && !(connection as unknown as { _destroyed?: boolean })._destroyed && (connection as unknown as { _closing?: boolean })._closing !== true) return connection;
    const tls = tlsOptionsFor(endpoint, options.trustedCaPem);
    const next = new SMTPConnection({
      host: endpoint.dialHost,
      port: endpoint.dialPort,
      secure: endpoint.tls === 'implicit',
      requireTLS: endpoint.tls === 'starttls',
      ...(tls.servername ? { servername: tls.servername } : {}),
      tls: { ca: tls.ca, minVersion: tls.minVersion, rejectUnauthorized: true, ...(tls.servername ? { servername: tls.servername } : {}) },
      name: options.clientName ?? 'liaison.localhost',
      connectionTimeout: timeoutMs,
      greetingTimeout: Math.min(timeoutMs, 30_000),
      socketTimeout: timeoutMs,
      logger: false,
    });
    next.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      next.connect((error?: NodemailerError) => (error ? reject(new SmtpSendError(error.code === 'EAUTH' ? 'auth' : connectPhase(error, endpoint.tls === 'implicit'), error)) : resolve()));
    });
    if (endpoint.tls === 'starttls' && !next.secure) {
      next.close();
      throw new SmtpSendError('starttls', Object.assign(new Error('the server did not offer STARTTLS'), { code: 'ETLS' }));
    }
    await new Promise<void>((resolve, reject) => {
      next.login({ user: login.username, pass: login.password }, (error?: NodemailerError | null) => (error ? reject(new SmtpSendError('auth', error)) : resolve()));
    });
    connection = next;
    return next;
  };

  return {
    async submit(envelope: SmtpEnvelope, mime: Buffer): Promise<SmtpReceipt> {
      const smtp = await open();
      let streamed = false;
      const source = Readable.from([mime]);
      source.once('end', () => (streamed = true));
      try {
        const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
          smtp.send({ from: envelope.from, to: [...envelope.to] }, source, (error: NodemailerError | null, result: SMTPConnection.SentMessageInfo) => (error ? reject(error) : resolve(result)));
        });
        const rejectedErrors = (info as unknown as { rejectedErrors?: NodemailerError[] }).rejectedErrors ?? [];
        return {
          response: info.response,
          accepted: info.accepted.map(String),
          rejected: info.rejected.map((address, i) => ({ address: String(address), response: rejectedErrors[i]?.response ?? 'refused' })),
        };
      } catch (raw) {
        const error = raw as NodemailerError;
        connection = null;
        smtp.close();
        const phase: SmtpPhase =
          error.responseCode !== undefined
            ? error.command === 'DATA' && streamed
              ? 'data'
              : /^RCPT/.test(error.command ?? '') || (error.code === 'EENVELOPE' && /recipient/i.test(error.message))
                ? 'rcpt'
                : /^MAIL/.test(error.command ?? '')
                  ? 'mail'
                  : 'data'
            : streamed
              ? 'after-data'
              : 'data';
        throw new SmtpSendError(phase, error);
      }
    },
    async close(): Promise<void> {
      const open = connection;
      connection = null;
      if (open) {
        try {
          open.quit();
        } catch {
          open.close();
        }
      }
    },
  };
}
