/** The exchange-online server type is registered; a profile without a secret or certificate is refused clearly. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConnectors } from '../../../src/connectors/index.js';
import type { ConnectorConfig } from '../../../src/connectors/registry.js';
import { GraphConnector } from '../../../src/connectors/graph/connector.js';

function config(secrets: Partial<ConnectorConfig['secrets']>, extra: Partial<ConnectorConfig> = {}): ConnectorConfig {
  return {
    profile: {
      name: 'EXO',
      serverType: 'exchange-online',
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      clientId: '6731de76-14a6-49ae-97bc-6eba6914391e',
      incomingServer: null,
      authority: null,
      trustedCaPem: null,
      requestTimeoutSeconds: 60,
    } as unknown as ConnectorConfig['profile'],
    secrets: { password: null, outgoingPassword: null, clientSecret: null, clientCertificate: null, ...secrets },
    resolve: [],
    ...extra,
  };
}

test('exchange-online builds a Graph connector: default authority and Graph URL, push only with a public URL', async () => {
  const registry = defaultConnectors();
  assert.ok(registry.supports('exchange-online'));
  const polled = registry.create(config({ clientSecret: 's3cret' })) as GraphConnector;
  assert.ok(polled instanceof GraphConnector);
  assert.equal(polled.serverType, 'exchange-online');
  assert.equal(polled.authority, 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47');
  assert.equal(polled.client.base.href, 'https://graph.microsoft.com/v1.0');
  assert.equal(polled.changeFeed, undefined);
  const pushed = registry.create(config({ clientSecret: 's3cret' }, { pushEndpoint: { publicUrl: 'https://liaison.contoso.com', key: Buffer.alloc(32) } }));
  assert.equal(typeof pushed.changeFeed, 'function');
  await Promise.all([polled.close(), pushed.close()]);
});

test('a profile with neither a client secret nor a certificate is refused with that said', () => {
  assert.throws(() => defaultConnectors().create(config({})), /neither a client secret nor a client certificate/);
});
