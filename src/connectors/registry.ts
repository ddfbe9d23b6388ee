/**
 * Which connector speaks which server type. The engine asks here and nowhere else: a new server type is a new
 * folder under connectors/ and one line in connectors/index.ts, never a `switch` in the engine.
 */
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { Connector, LocationEvents } from './connector.js';
import type { MailboxLogin } from './mail/credentials.js';

/** Everything a connector is built from: the saved profile, its decrypted secrets, and how this Liaison runs. */
export interface ConnectorConfig {
  profile: Profile;
  secrets: ProfileSecrets;
  /** Host-name overrides Liaison was started with (`--resolve`, LIAISON_RESOLVE), in curl's syntax. */
  resolve: readonly string[];
  /** Where the host keeps each mailbox's server location (EWS: the Autodiscover result). */
  events?: LocationEvents;
  /**
   * A mailbox's own login, decrypted (IMAP/POP3 profiles whose credentialSource is mailbox); null when it has
   * none. Asked at every open, so a changed password applies from the next cycle.
   */
  mailboxLogin?: (address: string) => Promise<MailboxLogin | null>;
  /**
   * Where the server can reach this Liaison to push change notifications (Microsoft Graph subscriptions): the
   * public https URL of the API server and the key its notification clientStates are signed with. Absent: no push
   * endpoint, the connector's mailboxes are polled.
   */
  pushEndpoint?: { publicUrl: string; key: Buffer };
}

export type ConnectorFactory = (config: ConnectorConfig) => Connector;

export class UnsupportedServerTypeError extends Error {
  constructor(readonly serverType: string) {
    super(`no connector speaks the ${serverType} server type yet; its mailboxes are not synchronized`);
    this.name = 'UnsupportedServerTypeError';
  }
}

export class ConnectorRegistry {
  private readonly factories = new Map<string, ConnectorFactory>();

  register(serverType: string, factory: ConnectorFactory): this {
    this.factories.set(serverType, factory);
    return this;
  }

  supports(serverType: string): boolean {
    return this.factories.has(serverType);
  }

  create(config: ConnectorConfig): Connector {
    const factory = this.factories.get(config.profile.serverType);
    if (!factory) throw new UnsupportedServerTypeError(config.profile.serverType);
    return factory(config);
  }
}
