/** An Exchange Online connector from a saved profile: tenant, app, secret or certificate, authority, Graph URL, CA, limits. */
import type { ConnectorFactory } from '../registry.js';
import { GraphConnector } from './connector.js';

export const graphConnectorFactory: ConnectorFactory = ({ profile, secrets: secret, resolve, pushEndpoint }) => {
  if (!profile.tenantId) throw new Error(`profile "${profile.name}" has no tenant ID`);
  if (!profile.clientId) throw new Error(`profile "${profile.name}" has no client (application) ID`);
  if (!secret.clientSecret && !secret.clientCertificate) throw new Error(`profile "${profile.name}" has neither a client secret nor a client certificate`);
  return new GraphConnector({
    tenantId: profile.tenantId,
    clientId: profile.clientId,
    clientSecret: secret.clientSecret ?? null,
    certificatePem: secret.clientCertificate ?? null,
    authority: profile.authority ?? null,
    graphUrl: profile.incomingServer || null,
    resolve,
    trustedCaPem: profile.trustedCaPem,
    timeoutMs: profile.requestTimeoutSeconds * 1000,
    pushEndpoint,
  });
};
