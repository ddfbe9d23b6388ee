/**
 * A TLS-ending proxy in front of an implicit-TLS SMTP port that cuts the client off at the worst moment: the
 * message's final dot reached the server, the server answered, and the client never hears it. The server has the
 * message; the client cannot know. The proxy's certificate is for the same host, signed by the same test CA.
 */
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { TestCa } from './certs.js';
import { testLeaf } from './certs.js';

export interface CutProxy {
  port: number;
  /** How many times a final answer was kept from the client. */
  cuts: number;
  close(): Promise<void>;
}

export async function startCutAfterDataProxy(options: { host: string; ca: TestCa; targetPort: number; caPem: string }): Promise<CutProxy> {
  const leaf = testLeaf({ names: [options.host], ca: options.ca });
  const state = { cuts: 0 };
  const sockets = new Set<TLSSocket>();
  const server: Server = createServer({ key: leaf.key.pem, cert: leaf.pem }, (client) => {
    sockets.add(client);
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort, servername: options.host, ca: [options.caPem] });
    sockets.add(upstream);
    let inData = false;
    let sentDot = false;
    let fromClient = '';
    client.on('data', (chunk: Buffer) => {
      fromClient += chunk.toString('latin1');
      if (!inData && /(^|\r\n)DATA\r\n$/i.test(fromClient)) inData = true;
      if (inData && fromClient.endsWith('\r\n.\r\n')) sentDot = true;
      if (fromClient.length > 1_000_000) fromClient = fromClient.slice(-10);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (sentDot && /^250 /m.test(chunk.toString('latin1'))) {
        state.cuts += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get cuts() {
      return state.cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
