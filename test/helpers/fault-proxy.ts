/**
 * A plain TCP proxy in front of a server (PostgreSQL in the soak) that can cut every connection through it at
 * once, the way a network partition or a database failover ends a client's sessions: both sides are destroyed
 * mid-stream, with no goodbye. New connections are accepted again right after a cut.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  port: number;
  /** Connections open through the proxy right now. */
  readonly open: number;
  /** Destroys every connection open through the proxy; returns how many there were. */
  cut(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get open() {
      return pairs.size;
    },
    cut() {
      const n = pairs.size;
      for (const [client, upstream] of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      return n;
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
