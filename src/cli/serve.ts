/** `liaison serve`: the API, the console's server and (unless --no-workers) the sync workers, in one process. */
import type { Command } from 'commander';
import { Option } from 'commander';
import path from 'node:path';
import { buildApi, LOG_REDACT } from '../api/server.js';
import { Store } from '../store/store.js';
import type { SyncEngine } from '../sync/engine-types.js';
import { describeDemo, printEngineEvent, setupDemo } from './demo.js';
import { diagnosticsService } from './diagnostics.js';
import { describeEngineEvent, startEngine } from './engine-host.js';
import { addPublicUrlOption, addResolveOption, addStoreOptions, parseBoolean, parsePort, type StoreFlags, storeOptionsFrom } from './options.js';
import { addSandboxOptions, sandboxHttpPort, startSandboxFromFlags } from './sandbox.js';

interface ServeFlags extends StoreFlags {
  host: string;
  port: number;
  workers: boolean;
  logLevel: string;
  sandbox: boolean;
  sandboxPort: number;
  sandboxHttpPort: number | 'none';
  sandboxDomain: string;
  sandboxControlToken?: string;
  resolve: string[];
  publicUrl?: string;
}

export function serveCommand(program: Command): void {
  const command = program
    .command('serve')
    .description('run the Liaison service: the REST API on /api/v1, its documentation on /docs, /health and /metrics')
    .addOption(new Option('--host <host>', 'address to listen on').env('LIAISON_HOST').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'port to listen on').env('LIAISON_PORT').default(8080).argParser(parsePort))
    .addOption(new Option('--no-workers', 'serve the API only: do not synchronize mailboxes in this process (run `liaison worker` processes instead)'))
    .addOption(new Option('--log-level <level>', 'log level').env('LIAISON_LOG_LEVEL').default('info').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .addOption(
      new Option(
        '--sandbox',
        'also run the Exchange sandbox (demo data, kept in <data>/sandbox) with a demo profile and mailboxes set up and enabled, and print what is tracked and sent',
      ),
    );
  addStoreOptions(command);
  addResolveOption(command, 'LIAISON_RESOLVE');
  addPublicUrlOption(command);
  addSandboxOptions(command, 'sandbox');
  command.action(async (flags: ServeFlags, cmd: Command) => {
    // LIAISON_WORKERS=false stands in for --no-workers; the flag wins when given.
    const workers = cmd.getOptionValueSource('workers') === 'cli' || process.env.LIAISON_WORKERS === undefined
      ? flags.workers
      : parseBoolean(process.env.LIAISON_WORKERS);
    const storeOptions = storeOptionsFrom(flags);
    const sandbox = flags.sandbox
      ? await startSandboxFromFlags(
          {
            port: flags.sandboxPort,
            httpPort: sandboxHttpPort(flags.sandboxHttpPort),
            host: flags.host,
            domain: flags.sandboxDomain,
            dataDir: path.join(storeOptions.dataDir, 'sandbox'),
            seed: 'demo',
            controlToken: flags.sandboxControlToken ?? null,
          },
          'sandbox',
        )
      : null;
    const store = await Store.open(storeOptions);
    const resolve = sandbox ? withSandboxHosts(flags.resolve, sandbox.info) : flags.resolve;
    const app = await buildApi({
      store,
      logger: { level: flags.logLevel, redact: LOG_REDACT },
      diagnostics: { service: diagnosticsService(), resolve },
    });
    let engine: SyncEngine | null = null;
    let closing = false;
    const shutdown = async (signal: string) => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'shutting down: finishing the mailbox cycles in hand and releasing their leases');
      await engine?.stop();
      await app.close();
      await sandbox?.close();
      await store.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    try {
      await app.listen({ host: flags.host, port: flags.port });
    } catch (error) {
      await sandbox?.close();
      await store.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new Error(`port ${flags.port} on ${flags.host} is already in use; choose another with --port or LIAISON_PORT`);
      }
      throw error;
    }
    const address = app.server.address();
    const port = address && typeof address === 'object' ? address.port : flags.port;
    const base = `http://${flags.host.includes(':') ? `[${flags.host}]` : flags.host}:${port}`;
    // The sandbox's Graph reaches this server on loopback (which it accepts over http), so the demo gets push.
    const publicUrl = flags.publicUrl ?? (sandbox ? loopbackUrl(flags.host, port) : null);
    if (store.keySource.created) app.log.info(`created the secret key: ${store.keySource.description}; back it up with the database`);
    if (store.keySource.looseFilePermissions) app.log.warn(`${store.keySource.description} can be read by other users; chmod 600 it`);
    if (resolve.length > 0) app.log.info({ resolve }, 'host names resolved as --resolve says, not by DNS');
    let demo: Awaited<ReturnType<typeof setupDemo>> | null = null;
    if (sandbox) {
      try {
        demo = await setupDemo(store, sandbox.info, { service: diagnosticsService(), resolve });
      } catch (error) {
        // The API and the sandbox still work; the terminal says why the demo is missing.
        app.log.warn({ error: (error as Error).message }, 'the demo could not be set up');
        process.stderr.write(`Demo not set up: ${(error as Error).message}\n`);
      }
    }
    const admins = await store.users.list({ isAdmin: true, limit: 1 });
    // While no administrator has a password (none yet, or only the demo's, with an API token), a one-time link
    // to the console's setup page gives one a password; the token is in the fragment, never sent in a request line.
    const setupToken = await store.sessions.issueSetupToken();
    process.stderr.write(
      `Liaison is running on ${base}  (API ${base}/api/v1, docs ${base}/docs, health ${base}/health)\n` +
        `Database: ${store.database.location}\n` +
        (workers
          ? 'Mail synchronization: on in this process (enabled mailboxes are tracked and their email sent)\n'
          : 'Mail synchronization: off in this process (--no-workers); run `liaison worker` against the same database\n') +
        (workers
          ? publicUrl
            ? `Exchange Online push: Microsoft Graph notifies ${publicUrl}/graph/notifications\n`
            : 'Exchange Online push: off (no --public-url); Exchange Online mailboxes are polled\n'
          : '') +
        (flags.resolve.length > 0 ? `Resolved without DNS (--resolve): ${flags.resolve.join(', ')}\n` : '') +
        (sandbox
          ? `Exchange sandbox: EWS ${sandbox.info.ews} (and ${sandbox.info.ews2}), control API ${sandbox.info.control}\n` +
            `  host names ${sandbox.info.hosts.join(', ')} listen on ${sandbox.info.listen.address}; CA certificate ${sandbox.info.caCert}\n` +
            `  service account ${sandbox.info.serviceAccount?.username} / ${sandbox.info.serviceAccount?.password}; mailboxes ${sandbox.info.mailboxes?.join(', ')}\n` +
            `  Microsoft Graph ${sandbox.info.graph.url}/v1.0, authority ${sandbox.info.graph.authority} (tenant ${sandbox.info.graph.tenantId})` +
            (sandbox.info.graph.clientId ? `; demo app ${sandbox.info.graph.clientId} / ${sandbox.info.graph.clientSecret}\n` : '\n') +
            "  Liaison reaches the sandbox's host names without DNS, on its ports and on 443 and 80 (where Autodiscover looks)\n"
          : '') +
        (admins.items.length === 0
          ? 'No administrator yet. Create the first one at the link below (in the web console), or here, noting the API token it prints:\n' +
            '  npm run -s liaison -- user create --email you@example.com --name "Your Name" --admin\n'
          : '') +
        (setupToken
          ? `No administrator can sign in yet. Set the first password within 24 hours at:\n  ${base}/setup#${setupToken}\n` +
            '  (or set one here: npm run -s liaison -- user password --email <address>)\n'
          : ''),
    );
    if (demo) describeDemo(demo, base, process.stderr);
    if (workers) {
      engine = startEngine(store, {
        resolve,
        publicUrl,
        onEvent: (event) => {
          // The demo's terminal shows each tracked and sent email; the log keeps every event worth reading.
          if (demo) printEngineEvent(event, process.stderr);
          const line = describeEngineEvent(event);
          if (line) app.log[event.type === 'failure' ? 'warn' : 'info']({ engine: event.type }, line);
        },
      });
    }
    app.log.info(
      { database: store.database.location, dialect: store.database.dialect, syncWorkers: workers ? 1 : 0, workerId: engine?.workerId ?? null },
      workers ? 'store ready; the sync engine runs in this process' : 'store ready; --no-workers: no mailbox is synchronized by this process',
    );
  });
}

/**
 * This server's own URL on loopback, where a sandbox on this machine reaches it; null when it listens on one
 * address that is not loopback (the sandbox accepts http only for loopback notification URLs).
 */
function loopbackUrl(host: string, port: number): string | null {
  const name = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  if (!(name === 'localhost' || /^127\./.test(name) || name === '::1')) return null;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/**
 * The sandbox's host names, sent to the address and ports it listens on, before the given entries (which win:
 * an administrator's own entry for a name is kept). A profile for the sandbox then works without DNS: on the
 * sandbox's port, and on 443 and 80, where Autodiscover looks.
 */
function withSandboxHosts(
  resolve: string[],
  info: { hosts: string[]; listen: { address: string; port: number; httpPort: number | null } },
): string[] {
  const address = info.listen.address === '0.0.0.0' ? '127.0.0.1' : info.listen.address === '::' ? '::1' : info.listen.address;
  const target = address.includes(':') ? `[${address}]` : address;
  const { port, httpPort } = info.listen;
  const sandbox = info.hosts.flatMap((host) => [
    `${host}:${port}:${target}`,
    ...(port === 443 ? [] : [`${host}:443:${target}:${port}`]),
    ...(httpPort === null || httpPort === 80 ? [] : [`${host}:80:${target}:${httpPort}`]),
  ]);
  // Later entries win (src/net/resolve.ts HostOverrides), so the administrator's come last.
  return [...sandbox, ...resolve];
}
