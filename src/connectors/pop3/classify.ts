/**
 * What an error of the POP3 client means for the engine (ClassifiedError):
 *
 * - RFC 2449 §8 and RFC 3206 response codes first, whatever the command: [IN-USE] (the mailbox is locked by
 *   another session), [LOGIN-DELAY] and [SYS/TEMP] are transient; [SYS/PERM] is permanent.
 * - permanent: a refused login (the -ERR text and the fix: the password, or a master user the server does not
 *   allow), no UIDL (Liaison could not tell new mail from old), no STLS, a certificate that does not verify, a
 *   message over the size limit.
 * - transient: timeouts, resets, closed connections, refused connections, protocol errors, and any other -ERR.
 *
 * Returns null for errors the POP3 client did not raise, so that the connector can read them its own way.
 */
import type { ClassifiedError, FailureKind } from '../connector.js';
import { TrustedCaError } from '../../net/tls.js';
import { Pop3Error } from './client.js';

const SERVER_RESPONSE_CHARS = 2000;

function result(kind: FailureKind, code: string, message: string, error: Pop3Error, fix: string | null = null): ClassifiedError {
  return { kind, code, message, serverResponse: error.response === null ? null : error.response.slice(0, SERVER_RESPONSE_CHARS), fix, backOffMs: null };
}

const TLS_FIX = 'Install a certificate from a trusted CA on the server, or add the issuing CA to the profile (trustedCaPem / --ca-file). Liaison never turns verification off.';

function classifyTls(error: Pop3Error): ClassifiedError {
  const failure = error.tlsFailure;
  if (!failure) {
    // No certificate to blame: the trusted CA PEM is unreadable, or the port does not speak TLS as configured.
    if (error.cause instanceof TrustedCaError) {
      return result('permanent', 'pop3.trusted-ca', error.message, error, "Correct the profile's trusted CA certificates (PEM, CERTIFICATE blocks only)");
    }
    return result('permanent', 'pop3.tls-handshake', `TLS could not be set up with ${error.server}: ${error.message}`, error, 'Check the port and its TLS mode: 995 (pop3s) speaks TLS from the first byte, 110 starts with STLS');
  }
  const code = failure.code;
  if (/ALTNAME|HOSTNAME_MISMATCH/i.test(code)) {
    const names = failure.failure.names?.join(', ') || 'no names';
    return result('permanent', 'pop3.tls-name-mismatch', failure.message, error, `Use the host name the certificate is issued for (${names}), or install a certificate that names the host the profile uses`);
  }
  if (/EXPIRED|NOT_YET_VALID/i.test(code)) {
    return result('permanent', 'pop3.tls-expired', failure.message, error, 'Renew the server certificate (or check the clock of this machine)');
  }
  return result('permanent', 'pop3.tls-untrusted', failure.message, error, TLS_FIX);
}

/** Classifies an error of the POP3 client; null for anything else. Never throws. */
export function classifyPop3Error(error: unknown): ClassifiedError | null {
  if (!(error instanceof Pop3Error)) return null;
  try {
    switch (error.responseCode) {
      case 'IN-USE':
        return result('transient', 'pop3.in-use', `${error.server}: the mailbox is in use by another POP3 session (it is locked); Liaison tries again later`, error);
      case 'LOGIN-DELAY':
        return result('transient', 'pop3.login-delay', `${error.server} allows logins to this mailbox only so often; Liaison tries again later`, error);
      case 'SYS/TEMP':
        return result('transient', 'pop3.sys-temp', `${error.server} reports a temporary problem: ${error.response}`, error);
      case 'SYS/PERM':
        return result('permanent', 'pop3.sys-perm', `${error.server} reports a permanent problem: ${error.response}`, error, "Look at the server's log for this mailbox: the server says retrying will not help");
    }
    switch (error.kind) {
      case 'auth': {
        const login = error.username;
        const master = login !== null && login.includes('*');
        return result(
          'permanent',
          'pop3.auth',
          `${error.server} refused the login${login ? ` ${login}` : ''}: ${error.response ?? error.message}`,
          error,
          master
            ? 'Check the master user\'s password; check that the server allows the master user to log in as the mailbox ("address*master": Dovecot needs a passdb with master = yes and auth_master_user_separator = *), and that the mailbox exists'
            : "Check the user name and password (the mailbox's own login, or the profile's master user as address*master: Dovecot's passdb with master = yes)",
        );
      }
      case 'no-uidl':
        return result(
          'permanent',
          'pop3.no-uidl',
          `${error.server} does not support UIDL: Liaison could not tell new mail from old`,
          error,
          'The server must support UIDL (RFC 1939 unique ids); enable it, or use IMAP for this mailbox',
        );
      case 'no-stls':
        return result(
          'permanent',
          'pop3.no-stls',
          `${error.server} does not offer STLS: Liaison does not send a password without TLS`,
          error,
          'Enable TLS on the server (Dovecot: ssl = yes with a certificate), or use port 995 (pop3s, TLS from the first byte)',
        );
      case 'tls':
        return classifyTls(error);
      case 'too-large':
        return result('permanent', 'pop3.too-large', error.message, error, 'Raise the size limit, or remove the message from the mailbox with another client');
      case 'network': {
        const code =
          error.networkCode === 'ETIMEDOUT'
            ? 'pop3.timeout'
            : error.networkCode === 'DEADLINE'
              ? 'pop3.deadline'
              : error.networkCode === 'CLOSED'
                ? 'pop3.closed'
                : `pop3.network.${error.networkCode ?? 'error'}`;
        return result('transient', code, error.message, error);
      }
      case 'protocol':
        return result('transient', 'pop3.protocol', error.message, error);
      case 'server':
        if (error.phase === 'stls') {
          return result('permanent', 'pop3.stls-refused', `${error.server} offers STLS but refused it: ${error.response}`, error, "Check the server's TLS configuration (its certificate and key) and its log");
        }
        return result('transient', `pop3.err.${error.phase}`, error.message, error);
    }
  } catch (failure) {
    return { kind: 'transient', code: 'unknown', message: `a POP3 error that could not be read (${(failure as Error)?.message ?? String(failure)})`, serverResponse: null, fix: null, backOffMs: null };
  }
}
