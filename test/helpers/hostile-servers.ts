/**
 * Small servers that misbehave on purpose, for test/hostile/: an HTTPS server that answers every request with
 * what a test says (a DTD, a gigabyte, a drip), a plain HTTP server that only counts what reaches it (the URL an
 * external entity names), and TLS line servers for IMAP and POP3 dialogues. Each counts what it managed to write,
 * so that a test can tell that the client stopped reading, not only that it failed.
 */
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { testCa, testLeaf } from './certs.js';

export interface HostileTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

let cachedTls: HostileTls | null = null;

/** One CA and a leaf for 127.0.0.1 and the test names, made once per process (RSA keys are slow to make). */
export function hostileTls(): HostileTls {
  if (!cachedTls) {
    const ca = testCa('Hostile test CA');
    const leaf = testLeaf({ names: ['127.0.0.1', 'localhost', 'hostile.test', 'autodiscover.hostile.test'], ca });
    cachedTls = { caPem: ca.pem, certPem: leaf.pem, keyPem: leaf.key.pem };
  }
  return cachedTls;
}

export interface ServerStats {
  connections: number;
  requests: number;
  /** Bytes handed to sockets that the socket accepted (written or queued in the kernel). */
  bytesWritten: number;
}

export interface Listening {
  port: number;
  /** https://127.0.0.1:port (or http:// for plainHttpServer). */
  origin: string;
  stats: ServerStats;
  close(): Promise<void>;
}

function track(server: http.Server | tls.Server, stats: ServerStats): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on(server instanceof tls.Server && !(server instanceof https.Server) ? 'secureConnection' : 'connection', (socket: Socket) => {
    stats.connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

async function listen(server: http.Server | tls.Server, scheme: string, stats: ServerStats, sockets: Set<Socket>): Promise<Listening> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `${scheme}://127.0.0.1:${port}`,
    stats,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type HostileHandler = (request: http.IncomingMessage, response: http.ServerResponse, stats: ServerStats) => void | Promise<void>;

/** An HTTPS server (hostileTls's certificate) whose every request goes to `handler`. */
export async function hostileHttpsServer(handler: HostileHandler): Promise<Listening> {
  const { certPem, keyPem } = hostileTls();
  const stats: ServerStats = { connections: 0, requests: 0, bytesWritten: 0 };
  const server = https.createServer({ cert: certPem, key: keyPem }, (request, response) => {
    stats.requests += 1;
    request.resume();
    response.on('error', () => undefined);
    void Promise.resolve(handler(request, response, stats)).catch(() => response.destroy());
  });
  return listen(server, 'https', stats, track(server, stats));
}

/** A plain HTTP server that answers 200 "ok" and counts requests: the target of an external entity. */
export async function plainHttpServer(): Promise<Listening> {
  const stats: ServerStats = { connections: 0, requests: 0, bytesWritten: 0 };
  const server = http.createServer((request, response) => {
    stats.requests += 1;
    request.resume();
    response.end('ok');
  });
  return listen(server, 'http', stats, track(server, stats));
}

/** A TLS server (implicit TLS, as imaps/pop3s) that hands each connection to `onSocket`. */
export async function hostileTlsServer(onSocket: (socket: tls.TLSSocket, stats: ServerStats) => void): Promise<Listening> {
  const { certPem, keyPem } = hostileTls();
  const stats: ServerStats = { connections: 0, requests: 0, bytesWritten: 0 };
  const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => onSocket(socket, stats));
  return listen(server, 'tls', stats, track(server, stats));
}

interface Writable {
  write(chunk: Buffer | string): boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'close', listener: () => void): unknown;
  destroyed: boolean;
}

/**
 * Writes `total` bytes of `fill` as fast as the peer reads them (waiting for drain, so what is counted is what the
 * socket took), until done or the peer goes away. Returns the bytes written.
 */
export async function stream(out: Writable, total: number, stats: ServerStats, fill = 'x', chunkBytes = 64 * 1024): Promise<number> {
  const chunk = Buffer.alloc(chunkBytes, fill);
  let sent = 0;
  while (sent < total && !out.destroyed) {
    const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
    const flowing = out.write(piece);
    sent += piece.length;
    stats.bytesWritten += piece.length;
    if (!flowing) {
      await new Promise<void>((resolve) => {
        const done = () => {
          out.removeListener('drain', done);
          out.removeListener('close', done);
          resolve();
        };
        out.once('drain', done);
        out.once('close', done);
      });
    }
  }
  return sent;
}

/** Writes `text` one byte every `intervalMs`, until done or the peer goes away. */
export async function drip(out: Writable, text: string, stats: ServerStats, intervalMs = 1000): Promise<void> {
  for (const byte of Buffer.from(text)) {
    if (out.destroyed) return;
    out.write(Buffer.from([byte]));
    stats.bytesWritten += 1;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

let gcFunction: (() => void) | null = null;

/** The heap in use after a full collection (gc exposed at run time, so the tests need no node flag). */
export function heapAfterGc(): number {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
  gcFunction();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}
