/**
 * `liaison analyze exchange|exchange-online|imap|pop3|smtp`: the command-line counterpart of Microsoft's Remote Connectivity
 * Analyzer, to run from outside the firewall with the values of a profile. It runs the same steps as Test
 * Connection (the diagnostics service); this file reads the arguments and the password, and renders the steps as
 * they run.
 *
 * Exit codes: 0 every step passed, 1 a step failed (or the test could not run), 2 bad arguments.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeEndpoint, endpointOf, type MailProtocol } from '../connectors/mail/endpoint.js';
import type { DiagnosticTarget, DiagnosticsService, ExchangeTarget, GraphTarget, MailTarget } from '../diagnostics/service.js';
import { defaultAuthority } from '../connectors/graph/token.js';
import { EXCHANGE_STEPS, GRAPH_STEPS, MAIL_STEPS, type ConnectionTestResult, type StepEvent, type StepName, type StepResult } from '../diagnostics/types.js';
import { addressProblem } from '../domain/email-address.js';
import { AUTHENTICATION_METHODS, DEFAULT_MASTER_USER_SEPARATOR, GRAPH_DEFAULT_URL, pemProblem, PROFILE_LIMITS } from '../domain/profile.js';
import { serverAnswerLines } from '../diagnostics/format.js';
import { addResolveOption } from './options.js';

/** Where analyze reads and writes; the process's own streams, or a test's. */
export interface AnalyzeIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  service: DiagnosticsService;
}

interface ExchangeFlags {
  email: string;
  username: string;
  passwordStdin: boolean;
  password?: string;
  auth: 'basic' | 'ntlm';
  url?: string;
  impersonate?: string;
  resolve: string[];
  caFile?: string;
  timeout: number;
  json: boolean;
}

interface MailFlags {
  host: string;
  port?: number;
  username: string;
  passwordStdin: boolean;
  password?: string;
  starttls: boolean;
  address?: string;
  masterUser?: string;
  masterSeparator: string;
  resolve: string[];
  caFile?: string;
  timeout: number;
  json: boolean;
}

interface GraphFlags {
  tenant: string;
  clientId: string;
  clientSecretStdin: boolean;
  clientSecret?: string;
  certificate?: string;
  email: string;
  authority?: string;
  graphUrl?: string;
  direction: 'both' | 'incoming' | 'outgoing';
  resolve: string[];
  caFile?: string;
  ca?: string;
  timeout: number;
  json: boolean;
}

/** Bad arguments: the message is printed and the command exits 2. */
class UsageError extends Error {}

const EXIT = { passed: 0, failed: 1, usage: 2 } as const;

const MAIL_PROTOCOLS: Record<MailProtocol, { name: string; implicit: number; starttls: number; mailbox: string }> = {
  imap: { name: 'IMAP', implicit: 993, starttls: 143, mailbox: 'EXAMINE INBOX' },
  pop3: { name: 'POP3', implicit: 995, starttls: 110, mailbox: 'STAT and UIDL' },
  smtp: { name: 'SMTP', implicit: 465, starttls: 587, mailbox: 'MAIL FROM for --address, then RSET (nothing is sent)' },
};

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function parseHost(value: string): string {
  if (/^[a-z0-9]+:\/\//i.test(value)) {
    throw new InvalidArgumentError('must be a host name only: the protocol is the command (imap, pop3, smtp), the port is --port, and TLS is implicit unless --starttls');
  }
  if (!HOST_NAME.test(value) && isIP(value.replace(/^\[|\]$/g, '')) === 0) throw new InvalidArgumentError('is not a host name or IP address');
  return value.replace(/^\[|\]$/g, '');
}

function parseMailPort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('must be a port number from 1 to 65535');
  return port;
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  const { min, max } = PROFILE_LIMITS.requestTimeoutSeconds;
  if (!/^\d+$/.test(value) || seconds < min || seconds > max) throw new InvalidArgumentError(`must be a whole number of seconds from ${min} to ${max}`);
  return seconds;
}

function parseAddress(value: string): string {
  const problem = addressProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

function parseUsername(value: string): string {
  if (!/^[^\s@\\]+@[^\s@\\]+$/.test(value) && !/^[^\s@\\]+\\[^\s@\\]+$/.test(value)) {
    throw new InvalidArgumentError("must be the service account's user principal name (svc-crm@contoso.com) or DOMAIN\\user");
  }
  return value;
}

function parseEwsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('is not a URL; give the full EWS address, e.g. https://mail.contoso.com/EWS/Exchange.asmx');
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError(`must start with https:// (Exchange is reached over TLS only); it starts with ${url.protocol}//`);
  if (url.username || url.password) throw new InvalidArgumentError('must not carry a user name or password; use --username and the password prompt');
  return url.toString();
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

function parseTenant(value: string): string {
  if (!GUID.test(value) && !DOMAIN.test(value)) {
    throw new InvalidArgumentError("must be the Directory (tenant) ID from the app registration's Overview page (a GUID) or the tenant's domain (contoso.onmicrosoft.com)");
  }
  return value;
}

function parseClientId(value: string): string {
  if (!GUID.test(value)) throw new InvalidArgumentError("must be the Application (client) ID from the app registration's Overview page, a GUID (00000000-0000-0000-0000-000000000000)");
  return value;
}

function httpsUrlParser(what: string, example: string) {
  return (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InvalidArgumentError(`is not a URL; give ${what}, e.g. ${example}`);
    }
    if (url.protocol !== 'https:') throw new InvalidArgumentError(`must start with https:// (secrets and tokens go over TLS only); it starts with ${url.protocol}//`);
    if (url.username || url.password || url.search || url.hash) throw new InvalidArgumentError(`must be ${what} only, without a user name, query or fragment`);
    return url.href.replace(/\/+$/, '');
  };
}

/** Adds `analyze` and `analyze exchange` to the program; `io` is asked for when the command runs. */
export function analyzeCommand(program: Command, io: () => AnalyzeIo): void {
  const analyze = program
    .command('analyze')
    .description('test a mail server from here, step by step, as Test Connection does (exit 0 passed, 1 a step failed, 2 bad arguments)');
  // Commander's own mistakes (an unknown option, a missing value) are bad arguments too: exit 2, not 1.
  const usageExit = (error: CommanderError) => {
    throw error.exitCode === 0 ? error : new CommanderError(EXIT.usage, error.code, error.message);
  };
  analyze.exitOverride(usageExit);

  const exchange = analyze
    .command('exchange')
    .description(
      'run Autodiscover / HTTPS, EWS and mailbox connection against Exchange as a profile would, printing each step, what the server ' +
        'answered, and the fix. The password is read from stdin (--password-stdin) or asked for on a terminal, never taken as an argument',
    )
    .requiredOption('--email <address>', 'the mailbox to test (Autodiscover starts from its address)', parseAddress)
    .requiredOption('--username <user>', "the service account: user@domain (UPN) or DOMAIN\\user", parseUsername)
    .option('--password-stdin', 'read the password from standard input (one line)', false)
    .addOption(new Option('--password <password>').hideHelp())
    .addOption(new Option('--auth <method>', 'how the service account signs in').choices(AUTHENTICATION_METHODS).default('basic'))
    .option('--url <url>', 'the EWS URL (https); given, Autodiscover is skipped, as a profile with Autodiscover off', parseEwsUrl)
    .option('--impersonate <address>', 'the mailbox the service account impersonates (default: --email, the one Liaison tests)', parseAddress)
    .option('--ca-file <pem>', 'extra CA certificates (PEM) to trust besides the system store, as the profile’s trustedCaPem')
    .addOption(
      new Option('--timeout <seconds>', 'how long one call may take, connecting included')
        .argParser(parseTimeout)
        .default(PROFILE_LIMITS.requestTimeoutSeconds.default),
    )
    .option('--json', 'print the result as JSON, as the API returns it (nothing else on stdout)', false);
  addResolveOption(exchange).exitOverride(usageExit);
  exchange.action(async (flags: ExchangeFlags) => {
    const code = await analyzeExchange(flags, io());
    // Thrown, not returned, so that main exits with it even if a connection is still closing.
    if (code !== EXIT.passed) throw new CommanderError(code, 'liaison.analyze', '');
  });

  const online = analyze
    .command('exchange-online')
    .description(
      'run token, Microsoft Graph and mailbox connection against Exchange Online as a profile would (app-only OAuth: the app ' +
        "registration's client secret or certificate), printing each step, what Azure AD or Graph answered, and the fix. The client " +
        'secret is read from stdin (--client-secret-stdin) or asked for on a terminal, never taken as an argument',
    )
    .requiredOption('--tenant <id>', 'the Directory (tenant) ID: a GUID, or the domain (contoso.onmicrosoft.com)', parseTenant)
    .requiredOption('--client-id <id>', 'the Application (client) ID of the app registration', parseClientId)
    .option('--client-secret-stdin', "read the client secret's Value from standard input (one line)", false)
    .addOption(new Option('--client-secret <secret>').hideHelp())
    .option('--certificate <pem>', 'sign in with a certificate instead: a PEM file with the private key and the certificate uploaded to the app')
    .requiredOption('--email <address>', 'the mailbox to open in step 3', parseAddress)
    .option('--authority <url>', 'where tokens come from (default https://login.microsoftonline.com/<tenant>), as the profile’s authority', httpsUrlParser('the authority', 'https://login.microsoftonline.com/contoso.onmicrosoft.com'))
    .option('--graph-url <url>', `Microsoft Graph's base URL (default ${GRAPH_DEFAULT_URL}), as the profile's Graph URL`, httpsUrlParser("Graph's base URL", GRAPH_DEFAULT_URL))
    .addOption(new Option('--direction <which>', 'what to check the permissions for: incoming needs Mail.ReadWrite, outgoing Mail.Send too').choices(['both', 'incoming', 'outgoing']).default('both'))
    .option('--ca-file <pem>', 'extra CA certificates (PEM) to trust besides the system store, as the profile’s trustedCaPem')
    .addOption(new Option('--ca <pem>', 'the same as --ca-file').hideHelp())
    .addOption(
      new Option('--timeout <seconds>', 'how long one call may take, connecting included')
        .argParser(parseTimeout)
        .default(PROFILE_LIMITS.requestTimeoutSeconds.default),
    )
    .option('--json', 'print the result as JSON, as the API returns it (nothing else on stdout)', false);
  addResolveOption(online).exitOverride(usageExit);
  online.action(async (flags: GraphFlags) => {
    const code = await analyzeGraph(flags, io());
    if (code !== EXIT.passed) throw new CommanderError(code, 'liaison.analyze', '');
  });

  const commands = [analyze, exchange, online];
  for (const protocol of Object.keys(MAIL_PROTOCOLS) as MailProtocol[]) {
    const about = MAIL_PROTOCOLS[protocol];
    const command = analyze
      .command(protocol)
      .description(
        `run server connection (DNS, TCP, TLS), protocol and login, and mailbox connection (${about.mailbox}) against an ${about.name} server ` +
          "as a profile would, printing each step, the server's own reply and the fix. The password is read from stdin (--password-stdin) " +
          'or asked for on a terminal, never taken as an argument',
      )
      .requiredOption('--host <name>', "the server's host name, as the certificate names it", parseHost)
      .option('--port <port>', `the port (default ${about.implicit} with implicit TLS, ${about.starttls} with --starttls)`, parseMailPort)
      .requiredOption('--username <user>', 'the login (with --master-user: the mailbox to log in for)')
      .option('--password-stdin', 'read the password from standard input (one line)', false)
      .addOption(new Option('--password <password>').hideHelp())
      .option('--starttls', `connect in plain text and start TLS (${protocol === 'pop3' ? 'STLS' : 'STARTTLS'}) before the login; without it, TLS from the first byte`, false)
      .option('--address <address>', `the mailbox address of step 3 (default: --username)${protocol === 'smtp' ? ', the sender MAIL FROM names' : ''}`, parseAddress)
      .option('--master-user <name>', "log in as this master user for --username (Dovecot's user*master form); the password is the master user's")
      .option('--master-separator <text>', "what joins --username and --master-user (Dovecot's auth_master_user_separator)", DEFAULT_MASTER_USER_SEPARATOR)
      .option('--ca-file <pem>', 'extra CA certificates (PEM) to trust besides the system store, as the profile’s trustedCaPem')
      .addOption(
        new Option('--timeout <seconds>', 'how long connecting and each reply may take')
          .argParser(parseTimeout)
          .default(PROFILE_LIMITS.requestTimeoutSeconds.default),
      )
      .option('--json', 'print the result as JSON, as the API returns it (nothing else on stdout)', false);
    addResolveOption(command).exitOverride(usageExit);
    command.action(async (flags: MailFlags) => {
      const code = await analyzeMail(protocol, flags, io());
      if (code !== EXIT.passed) throw new CommanderError(code, 'liaison.analyze', '');
    });
    commands.push(command);
  }

  for (const command of commands) {
    command.configureOutput({ writeOut: (text) => io().stdout.write(text), writeErr: (text) => io().stderr.write(text) });
  }
}

/** Runs the analyzer as `liaison analyze …` would, returning the exit code: for tests, and for embedding. */
export async function runAnalyze(args: readonly string[], io: AnalyzeIo): Promise<number> {
  const program = new Command('liaison').exitOverride();
  analyzeCommand(program, () => io);
  try {
    await program.parseAsync(['analyze', ...args], { from: 'user' });
    return EXIT.passed;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
}

async function analyzeExchange(flags: ExchangeFlags, io: AnalyzeIo): Promise<number> {
  return analyzeTarget(io, flags, EXCHANGE_STEPS, () => targetFrom(flags, io), (target) => {
    const how = `${target.auth === 'ntlm' ? 'NTLM' : 'Basic'}, ${target.autodiscover ? 'Autodiscover' : target.url}`;
    return `Testing Exchange for ${target.email} as ${target.username} (${how})`;
  });
}

async function analyzeGraph(flags: GraphFlags, io: AnalyzeIo): Promise<number> {
  return analyzeTarget(io, flags, GRAPH_STEPS, () => graphTargetFrom(flags, io), (target) => {
    const how = target.certificatePem ? 'certificate' : 'client secret';
    return `Testing Exchange Online for ${target.email} as app ${target.clientId} in tenant ${target.tenantId} (${how}, ${target.authority}, ${target.graphUrl})`;
  });
}

async function analyzeMail(protocol: MailProtocol, flags: MailFlags, io: AnalyzeIo): Promise<number> {
  return analyzeTarget(io, flags, MAIL_STEPS, () => mailTargetFrom(protocol, flags, io), (target) => {
    const server = target.servers[0]!;
    return `Testing ${MAIL_PROTOCOLS[protocol].name} at ${describeEndpoint(server.endpoint)} for ${target.email} as ${server.login.username}`;
  });
}

/** Builds the target (a UsageError is exit 2), runs the test with its steps shown as they run, and says how it went. */
async function analyzeTarget<T extends DiagnosticTarget>(
  io: AnalyzeIo,
  flags: { json: boolean; resolve: string[] },
  steps: readonly StepName[],
  build: () => Promise<T>,
  header: (target: T) => string,
): Promise<number> {
  let target: T;
  try {
    target = await build();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`liaison analyze: ${error.message}\n`);
    return EXIT.usage;
  }
  const renderer = flags.json ? null : new StepRenderer(io.stdout, colourOn(io.stdout, io.env), steps);
  renderer?.header(header(target), flags.resolve);
  let result: ConnectionTestResult;
  try {
    result = await io.service.testConnection(target, (event) => renderer?.event(event));
  } catch (error) {
    renderer?.stop();
    io.stderr.write(`liaison analyze: the test could not finish: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
  if (flags.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else renderer!.finish(result);
  return result.status === 'success' && result.steps.every((s) => s.status !== 'failure') ? EXIT.passed : EXIT.failed;
}

function refusePasswordFlag(flags: { password?: string }): void {
  if (flags.password !== undefined) {
    throw new UsageError(
      'a password is never taken on the command line (it would stay in the shell history and show in the process list): ' +
        'pipe it in with --password-stdin, or leave both out to be asked for it on a terminal',
    );
  }
}

function readCaFile(path: string | undefined): string | null {
  if (!path) return null;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--ca-file ${path} cannot be read: ${(error as Error).message}`);
  }
  const problem = pemProblem(pem);
  if (problem) throw new UsageError(`--ca-file ${path} ${problem}`);
  return pem;
}

/** The mail target from the flags: one server, its endpoint with the --resolve overrides, the login. */
async function mailTargetFrom(protocol: MailProtocol, flags: MailFlags, io: AnalyzeIo): Promise<MailTarget> {
  refusePasswordFlag(flags);
  const address = flags.address ?? flags.username;
  if (protocol === 'smtp' && addressProblem(address)) {
    throw new UsageError(`--username ${flags.username} is not an email address, so step 3 has no sender for MAIL FROM: give --address`);
  }
  if (flags.masterUser !== undefined && (flags.masterUser === '' || /\s/.test(flags.masterUser))) throw new UsageError('--master-user must be a user name without spaces');
  const trustedCaPem = readCaFile(flags.caFile);
  const tls = flags.starttls ? 'starttls' : 'implicit';
  const port = flags.port ?? (flags.starttls ? MAIL_PROTOCOLS[protocol].starttls : MAIL_PROTOCOLS[protocol].implicit);
  const endpoint = endpointOf(protocol, flags.host, port, tls, flags.resolve);
  const master = flags.masterUser;
  const username = master ? `${flags.username}${flags.masterSeparator}${master}` : flags.username;
  const password = await readPassword({ passwordStdin: flags.passwordStdin, username: master ? `master user ${master}` : flags.username }, io);
  return {
    kind: 'mail',
    email: address,
    servers: [{ endpoint, login: { username, password, describe: master ? `master user ${master} for ${flags.username}` : username } }],
    trustedCaPem,
    timeoutMs: flags.timeout * 1000,
  };
}

/** The private key and the certificate of a PEM file, checked enough to say what is missing before anything connects. */
function readCertificateFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--certificate ${path} cannot be read: ${(error as Error).message}`);
  }
  if (!/-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/.test(pem)) {
    throw new UsageError(
      `--certificate ${path} holds no unencrypted private key (-----BEGIN PRIVATE KEY-----): it needs the private key and the certificate, as one PEM` +
        (/ENCRYPTED PRIVATE KEY/.test(pem) ? '; remove the passphrase (openssl pkey -in key.pem -out plain.pem)' : ''),
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) throw new UsageError(`--certificate ${path} holds no certificate (-----BEGIN CERTIFICATE-----): add the certificate uploaded to the app registration`);
  return pem;
}

/** The Exchange Online target from the flags, the client secret from stdin or the terminal (or the certificate file). */
async function graphTargetFrom(flags: GraphFlags, io: AnalyzeIo): Promise<GraphTarget> {
  if (flags.clientSecret !== undefined) {
    throw new UsageError(
      'a client secret is never taken on the command line (it would stay in the shell history and show in the process list): ' +
        'pipe it in with --client-secret-stdin, or leave both out to be asked for it on a terminal',
    );
  }
  if (flags.certificate !== undefined && flags.clientSecretStdin) throw new UsageError('give --client-secret-stdin or --certificate, not both: the app signs in with one of them');
  if (flags.caFile !== undefined && flags.ca !== undefined && flags.caFile !== flags.ca) throw new UsageError('give --ca-file once (--ca is the same option)');
  const trustedCaPem = readCaFile(flags.caFile ?? flags.ca);
  const certificatePem = flags.certificate !== undefined ? readCertificateFile(flags.certificate) : null;
  const clientSecret = certificatePem
    ? null
    : await readSecret({ fromStdin: flags.clientSecretStdin, flag: '--client-secret-stdin', what: 'client secret', prompt: `Client secret (its Value) of app ${flags.clientId}` }, io);
  return {
    kind: 'graph',
    email: flags.email,
    tenantId: flags.tenant,
    clientId: flags.clientId,
    clientSecret,
    certificatePem,
    authority: flags.authority ?? defaultAuthority(flags.tenant),
    graphUrl: flags.graphUrl ?? GRAPH_DEFAULT_URL,
    trustedCaPem,
    resolve: flags.resolve,
    timeoutMs: flags.timeout * 1000,
    directions: flags.direction === 'both' ? ['incoming', 'outgoing'] : [flags.direction],
  };
}

/** The target from the flags, the password from stdin or the terminal; UsageError for what is wrong. */
async function targetFrom(flags: ExchangeFlags, io: AnalyzeIo): Promise<ExchangeTarget> {
  refusePasswordFlag(flags);
  if (flags.impersonate && flags.impersonate.toLowerCase() !== flags.email.toLowerCase()) {
    throw new UsageError(
      `--impersonate ${flags.impersonate} differs from --email ${flags.email}: Liaison opens the mailbox it impersonates, as a profile's ` +
        'Test Connection does, so give that address as --email (and leave --impersonate out)',
    );
  }
  const trustedCaPem = readCaFile(flags.caFile);
  const password = await readPassword(flags, io);
  return {
    kind: 'exchange',
    email: flags.impersonate ?? flags.email,
    username: flags.username,
    password,
    auth: flags.auth,
    url: flags.url ?? null,
    autodiscover: flags.url === undefined,
    trustedCaPem,
    resolve: flags.resolve,
    timeoutMs: flags.timeout * 1000,
    maxConcurrentConnections: PROFILE_LIMITS.maxConcurrentConnections.default,
  };
}

const MAX_PASSWORD_BYTES = 4096;

async function readPassword(flags: { passwordStdin: boolean; username: string }, io: AnalyzeIo): Promise<string> {
  return readSecret({ fromStdin: flags.passwordStdin, flag: '--password-stdin', what: 'password', prompt: `Password for ${flags.username}` }, io);
}

/** A password or client secret: one line from stdin, or typed (hidden) on a terminal. */
async function readSecret(how: { fromStdin: boolean; flag: string; what: string; prompt: string }, io: AnalyzeIo): Promise<string> {
  if (how.fromStdin) {
    if (io.stdin.isTTY) io.stderr.write(`${how.prompt} (then Enter and Ctrl-D): `);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of io.stdin) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += bytes.length;
      // A password is a line, not a file: a mistaken pipe is stopped instead of read into memory whole.
      if (size > MAX_PASSWORD_BYTES) throw new UsageError(`standard input holds more than ${MAX_PASSWORD_BYTES} bytes; ${how.flag} reads one line, the ${how.what}`);
      chunks.push(bytes);
    }
    const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (secret === '') throw new UsageError(`${how.flag} was given, but standard input held no ${how.what}`);
    return secret;
  }
  if (!io.stdin.isTTY || !io.stdin.setRawMode) {
    throw new UsageError(`no ${how.what}: standard input is not a terminal to ask on, so pipe the ${how.what} in with ${how.flag}`);
  }
  return promptHidden(io, `${how.prompt}: `, how.what);
}

/** Asks on the terminal without echoing what is typed. */
function promptHidden(io: AnalyzeIo, prompt: string, what = 'password'): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (error: Error | null) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (data: Buffer | string) => {
      for (const char of data.toString()) {
        if (char === '\r' || char === '\n') return done(typed === '' ? new UsageError(`no ${what} was typed`) : null);
        if (char === '\u0003' || char === '\u0004') return done(new UsageError(`cancelled at the ${what} prompt`));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (char >= ' ') typed += char;
      }
    };
    stdin.setRawMode!(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** Colour on a terminal, unless NO_COLOR is set (no-color.org: any non-empty value). */
function colourOn(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * The server is hostile input: what it sent reaches the terminal without control characters (an escape
 * sequence in a header could rewrite the screen), each shown as \xNN.
 */
function clean(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    const control = (code < 0x20 && char !== '\t' && char !== '\n') || (code >= 0x7f && code <= 0x9f);
    out += control ? `\\x${code.toString(16).padStart(2, '0')}` : char;
  }
  return out;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Renders the steps: a spinner with elapsed time on a terminal, plain lines otherwise; the outcome of each. */
class StepRenderer {
  private spinner: NodeJS.Timeout | null = null;
  private readonly printed = new Set<StepName>();
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly colour: boolean,
    /** The test's steps in order: what numbers them. */
    private readonly order: readonly StepName[],
  ) {
    this.tty = Boolean(out.isTTY);
  }

  private paint(code: string, text: string): string {
    return this.colour ? `\u001b[${code}m${text}\u001b[0m` : text;
  }

  header(line: string, resolve: readonly string[]): void {
    this.out.write(`${line}\n`);
    if (resolve.length > 0) this.out.write(this.paint('2', `Resolving without DNS: ${resolve.join(', ')}\n`));
  }

  event(event: StepEvent): void {
    if (event.type === 'start') this.start(event.step, event.title);
    else this.end(event.result);
  }

  private number(step: StepName): number {
    return this.order.indexOf(step) + 1;
  }

  private start(step: StepName, title: string): void {
    this.stop();
    const label = `${this.number(step)}. ${title}`;
    if (!this.tty) {
      this.out.write(`… ${label}\n`);
      return;
    }
    const started = Date.now();
    let frame = 0;
    const draw = () => {
      this.out.write(`\r\u001b[2K${this.paint('36', SPINNER[frame++ % SPINNER.length]!)} ${label} ${this.paint('2', seconds(Date.now() - started))}`);
    };
    draw();
    this.spinner = setInterval(draw, 80);
    this.spinner.unref();
  }

  /** Ends the spinner line, if one is showing. */
  stop(): void {
    if (this.spinner) {
      clearInterval(this.spinner);
      this.spinner = null;
      this.out.write('\r\u001b[2K');
    }
  }

  private end(result: StepResult): void {
    this.stop();
    this.printed.add(result.step);
    const label = `${this.number(result.step)}. ${result.title}`;
    const summary = clean(result.summary);
    if (result.status === 'success') {
      this.out.write(`${this.paint('32', '✓')} ${label} ${this.paint('2', `(${seconds(result.elapsedMs)})`)}: ${summary}\n`);
    } else if (result.status === 'skipped') {
      this.out.write(this.paint('2', `○ ${label}: skipped: ${summary}`) + '\n');
    } else {
      this.out.write(`${this.paint('31', '✗')} ${this.paint('1', label)} ${this.paint('2', `(${seconds(result.elapsedMs)})`)}: ${summary}\n`);
      this.failure(result);
    }
  }

  private failure(result: StepResult): void {
    const block = (name: string, lines: string[], code = '') => {
      lines.forEach((line, index) => {
        const head = index === 0 ? this.paint('2', name.padEnd(9)) : ' '.repeat(9);
        this.out.write(`    ${head} ${code ? this.paint(code, clean(line)) : clean(line)}\n`);
      });
    };
    if (result.request) block('request', [`${result.request.method} ${result.request.url}`]);
    const answer = result.serverAnswer;
    if (answer) {
      // An excerpt may run over several lines: each is shown, up to a screenful.
      const lines = serverAnswerLines(answer).flatMap((line) => line.split(/\r?\n/)).slice(0, 20);
      if (lines.length > 0) block('answer', lines);
    }
    if (result.details && result.details.length > 0) block('details', result.details);
    if (result.fix) block('fix', [result.fix], '33');
    if (result.code) block('code', [result.code], '2');
  }

  finish(result: ConnectionTestResult): void {
    this.stop();
    // A step whose end was not announced (or a service that announces nothing) is shown from the result.
    for (const step of result.steps) if (!this.printed.has(step.step)) this.end(step);
    const failed = result.steps.find((s) => s.status === 'failure');
    const total = seconds(result.elapsedMs);
    if (failed) {
      this.out.write(`${this.paint('31', 'Failed')} at step ${this.number(failed.step)} (${failed.title}), after ${total}.\n`);
    } else {
      const passed = result.steps.filter((s) => s.status === 'success').length;
      this.out.write(`${this.paint('32', 'Passed')}: ${passed} of ${result.steps.length} steps in ${total}${result.ewsUrl ? `; EWS ${clean(result.ewsUrl)}` : ''}.\n`);
    }
  }
}
