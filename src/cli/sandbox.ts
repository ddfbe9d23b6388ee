/** `liaison sandbox`: the Exchange-compatible server (EWS + Autodiscover over HTTPS) to try Liaison against. */
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Sandbox, SandboxListenError, startSandbox, type SandboxOptions } from '../sandbox/server.js';
import { parsePort } from './options.js';

interface SandboxFlags {
  port: number;
  httpPort: number | 'none';
  host: string;
  data?: string;
  domain: string;
  seed?: 'demo';
  controlToken?: string;
}

// Commander stores a parser's null as an empty string, so "none" stays a word until the options are built.
function parseHttpPort(value: string): number | 'none' {
  return value === 'none' ? 'none' : parsePort(value);
}

/** The sandbox's port flags under a prefix (`serve` says --sandbox-port); the value "none" means no HTTP port. */
export function sandboxHttpPort(value: number | 'none'): number | null {
  return value === 'none' ? null : value;
}

/** Starts the sandbox; a port it cannot listen on is an error that names the flag that changes it. */
export async function startSandboxFromFlags(options: SandboxOptions, prefix = ''): Promise<Sandbox> {
  try {
    return await startSandbox(options);
  } catch (error) {
    if (!(error instanceof SandboxListenError)) throw error;
    const flag = `--${prefix ? `${prefix}-` : ''}${error.which === 'https' ? 'port' : 'http-port'}`;
    const hint = error.which === 'http' ? `choose another with ${flag}, or ${flag} none for no plain-HTTP port` : `choose another with ${flag}`;
    throw new Error(`the sandbox's ${error.message}; ${hint}`);
  }
}

function parseControlToken(value: string): string {
  if (!/^[\x21-\x7e]{16,}$/.test(value)) throw new InvalidArgumentError('must be at least 16 printable characters without spaces (e.g. openssl rand -hex 24)');
  return value;
}

function parseDomain(value: string): string {
  if (!/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i.test(value)) throw new InvalidArgumentError('must be a domain name such as contoso.test');
  return value.toLowerCase();
}

export function sandboxOptionsFrom(flags: SandboxFlags): SandboxOptions {
  return {
    port: flags.port,
    httpPort: sandboxHttpPort(flags.httpPort),
    host: flags.host,
    domain: flags.domain,
    dataDir: flags.data ? path.resolve(flags.data) : null,
    seed: flags.seed ?? null,
    controlToken: flags.controlToken ?? null,
  };
}

export function addSandboxOptions(command: Command, prefix = ''): Command {
  const flag = (name: string) => (prefix ? `--${prefix}-${name}` : `--${name}`);
  return command
    .addOption(new Option(`${flag('port')} <port>`, 'HTTPS port of the sandbox (EWS, Autodiscover, control API)').default(8443).argParser(parsePort))
    .addOption(
      new Option(`${flag('http-port')} <port>`, 'plain-HTTP port for the Autodiscover redirect probe, or "none"').default(8480).argParser(parseHttpPort),
    )
    .addOption(new Option(`${flag('domain')} <domain>`, 'the mail domain the sandbox serves').default('contoso.test').argParser(parseDomain))
    .addOption(
      new Option(
        `${flag('control-token')} <token>`,
        'let callers other than loopback use the control API (/_sandbox/, which shows every password) with "Authorization: Bearer <token>"; ' +
          'without it the control API answers only on 127.0.0.1 and ::1, whatever --host says',
      )
        .env('LIAISON_SANDBOX_CONTROL_TOKEN')
        .argParser(parseControlToken),
    );
}

export function sandboxCommand(program: Command): void {
  const command = program
    .command('sandbox')
    .description(
      'run an Exchange-compatible server (EWS and Autodiscover over HTTPS, Microsoft Graph with its token endpoint, and a control API) to try Liaison without an Exchange; ' +
        'prints one JSON line with its URLs when ready',
    )
    .addOption(new Option('--host <address>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--data <dir>', 'keep mailboxes, messages and certificates in this folder (default: in memory, for this run only)'))
    .addOption(new Option('--seed <name>', 'create sample accounts, mailboxes and mail').choices(['demo']));
  addSandboxOptions(command);
  command.action(async (flags: SandboxFlags) => {
    const sandbox = await startSandboxFromFlags(sandboxOptionsFrom(flags));
    process.stdout.write(`${JSON.stringify(sandbox.info)}\n`);
    process.stderr.write(
      `Sandbox ready for ${sandbox.info.domain}: EWS ${sandbox.info.ews}, control API ${sandbox.info.control}\n` +
        `Host names (map them to ${sandbox.info.listen.address}): ${sandbox.info.hosts.join(', ')}\n` +
        `CA certificate: ${sandbox.info.caCert}\n` +
        `Microsoft Graph: ${sandbox.info.graph.url}/v1.0, authority ${sandbox.info.graph.authority} (tenant ${sandbox.info.graph.tenantId})\n` +
        (sandbox.info.graph.clientId ? `Graph demo app: client id ${sandbox.info.graph.clientId}, client secret ${sandbox.info.graph.clientSecret} (Mail.ReadWrite, Mail.Send)\n` : ''),
    );
    const stop = async () => {
      await sandbox.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
  });
}
