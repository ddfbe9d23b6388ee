/** The pop3-smtp server type: mail read over POP3 (our own small client, see docs/POP3.md), sent over SMTP. */
import type { ClassifiedError, Connector, MailboxSession } from '../connector.js';
import { classifyMailCommon } from '../mail/classify.js';
import { loginFor, type MailLogin } from '../mail/credentials.js';
import { mailEndpoint, type MailEndpoint } from '../mail/endpoint.js';
import type { ConnectorConfig, ConnectorFactory } from '../registry.js';
import { classifySmtpError } from '../smtp/classify.js';
import { createSmtpSender } from '../smtp/sender.js';
import { classifyPop3Error } from './classify.js';
import { Pop3NoFoldersError, Pop3Session } from './session.js';

export class Pop3SmtpConnector implements Connector {
  readonly serverType = 'pop3-smtp';
  private readonly incoming: MailEndpoint;
  private readonly outgoing: MailEndpoint;
  private readonly timeoutMs: number;

  constructor(private readonly config: ConnectorConfig) {
    this.incoming = mailEndpoint(config.profile, 'incoming', config.resolve);
    this.outgoing = mailEndpoint(config.profile, 'outgoing', config.resolve);
    this.timeoutMs = config.profile.requestTimeoutSeconds * 1000;
  }

  private async loginOf(address: string, direction: 'incoming' | 'outgoing'): Promise<MailLogin> {
    const mailbox = this.config.profile.credentialSource === 'mailbox' ? ((await this.config.mailboxLogin?.(address)) ?? null) : null;
    return loginFor(this.config.profile, this.config.secrets, address, mailbox, direction);
  }

  async open(address: string): Promise<MailboxSession> {
    const { profile } = this.config;
    return new Pop3Session({
      address,
      endpoint: this.incoming,
      login: await this.loginOf(address, 'incoming'),
      trustedCaPem: profile.trustedCaPem,
      timeoutMs: this.timeoutMs,
      deleteAfterTracking: profile.deleteAfterTracking ?? false,
      smtp: async () => createSmtpSender({ endpoint: this.outgoing, trustedCaPem: profile.trustedCaPem, login: await this.loginOf(address, 'outgoing'), timeoutMs: this.timeoutMs }),
    });
  }

  classify(error: unknown): ClassifiedError {
    if (error instanceof Pop3NoFoldersError) {
      return { kind: 'permanent', code: 'pop3.no-folders', message: error.message, serverResponse: null, fix: 'Turn off Move Failed Emails to Undeliverable Folder on the profile: POP3 has no folders.', backOffMs: null };
    }
    return (
      classifySmtpError(error) ??
      classifyPop3Error(error) ??
      classifyMailCommon(error, this.incoming) ?? { kind: 'transient', code: 'pop3.error', message: (error as Error)?.message ?? String(error), serverResponse: null, fix: null, backOffMs: null }
    );
  }

  async close(): Promise<void> {}
}

export const pop3SmtpConnectorFactory: ConnectorFactory = (config) => new Pop3SmtpConnector(config);
