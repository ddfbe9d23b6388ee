/**
 * Test Connection, Test & Enable and the connectivity analyzer for IMAP, POP3 and SMTP servers, in the three steps
 * of the seed documents, for each server of the target:
 *   1. Server connection (DNS, TCP, TLS): the host resolves, the port accepts, TLS verifies (implicit, or STARTTLS
 *      after the capabilities say it is offered), the server greets.
 *   2. Protocol and login: the capabilities (IMAP CAPABILITY, POP3 CAPA, SMTP EHLO) and AUTH methods, the login.
 *   3. Mailbox connection: IMAP EXAMINE INBOX; POP3 STAT and UIDL; SMTP MAIL FROM for the address, then RSET.
 * An IMAP/SMTP or POP3/SMTP profile's test runs them for the incoming server, then for the outgoing one: six steps,
 * titled "IMAP: …" and "SMTP: …" and marked with their protocol. The outgoing server is tested even when the
 * incoming one failed, so one run says what is wrong with both.
 *
 * A failing step carries the command the server answered, the server's own reply line verbatim, the likely fix and
 * a stable code; its details hold the dialogue of the step, passwords replaced.
 */
import { describeEndpoint, type MailEndpoint, type MailProtocol } from '../connectors/mail/endpoint.js';
import { TransportError } from '../connectors/ews/transport/types.js';
import { trustedCas } from '../net/tls.js';
import { explainTransportError, type Diagnosis } from './explain.js';
import { DialogueError, openDialogue, type AnyDialogue, type Capabilities, type ServerReply } from './mail-dialogue.js';
import type { MailboxTestOptions, MailboxTestResult, MailServerTarget, MailTarget, TargetDiagnostics } from './service.js';
import { runStep, skipped, type Emit, type StepLabel, type StepOutcome } from './steps.js';
import { STEP_TITLES, type ConnectionTestResult, type StepName, type StepResult } from './types.js';

const PROTOCOL_NAMES: Record<MailProtocol, string> = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' };

/** The usual ports: what a fix suggests when a port is closed or speaks the other TLS mode. */
const USUAL_PORTS: Record<MailProtocol, { implicit: number; starttls: number; scheme: string }> = {
  imap: { implicit: 993, starttls: 143, scheme: 'imap' },
  pop3: { implicit: 995, starttls: 110, scheme: 'pop3' },
  smtp: { implicit: 465, starttls: 587, scheme: 'smtp' },
};

/** "IMAP: Server connection (DNS, TCP, TLS)": a mail step's title names its protocol. */
export function mailStepLabel(protocol: MailProtocol, step: StepName): StepLabel {
  return { title: `${PROTOCOL_NAMES[protocol]}: ${STEP_TITLES[step]}`, protocol };
}

/** imaps://mail.example.com:993, as a step's request shows the server. */
export function endpointUrl(endpoint: MailEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${endpoint.protocol}${endpoint.tls === 'implicit' ? 's' : ''}://${host}:${endpoint.port}`;
}

/** What one server's steps share: the dialogue once open, the capabilities once read, where the step's lines begin. */
interface Session {
  server: MailServerTarget;
  target: MailTarget;
  dialogue?: AnyDialogue;
  capabilities?: Capabilities;
  /** False once the connection is in doubt (a timeout, a close): the goodbye is skipped. */
  healthy: boolean;
  /** Index in the transcript where the running step began. */
  mark: number;
}

const MAX_DETAIL_LINES = 60;

/** The dialogue of the running step, for a failure's details: what was said, passwords already replaced. */
function stepDialogue(session: Session): string[] {
  const lines = session.dialogue?.transcript.slice(session.mark) ?? [];
  return lines.length > MAX_DETAIL_LINES ? [...lines.slice(0, MAX_DETAIL_LINES), `… ${lines.length - MAX_DETAIL_LINES} more lines`] : [...lines];
}

function lastCommand(session: Session): string | undefined {
  const transcript = session.dialogue?.transcript ?? [];
  for (let i = transcript.length - 1; i >= session.mark; i -= 1) if (transcript[i]!.startsWith('C: ')) return transcript[i]!.slice(3);
  return undefined;
}

function answerOf(reply: ServerReply): Diagnosis['serverAnswer'] {
  return { messageText: reply.line, ...(reply.lines.length > 0 ? { excerpt: [...reply.lines, ...(reply.more ? [`… ${reply.more} more lines`] : [])].join('\n') } : {}) };
}

/** A failed step: the diagnosis, the command answered and the step's dialogue. */
function failure(session: Session, diagnosis: Diagnosis, command = lastCommand(session)): StepOutcome {
  const details = stepDialogue(session);
  return {
    status: 'failure',
    summary: '',
    ...(command ? { request: { method: command, url: endpointUrl(session.server.endpoint) } } : {}),
    diagnosis,
    ...(details.length > 0 ? { details } : {}),
  };
}

/** A failure of the reply itself: the server said no. */
function refused(session: Session, reply: ServerReply, diagnosis: Omit<Diagnosis, 'serverAnswer'>): StepOutcome {
  return failure(session, { ...diagnosis, serverAnswer: answerOf(reply) });
}

function where(endpoint: MailEndpoint): string {
  const via = endpoint.dialHost !== endpoint.host || endpoint.dialPort !== endpoint.port ? ` (dialled at ${endpoint.dialHost}:${endpoint.dialPort})` : '';
  return `${endpoint.host}:${endpoint.port}${via}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Below the protocol: DNS, TCP, TLS, a server that stopped answering. */
function explainDialogueError(error: DialogueError, session: Session, phase: 'connect' | 'greeting' | 'command'): Diagnosis {
  const { endpoint } = session.server;
  const name = PROTOCOL_NAMES[endpoint.protocol];
  const usual = USUAL_PORTS[endpoint.protocol];
  const code = error.details.code;
  switch (error.kind) {
    case 'dns':
      return {
        code: 'dns',
        summary: `The host name ${endpoint.dialHost} could not be found in DNS (${code ?? 'lookup failed'})`,
        fix: `Check the host name; test from this machine with nslookup ${endpoint.dialHost}; to test before DNS points at the server, use --resolve ${endpoint.host}:${endpoint.port}:<address>`,
      };
    case 'refused':
      return {
        code: 'port-closed',
        summary: `Nothing accepts connections on ${where(endpoint)}: the connection was refused`,
        fix:
          `Check the port: ${name} is usually on ${usual.implicit} (implicit TLS) or ${usual.starttls} (STARTTLS)${endpoint.protocol === 'smtp' ? '; 25 is for mail between servers, not for logins' : ''}. ` +
          `Check that the server runs and listens on ${endpoint.port}, and that no firewall rejects this machine`,
      };
    case 'connect-timeout':
      return {
        code: 'timeout',
        summary: `Connecting to ${where(endpoint)} timed out after ${seconds(Math.min(session.target.timeoutMs, 30_000))}`,
        fix: `A firewall probably drops the connection: open port ${endpoint.port} from this machine to ${endpoint.host}, and check the host and port`,
      };
    case 'connect':
      return { code: 'connect-failed', summary: error.message, fix: `Check the host and port, and the network between this machine and ${endpoint.host}` };
    case 'tls-verify': {
      const failed = error.details.tls!;
      const transport = new TransportError('tls', failed.message, { url: endpointUrl(endpoint), host: endpoint.host, port: endpoint.port, tls: failed.failure });
      // The same words as for Exchange: a certificate problem reads the same whatever the protocol.
      return explainTransportError(transport);
    }
    case 'tls-handshake':
      if (endpoint.tls === 'implicit' && /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|HTTP_REQUEST/i.test(code ?? '')) {
        return {
          code: 'tls-not-spoken',
          summary: `${where(endpoint)} does not speak TLS from the first byte (${code}): it answered in plain text, so it is probably a STARTTLS port`,
          fix: `Use STARTTLS for port ${endpoint.port} (${usual.scheme}:// in the profile, --starttls for liaison analyze), or the implicit-TLS port ${usual.implicit}`,
        };
      }
      return {
        code: 'tls-handshake-failed',
        summary: error.message,
        fix: 'Check the TLS configuration of the server: Liaison needs TLS 1.2 or later and a certificate; the server\'s log says why the handshake failed',
      };
    case 'timeout':
      if (phase === 'greeting' && endpoint.tls === 'starttls') {
        return {
          code: 'timeout',
          summary: `${where(endpoint)} accepted the connection but sent no greeting within ${seconds(session.target.timeoutMs)}`,
          fix: `The port may expect TLS from the first byte (implicit TLS, as ${usual.implicit} does): use ${usual.scheme}s:// in the profile, or leave out --starttls; else the server is overloaded`,
        };
      }
      return {
        code: 'timeout',
        summary: `${where(endpoint)} did not answer ${error.details.command ?? (phase === 'greeting' ? 'with a greeting' : 'in time')} within ${seconds(session.target.timeoutMs)}`,
        fix: "Check the server's load and its log; or raise the profile's request timeout (at most 100 s)",
      };
    case 'closed':
      return {
        code: 'connection-closed',
        summary: `${where(endpoint)} closed the connection${error.details.command ? ` after ${error.details.command}` : phase === 'greeting' ? ' before greeting' : ''}: ${error.message}`,
        fix: "The server ended the session; its log says why (often a limit of connections per user or per address, or a blocked address)",
      };
    case 'too-long':
      return { code: `not-${endpoint.protocol}`, summary: `${where(endpoint)} does not speak ${name}: ${error.message}`, fix: `Check the port: ${name} is usually on ${usual.implicit} or ${usual.starttls}` };
  }
}

/** What a greeting looks like in each protocol, to tell "refused" from "not this protocol at all". */
const GREETINGS: Record<MailProtocol, RegExp> = { imap: /^\* (OK|PREAUTH|BYE)\b/i, pop3: /^[+-](OK|ERR)\b/i, smtp: /^\d{3}[ -]?/ };

function protocolOfGreeting(line: string): MailProtocol | null {
  for (const protocol of Object.keys(GREETINGS) as MailProtocol[]) if (GREETINGS[protocol].test(line)) return protocol;
  return null;
}

async function serverStep(session: Session): Promise<StepOutcome> {
  const { endpoint } = session.server;
  const name = PROTOCOL_NAMES[endpoint.protocol];
  let phase: 'connect' | 'greeting' | 'command' = 'connect';
  try {
    session.dialogue = await openDialogue(endpoint, { trustedCaPem: session.target.trustedCaPem, timeoutMs: session.target.timeoutMs });
    const dialogue = session.dialogue;
    phase = 'greeting';
    const greeting = await dialogue.greeting();
    if (!greeting.ok) {
      const spoken = protocolOfGreeting(greeting.line);
      if (spoken !== endpoint.protocol) {
        return refused(session, greeting, {
          code: `not-${endpoint.protocol}`,
          summary: `${where(endpoint)} does not greet as an ${name} server${spoken ? ` (it greets as ${PROTOCOL_NAMES[spoken]})` : ''}`,
          fix: `Check the port: ${name} is usually on ${USUAL_PORTS[endpoint.protocol].implicit} (implicit TLS) or ${USUAL_PORTS[endpoint.protocol].starttls} (STARTTLS)`,
        });
      }
      return refused(session, greeting, {
        code: 'server-refused',
        summary: `${where(endpoint)} turned the connection away: ${greeting.line}`,
        fix: 'The server refused before any command (too many connections from this address, or this address is blocked); its reply and its log say why',
      });
    }
    phase = 'command';
    const details: string[] = [`greeting: ${greeting.line}`];
    let how = 'over verified TLS';
    if (endpoint.tls === 'starttls') {
      const verb = endpoint.protocol === 'pop3' ? 'STLS' : 'STARTTLS';
      const capabilities = await dialogue.capabilities();
      // A POP3 server that does not know CAPA may still know STLS: it is asked, and its answer decides.
      if (!capabilities.startTls && (capabilities.known || endpoint.protocol !== 'pop3')) {
        return refused(session, capabilities.reply, {
          code: 'starttls-missing',
          summary: `${where(endpoint)} does not offer ${verb}${capabilities.known ? ` (its capabilities: ${capabilities.list.join(' ') || 'none'})` : ''}`,
          fix:
            `Liaison never logs in without TLS. Enable TLS on this port (Dovecot: ssl = yes with ssl_cert and ssl_key; Postfix: smtpd_tls_security_level = may with smtpd_tls_cert_file and smtpd_tls_key_file), ` +
            `or use the implicit-TLS port ${USUAL_PORTS[endpoint.protocol].implicit} (${USUAL_PORTS[endpoint.protocol].scheme}s://)`,
        });
      }
      const started = await dialogue.startTls();
      if (!started.ok) {
        return refused(session, started, {
          code: capabilities.startTls ? 'starttls-failed' : 'starttls-missing',
          summary: capabilities.startTls ? `${where(endpoint)} offers ${verb} but refused to start it: ${started.line}` : `${where(endpoint)} does not offer ${verb}: ${started.line}`,
          fix: capabilities.startTls
            ? "The server could not start TLS (often a missing or unreadable certificate on the server); its log says why"
            : `Liaison never logs in without TLS. Enable TLS on this port, or use the implicit-TLS port ${USUAL_PORTS[endpoint.protocol].implicit}`,
        });
      }
      how = `and started verified TLS with ${verb}`;
    }
    const tls = dialogue.tls;
    const certificate = tls?.certificate;
    if (certificate) details.push(`certificate: ${certificate.subject}, issued by ${certificate.issuer}, for ${certificate.subjectAltNames.join(', ') || 'no names'}, valid to ${certificate.validTo}`);
    if (tls) details.push(`TLS: ${tls.protocol}${tls.cipher ? `, ${tls.cipher}` : ''}`);
    if (dialogue.remote) details.push(`connected to ${dialogue.remote.address}:${dialogue.remote.port}`);
    return {
      status: 'success',
      summary: `Connected to ${describeEndpoint(endpoint)} ${how} (${tls?.protocol ?? 'TLS'}); the server greets: ${greeting.line}`,
      details,
    };
  } catch (error) {
    if (!(error instanceof DialogueError)) throw error;
    session.healthy = false;
    return failure(session, explainDialogueError(error, session, phase), error.details.command);
  }
}

/** The server's words for "not on a connection it thinks is plain text": Dovecot's, Postfix's, RFC 4954's 538. */
const PLAINTEXT_REFUSED = /PRIVACYREQUIRED|plaintext auth\w* (?:is )?(?:disallowed|not allowed)|not allowed until SSL\/TLS|must issue a STARTTLS|^538\b|5\.7\.11\b/i;
const TEMPORARY = /\[(?:UNAVAILABLE|SYS\/TEMP|IN-USE)\]|^4\d\d\b/i;

const PLAINTEXT_FIX =
  'The server does not see the TLS Liaison speaks to it: a proxy or load balancer in front of it ends TLS and passes the connection on in plain text. ' +
  'Let TLS pass through to the server, or tell the server which connections come through the proxy (Dovecot: haproxy_trusted_networks with the PROXY protocol, ' +
  'or login_trusted_networks); do not allow plain-text logins (disable_plaintext_auth = no) to get around it';

function loginFix(session: Session): string {
  const { login } = session.server;
  if (/^master user /.test(login.describe)) {
    return (
      `Check the master user's name and password in the profile (${login.describe}): it logs in as ${login.username}. ` +
      'On Dovecot the master user is in a passdb with master = yes, and the separator is auth_master_user_separator; the mailbox must exist'
    );
  }
  if (/own login/.test(login.describe)) return `Check ${login.describe}: its owner or an administrator sets it (PUT /api/v1/mailboxes/{id}/login). Make sure the account is not locked and its password not expired`;
  return `Check the user name and password of ${login.username}; make sure the account is not locked and its password not expired`;
}

async function loginStep(session: Session): Promise<StepOutcome> {
  const dialogue = session.dialogue!;
  const { endpoint, login } = session.server;
  const host = endpoint.host;
  try {
    const capabilities = await dialogue.capabilities();
    session.capabilities = capabilities;
    if (!capabilities.known && endpoint.protocol !== 'pop3') {
      return refused(session, capabilities.reply, {
        code: `not-${endpoint.protocol}`,
        summary: `${host} refused ${endpoint.protocol === 'imap' ? 'CAPABILITY' : 'EHLO'}: ${capabilities.reply.line}`,
        fix: `Check that ${where(endpoint)} is an ${PROTOCOL_NAMES[endpoint.protocol]} server; its log says why it refused`,
      });
    }
    if (capabilities.loginDisabled) {
      return refused(session, capabilities.reply, {
        code: 'plaintext-login-refused',
        summary: `${host} refuses logins on this connection (LOGINDISABLED), although Liaison speaks TLS to it; no password was sent`,
        fix: PLAINTEXT_FIX,
      });
    }
    if (endpoint.protocol === 'smtp' && !capabilities.auth.includes('PLAIN') && !capabilities.auth.includes('LOGIN')) {
      const none = capabilities.auth.length === 0;
      return refused(session, capabilities.reply, {
        code: none ? 'auth-not-offered' : 'auth-method-unsupported',
        summary: none
          ? `${where(endpoint)} offers no SMTP AUTH (EHLO lists ${capabilities.list.join(', ') || 'nothing'})`
          : `${where(endpoint)} offers SMTP AUTH ${capabilities.auth.join(' ')}, none of which Liaison speaks (PLAIN, LOGIN)`,
        fix: none
          ? capabilities.startTls
            ? 'The server still offers STARTTLS on a connection that is TLS already, so it does not see the TLS: a proxy or load balancer in front of it ends TLS. ' +
              'Let TLS pass through to the server; do not allow logins without TLS to get around it'
            : `This port takes no logins: it may be a port for mail between servers (25). Use the submission port 587 (STARTTLS) or 465 (implicit TLS), or enable AUTH on this port (Postfix: -o smtpd_sasl_auth_enable=yes in master.cf)`
          : 'Enable AUTH PLAIN or LOGIN on the server (over TLS they are safe)',
      });
    }
    // Step 2 is the protocol and the login: what ran before it (connect, greeting, STARTTLS) is step 1's.
    const attempt = await dialogue.login(login.username, login.password, capabilities);
    const offered = capabilities.auth.length > 0 ? capabilities.auth.join(', ') : 'none listed';
    if (attempt.reply.ok) {
      const details = [`capabilities: ${capabilities.list.join(' ') || '(none listed)'}`, `SASL mechanisms: ${offered}`, `logged in as ${login.describe}`];
      return { status: 'success', summary: `Logged in to ${host} as ${login.username} (${attempt.method}); AUTH methods offered: ${offered}`, details };
    }
    const line = [...attempt.reply.lines, attempt.reply.line].join('\n');
    if (PLAINTEXT_REFUSED.test(line)) {
      return refused(session, attempt.reply, {
        code: 'plaintext-login-refused',
        summary: `${host} refuses to log in on a connection it thinks is not secure, although Liaison speaks TLS to it: ${attempt.reply.line}`,
        fix: PLAINTEXT_FIX,
      });
    }
    if (/\[EXPIRED\]/i.test(line)) {
      return refused(session, attempt.reply, { code: 'password-expired', summary: `${host}: the password of ${login.username} has expired: ${attempt.reply.line}`, fix: `Set a new password for ${login.username}, then update it in Liaison` });
    }
    if (/\[AUTHORIZATIONFAILED\]/i.test(line)) {
      return refused(session, attempt.reply, {
        code: 'login-not-authorized',
        summary: `${host} accepted the credentials but ${login.username} may not open this mailbox: ${attempt.reply.line}`,
        fix: 'A master user must be allowed to log in for the mailbox (Dovecot: the master passdb, and pass = yes to check the user exists); the server\'s log says why',
      });
    }
    if (TEMPORARY.test(attempt.reply.line)) {
      return refused(session, attempt.reply, {
        code: 'login-unavailable',
        summary: `${host} could not check the login of ${login.username} just now: ${attempt.reply.line}`,
        fix: "A temporary failure on the server (its authentication back end); run the test again, and check the server's log if it repeats",
      });
    }
    return refused(session, attempt.reply, {
      code: 'bad-credentials',
      summary: `${host} refused the login of ${login.username} (${attempt.method}): ${attempt.reply.line}`,
      fix: loginFix(session),
    });
  } catch (error) {
    if (!(error instanceof DialogueError)) throw error;
    session.healthy = false;
    return failure(session, explainDialogueError(error, session, 'command'), error.details.command);
  }
}

async function mailboxStep(session: Session): Promise<StepOutcome> {
  const dialogue = session.dialogue!;
  const { endpoint, login } = session.server;
  const address = session.target.email;
  try {
    switch (dialogue.protocol) {
      case 'imap': {
        const inbox = await dialogue.examineInbox();
        if (!inbox.reply.ok) {
          return refused(session, inbox.reply, {
            code: 'mailbox-not-opened',
            summary: `${endpoint.host} logged ${login.username} in but did not open the Inbox: ${inbox.reply.line}`,
            fix: "The login works but the Inbox cannot be opened; the server's reply and its log say why (a master user not allowed for this mailbox, quota, a damaged mail store)",
          });
        }
        const facts = [
          inbox.exists !== undefined ? `${inbox.exists} messages` : null,
          inbox.uidValidity !== undefined ? `UIDVALIDITY ${inbox.uidValidity}` : null,
          inbox.uidNext !== undefined ? `next UID ${inbox.uidNext}` : null,
        ].filter(Boolean);
        return { status: 'success', summary: `Opened the Inbox of ${address} read-only (EXAMINE)${facts.length ? `: ${facts.join(', ')}` : ''}`, details: [`server: ${inbox.reply.line}`] };
      }
      case 'pop3': {
        const drop = await dialogue.maildrop();
        if (!drop.stat.ok) {
          return refused(session, drop.stat, {
            code: 'mailbox-not-opened',
            summary: `${endpoint.host} logged ${login.username} in but refused STAT: ${drop.stat.line}`,
            fix: "The login works but the maildrop cannot be read; the server's reply and its log say why",
          });
        }
        if (!drop.uidl?.ok) {
          return refused(session, drop.uidl ?? drop.stat, {
            code: 'pop3-no-uidl',
            summary: `${endpoint.host} does not support UIDL (${drop.uidl?.line ?? 'no answer'}): Liaison tracks POP3 mail by each message's UIDL and cannot tell new messages from seen ones without it`,
            fix: 'Turn on UIDL in the POP3 server (Dovecot, Courier and Exchange all have it), or use IMAP (an imap-smtp profile) for this mailbox',
          });
        }
        return {
          status: 'success',
          summary: `The maildrop of ${address} holds ${drop.messages ?? '?'} messages (${drop.octets ?? '?'} bytes); UIDL lists ${drop.uidlCount ?? 0}`,
          details: [`STAT: ${drop.stat.line}`],
        };
      }
      case 'smtp': {
        const sender = await dialogue.sender(address, session.capabilities!);
        if (!sender.mailFrom.ok) {
          const temporary = /^4/.test(sender.mailFrom.line);
          return refused(session, sender.mailFrom, {
            code: temporary ? 'sender-deferred' : 'sender-refused',
            summary: `${endpoint.host} does not take mail from ${address} ${temporary ? 'for now' : `from ${login.username}`}: ${sender.mailFrom.line}`,
            fix: temporary
              ? "The server refused for now (a limit, greylisting, its back end); run the test again later, and check the server's log if it repeats"
              : `Let ${login.username} send as ${address} on the server (Postfix: smtpd_sender_login_maps; Exchange: the Send As permission), or log in as that mailbox`,
          });
        }
        return {
          status: 'success',
          summary: `${endpoint.host} accepts ${address} as the sender (${sender.mailFrom.line}); reset with RSET, nothing was sent`,
          details: [`MAIL FROM:<${address}>: ${sender.mailFrom.line}`, ...(sender.rset ? [`RSET: ${sender.rset.line}`] : [])],
        };
      }
    }
  } catch (error) {
    if (!(error instanceof DialogueError)) throw error;
    session.healthy = false;
    return failure(session, explainDialogueError(error, session, 'command'), error.details.command);
  }
}

/**
 * The password never reaches a result: the dialogue never records it, and should a server repeat it in a reply
 * (as plain text or in its base64 forms), it is replaced there too.
 */
function scrubbed(outcome: StepOutcome, password: string): StepOutcome {
  if (password.length < 4) return outcome;
  const forms = [password, Buffer.from(password, 'utf8').toString('base64')];
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') return forms.reduce((text, form) => text.split(form).join('(password hidden)'), value);
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v)]));
    return value;
  };
  return clean(outcome) as StepOutcome;
}

const STEP_BODIES: Array<[StepName, (session: Session) => Promise<StepOutcome>]> = [
  ['server', serverStep],
  ['login', loginStep],
  ['mailbox', mailboxStep],
];

async function testServer(target: MailTarget, server: MailServerTarget, emit: Emit, steps: StepResult[], configurationProblem: string | null): Promise<void> {
  const protocol = server.endpoint.protocol;
  const label = (step: StepName) => mailStepLabel(protocol, step);
  const session: Session = { server, target, healthy: true, mark: 0 };
  let failed: StepResult | null = null;
  try {
    for (const [step, body] of STEP_BODIES) {
      if (failed) {
        steps.push(skipped(step, emit, `Not run: ${failed.title} failed`, label(step)));
        continue;
      }
      const result = await runStep(
        step,
        emit,
        async () => {
          if (configurationProblem) {
            return { status: 'failure', summary: '', diagnosis: { code: 'bad-configuration', summary: configurationProblem, fix: 'Correct the trusted CA certificate (PEM, one or more CERTIFICATE blocks)' } };
          }
          session.mark = session.dialogue?.transcript.length ?? 0;
          return scrubbed(await body(session), server.login.password);
        },
        label(step),
      );
      steps.push(result);
      if (result.status !== 'success') failed = result;
    }
  } finally {
    if (session.dialogue) {
      if (session.healthy) await session.dialogue.quit();
      else session.dialogue.close();
    }
  }
}

async function run(target: MailTarget, emit: Emit): Promise<MailboxTestResult> {
  const startedAt = new Date();
  const started = performance.now();
  let configurationProblem: string | null = null;
  try {
    trustedCas(target.trustedCaPem);
  } catch (error) {
    configurationProblem = (error as Error).message;
  }
  const steps: StepResult[] = [];
  for (const server of target.servers) await testServer(target, server, emit, steps, configurationProblem);
  return {
    status: steps.length > 0 && steps.every((s) => s.status === 'success') ? 'success' : 'failure',
    startedAt: startedAt.toISOString(),
    elapsedMs: Math.round(performance.now() - started),
    mailbox: target.email,
    steps,
  };
}

/**
 * The mail diagnostics. Test & Enable runs the same steps as Test Connection: the Undeliverable folder of an IMAP
 * mailbox is the connector's to create (with the folder names it finds), not the test's.
 */
export function createMailDiagnostics(): TargetDiagnostics<MailTarget> {
  return {
    testConnection: (target: MailTarget, onEvent?: Emit): Promise<ConnectionTestResult> => run(target, onEvent ?? (() => undefined)),
    testMailbox: (target: MailTarget, _options: MailboxTestOptions, onEvent?: Emit): Promise<MailboxTestResult> => run(target, onEvent ?? (() => undefined)),
  };
}
