/**
 * The imap-smtp server type: mail read over IMAP, sent over SMTP, its Sent copy appended over IMAP. Logins come
 * from the profile's master user or the mailbox's own (mail/credentials.ts); push is IMAP IDLE (idle-feed.ts).
 */
import type { ClassifiedError, Connector, ChangeFeed, ChangeFeedEvents, MailboxSession, WellKnownFolder } from '../connector.js';
import { loginFor, type MailLogin } from '../mail/credentials.js';
import { mailEndpoint, type MailEndpoint } from '../mail/endpoint.js';
import type { ConnectorConfig, ConnectorFactory } from '../registry.js';
import { classifySmtpError } from '../smtp/classify.js';
import { createSmtpSender } from '../smtp/sender.js';
import { classifyImapError } from './classify.js';
import { IdleFeed } from './idle-feed.js';
import { ImapSession } from './session.js';

/** IDLE connections one worker holds at most for a profile; the other mailboxes poll. */
export const DEFAULT_IDLE_CONNECTIONS = 20;

export class ImapSmtpConnector implements Connector {
  readonly serverType = 'imap-smtp';
  private readonly incoming: MailEndpoint;
  private readonly outgoing: MailEndpoint;
  private readonly timeoutMs: number;
  private lastLogin: string | null = null;

  constructor(private readonly config: ConnectorConfig) {
    this.incoming = mailEndpoint(config.profile, 'incoming', config.resolve);
    this.outgoing = mailEndpoint(config.profile, 'outgoing', config.resolve);
    this.timeoutMs = config.profile.requestTimeoutSeconds * 1000;
  }

  /** The login for a mailbox on the IMAP or SMTP side. */
  async loginOf(address: string, direction: 'incoming' | 'outgoing'): Promise<MailLogin> {
    const mailbox = this.config.profile.credentialSource === 'mailbox' ? ((await this.config.mailboxLogin?.(address)) ?? null) : null;
    return loginFor(this.config.profile, this.config.secrets, address, mailbox, direction);
  }

  async open(address: string): Promise<MailboxSession> {
    const login = await this.loginOf(address, 'incoming');
    this.lastLogin = login.username;
    const { profile } = this.config;
    return new ImapSession({
      address,
      endpoint: this.incoming,
      login,
      trustedCaPem: profile.trustedCaPem,
      timeoutMs: this.timeoutMs,
      serverSavesSentCopy: profile.serverSavesSentCopy ?? false,
      smtp: async () => createSmtpSender({ endpoint: this.outgoing, trustedCaPem: profile.trustedCaPem, login: await this.loginOf(address, 'outgoing'), timeoutMs: this.timeoutMs }),
      isUncertain: (error) => classifySmtpError(error)?.kind === 'uncertain',
    });
  }

  classify(error: unknown): ClassifiedError {
    const smtp = classifySmtpError(error);
    if (smtp) return smtp;
    return classifyImapError(error, this.incoming, this.lastLogin);
  }

  changeFeed(folders: readonly WellKnownFolder[], events: ChangeFeedEvents): ChangeFeed {
    void folders;
    return new IdleFeed({
      endpoint: this.incoming,
      trustedCaPem: this.config.profile.trustedCaPem,
      timeoutMs: this.timeoutMs,
      maxConnections: Math.min(DEFAULT_IDLE_CONNECTIONS, this.config.profile.maxConcurrentConnections),
      loginOf: (address) => this.loginOf(address, 'incoming'),
      classify: (error) => this.classify(error),
      events,
    });
  }

  async close(): Promise<void> {}
}

export const imapSmtpConnectorFactory: ConnectorFactory = (config) => new ImapSmtpConnector(config);
