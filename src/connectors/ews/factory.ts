/** An EWS connector from a saved Exchange profile: its service account, Autodiscover or fixed URL, CA and limits. */
import type { ConnectorFactory } from '../registry.js';
import { EwsConnector } from './connector.js';

export const ewsConnectorFactory: ConnectorFactory = ({ profile, secrets, resolve, events }) => {
  if (!profile.username || !secrets.password) {
    throw new Error(`profile "${profile.name}" has no service account ${profile.username ? 'password' : 'user name'}`);
  }
  const timeoutMs = profile.requestTimeoutSeconds * 1000;
  return new EwsConnector({
    ...(events ?? {}),
    credentials: { username: profile.username, password: secrets.password, method: profile.authentication ?? 'basic' },
    autodiscover: profile.autodiscover,
    url: profile.autodiscover ? null : profile.incomingServer,
    transportOptions: {
      trustedCaPem: profile.trustedCaPem,
      resolve,
      timeoutMs,
      connectTimeoutMs: Math.min(timeoutMs, 30_000),
      maxInFlightPerKey: profile.maxConcurrentConnections,
    },
  });
};
