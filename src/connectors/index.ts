/** The connectors this build has. Adding a server type: a folder beside ews/ and one line here. */
import { ewsConnectorFactory } from './ews/factory.js';
import { graphConnectorFactory } from './graph/factory.js';
import { imapSmtpConnectorFactory } from './imap/connector.js';
import { pop3SmtpConnectorFactory } from './pop3/connector.js';
import { ConnectorRegistry } from './registry.js';

export function defaultConnectors(): ConnectorRegistry {
  return new ConnectorRegistry().register('exchange', ewsConnectorFactory).register('imap-smtp', imapSmtpConnectorFactory)
    .register('pop3-smtp', pop3SmtpConnectorFactory)
    .register('exchange-online', graphConnectorFactory);
}
