import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { applyProfileChange, normalizeProfile, parseMailServer, type ProfileInput } from '../../src/domain/profile.js';

const NO_SECRETS = { password: false, outgoingPassword: false, clientSecret: false };
const WITH_PASSWORD = { ...NO_SECRETS, password: true };
const OWNER = '01a21a44-906d-74ea-9e4d-83db8e29b2e6';

function problemsOf(input: ProfileInput, secrets = NO_SECRETS) {
  try {
    normalizeProfile(input, secrets);
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected the profile to be refused');
}

const exchange: ProfileInput = {
  name: 'Contoso Exchange',
  serverType: 'exchange',
  autodiscover: false,
  incomingServer: 'https://mail.contoso.com/EWS/Exchange.asmx',
  username: 'svc-crm@contoso.com',
  ownerId: OWNER,
};

describe('email server profile rules', () => {
  test('an Exchange URL that is not https is refused, naming https', () => {
    const problems = problemsOf({ ...exchange, incomingServer: 'http://mail.contoso.com/EWS/Exchange.asmx' }, WITH_PASSWORD);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.field, 'incomingServer');
    assert.match(problems[0]!.message, /must start with https/);
  });

  test('Exchange with Autodiscover off needs the EWS URL', () => {
    const problems = problemsOf({ ...exchange, incomingServer: null }, WITH_PASSWORD);
    assert.deepEqual(problems.map((p) => p.field), ['incomingServer']);
    assert.match(problems[0]!.message, /Autodiscover is off/);
  });

  test('Exchange with Autodiscover on needs no URL; ports default to 443', () => {
    const saved = normalizeProfile({ ...exchange, autodiscover: true, incomingServer: null }, WITH_PASSWORD);
    assert.equal(saved.autodiscover, true);
    assert.equal(saved.incomingPort, 443);
    assert.equal(saved.outgoingPort, 443);
  });

  test('defaults and ports are filled in on save', () => {
    const saved = normalizeProfile(exchange, WITH_PASSWORD);
    assert.equal(saved.incomingPort, 443);
    assert.equal(saved.outgoingServer, exchange.incomingServer, 'EWS sends through the URL it reads from');
    assert.equal(saved.outgoingPort, 443);
    assert.equal(saved.maxConcurrentConnections, 27);
    assert.equal(saved.minPollingIntervalMinutes, 0);
    assert.equal(saved.moveFailedToUndeliverable, false);
    assert.equal(saved.notifyOwnerOnFailure, false);
    assert.equal(saved.processEmailFrom, null);
    assert.equal(saved.useSameSettingsForOutgoing, true);
  });

  test('a port in the URL is the port; a port field that disagrees is refused', () => {
    assert.equal(normalizeProfile({ ...exchange, incomingServer: 'https://mail.contoso.com:8443/EWS/Exchange.asmx' }, WITH_PASSWORD).incomingPort, 8443);
    const problems = problemsOf({ ...exchange, incomingPort: 444 }, WITH_PASSWORD);
    assert.deepEqual(problems.map((p) => p.field), ['incomingPort']);
  });

  test('IMAP and POP3 ports come from the type, the scheme or the host', () => {
    const base = { name: 'm', ownerId: OWNER, outgoingServer: 'smtp.example.com' };
    assert.equal(normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'imap.example.com' }, NO_SECRETS).incomingPort, 993);
    assert.equal(normalizeProfile({ ...base, serverType: 'pop3-smtp', incomingServer: 'pop.example.com' }, NO_SECRETS).incomingPort, 995);
    assert.equal(normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'imap://imap.example.com' }, NO_SECRETS).incomingPort, 143);
    assert.equal(normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'imap.example.com:1993' }, NO_SECRETS).incomingPort, 1993);
    const smtp = normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'imap.example.com' }, NO_SECRETS);
    assert.equal(smtp.outgoingPort, 587);
    assert.equal(normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'i.example.com', outgoingServer: 'smtps://s.example.com' }, NO_SECRETS).outgoingPort, 465);
    assert.equal(normalizeProfile({ ...base, serverType: 'imap-smtp', incomingServer: 'i.example.com', outgoingPort: 2525 }, NO_SECRETS).outgoingPort, 2525);
  });

  test('a scheme of the wrong protocol is refused', () => {
    const problems = problemsOf({ name: 'm', ownerId: OWNER, serverType: 'imap-smtp', incomingServer: 'pop3s://pop.example.com', outgoingServer: 'smtp.example.com' });
    assert.deepEqual(problems.map((p) => p.field), ['incomingServer']);
    assert.match(problems[0]!.message, /POP3 address/);
  });

  test('limits: maximum concurrent connections 1-300, polling 0-1440 minutes', () => {
    assert.deepEqual(problemsOf({ ...exchange, maxConcurrentConnections: 301 }, WITH_PASSWORD).map((p) => p.field), ['maxConcurrentConnections']);
    assert.deepEqual(problemsOf({ ...exchange, maxConcurrentConnections: 0 }, WITH_PASSWORD).map((p) => p.field), ['maxConcurrentConnections']);
    assert.deepEqual(problemsOf({ ...exchange, minPollingIntervalMinutes: 1441 }, WITH_PASSWORD).map((p) => p.field), ['minPollingIntervalMinutes']);
    assert.equal(normalizeProfile({ ...exchange, maxConcurrentConnections: 300, minPollingIntervalMinutes: 1440 }, WITH_PASSWORD).maxConcurrentConnections, 300);
  });

  test('every mistake is reported at once', () => {
    const problems = problemsOf({ name: '', serverType: 'exchange', autodiscover: false, maxConcurrentConnections: 400, ownerId: OWNER });
    assert.deepEqual(problems.map((p) => p.field).sort(), ['incomingServer', 'maxConcurrentConnections', 'name', 'password', 'username']);
  });

  test('Exchange needs a service account in UPN or DOMAIN\\user form', () => {
    assert.deepEqual(problemsOf({ ...exchange, username: 'just-a-name' }, WITH_PASSWORD).map((p) => p.field), ['username']);
    assert.equal(normalizeProfile({ ...exchange, username: 'CONTOSO\\svc-crm' }, WITH_PASSWORD).username, 'CONTOSO\\svc-crm');
  });

  test('Exchange Online needs tenant, client id and secret, and defaults to the Graph endpoint', () => {
    const online = { name: 'EXO', serverType: 'exchange-online' as const, ownerId: OWNER };
    assert.deepEqual(problemsOf(online).map((p) => p.field).sort(), ['clientId', 'clientSecret', 'tenantId']);
    const saved = normalizeProfile(
      { ...online, tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555' },
      { ...NO_SECRETS, clientSecret: true },
    );
    assert.equal(saved.incomingServer, 'https://graph.microsoft.com');
    assert.equal(saved.incomingPort, 443);
    assert.equal(saved.autodiscover, false);
  });

  test('fields of another server type are refused', () => {
    const problems = problemsOf({ ...exchange, tenantId: 'contoso.onmicrosoft.com' }, WITH_PASSWORD);
    assert.deepEqual(problems.map((p) => p.field), ['tenantId']);
  });

  test('POP3 cannot move failed email to a folder', () => {
    const problems = problemsOf({
      name: 'p', ownerId: OWNER, serverType: 'pop3-smtp', incomingServer: 'pop.example.com', outgoingServer: 'smtp.example.com', moveFailedToUndeliverable: true,
    });
    assert.deepEqual(problems.map((p) => p.field), ['moveFailedToUndeliverable']);
  });

  test('a trusted CA that is not a certificate is refused', () => {
    assert.deepEqual(problemsOf({ ...exchange, trustedCaPem: 'not a pem' }, WITH_PASSWORD).map((p) => p.field), ['trustedCaPem']);
    assert.deepEqual(
      problemsOf({ ...exchange, trustedCaPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }, WITH_PASSWORD).map((p) => p.field),
      ['trustedCaPem'],
    );
  });

  test('Process Email From is stored as UTC ISO text; nonsense is refused', () => {
    assert.equal(normalizeProfile({ ...exchange, processEmailFrom: '2026-01-31T10:00:00+02:00' }, WITH_PASSWORD).processEmailFrom, '2026-01-31T08:00:00.000Z');
    assert.deepEqual(problemsOf({ ...exchange, processEmailFrom: 'yesterday' }, WITH_PASSWORD).map((p) => p.field), ['processEmailFrom']);
  });
});

describe('authentication and the request timeout', () => {
  test('Exchange profiles sign in with Basic unless told NTLM; other types have no authentication setting', () => {
    assert.equal(normalizeProfile(exchange, WITH_PASSWORD).authentication, 'basic');
    assert.equal(normalizeProfile({ ...exchange, authentication: 'ntlm' }, WITH_PASSWORD).authentication, 'ntlm');
    const imap = { name: 'm', ownerId: OWNER, serverType: 'imap-smtp', incomingServer: 'imap.example.com', outgoingServer: 'smtp.example.com' } as const;
    assert.equal(normalizeProfile(imap, NO_SECRETS).authentication, null);
    const problems = problemsOf({ ...imap, authentication: 'ntlm' });
    assert.deepEqual(problems.map((p) => p.field), ['authentication']);
    assert.match(problems[0]!.message, /does not apply to imap-smtp/);
    assert.deepEqual(problemsOf({ ...exchange, authentication: 'kerberos' as never }, WITH_PASSWORD).map((p) => p.field), ['authentication']);
  });

  test('the request timeout is 1 to 100 seconds, 100 by default, for every server type', () => {
    assert.equal(normalizeProfile(exchange, WITH_PASSWORD).requestTimeoutSeconds, 100);
    assert.equal(normalizeProfile({ ...exchange, requestTimeoutSeconds: 1 }, WITH_PASSWORD).requestTimeoutSeconds, 1);
    for (const bad of [0, 101, 2.5]) {
      const problems = problemsOf({ ...exchange, requestTimeoutSeconds: bad }, WITH_PASSWORD);
      assert.deepEqual(problems.map((p) => p.field), ['requestTimeoutSeconds'], String(bad));
      assert.match(problems[0]!.message, /1 to 100 seconds/);
    }
    const pop = { name: 'p', ownerId: OWNER, serverType: 'pop3-smtp', incomingServer: 'pop.example.com', outgoingServer: 'smtp.example.com' } as const;
    assert.equal(normalizeProfile({ ...pop, requestTimeoutSeconds: 30 }, NO_SECRETS).requestTimeoutSeconds, 30);
  });

  test('switching an NTLM Exchange profile to IMAP drops NTLM; switching back starts at Basic', () => {
    const ntlm = normalizeProfile({ ...exchange, authentication: 'ntlm' }, WITH_PASSWORD);
    const imap = normalizeProfile(applyProfileChange(ntlm, { serverType: 'imap-smtp', incomingServer: 'imap.example.com', outgoingServer: 'smtp.example.com', username: null }), WITH_PASSWORD);
    assert.equal(imap.authentication, null);
    const back = normalizeProfile(applyProfileChange(imap, { serverType: 'exchange', username: 'svc@contoso.com' }), WITH_PASSWORD);
    assert.equal(back.authentication, 'basic');
  });
});

describe('changing a profile', () => {
  const saved = normalizeProfile({ name: 'm', ownerId: OWNER, serverType: 'imap-smtp', incomingServer: 'imap.example.com', outgoingServer: 'smtp.example.com' }, NO_SECRETS);

  test('a port filled in from the old type is derived again for the new one', () => {
    const next = normalizeProfile(applyProfileChange(saved, { serverType: 'pop3-smtp', incomingServer: 'pop.example.com' }), NO_SECRETS);
    assert.equal(next.incomingPort, 995);
  });

  test('a port the change does not touch stays', () => {
    const next = normalizeProfile(applyProfileChange(saved, { name: 'renamed' }), NO_SECRETS);
    assert.equal(next.incomingPort, 993);
    assert.equal(next.name, 'renamed');
  });

  test('switching to Exchange drops the mail hosts and turns Autodiscover on', () => {
    const next = normalizeProfile(applyProfileChange(saved, { serverType: 'exchange', username: 'svc@contoso.com' }), WITH_PASSWORD);
    assert.equal(next.autodiscover, true);
    assert.equal(next.incomingServer, null);
    assert.equal(next.incomingPort, 443);
  });
});

describe('mail server locations', () => {
  test('reads host, host:port, [v6]:port and scheme://host:port', () => {
    assert.deepEqual(parseMailServer('imap.example.com'), { scheme: null, host: 'imap.example.com', port: null });
    assert.deepEqual(parseMailServer('127.0.0.1:1143'), { scheme: null, host: '127.0.0.1', port: 1143 });
    assert.deepEqual(parseMailServer('[::1]:993'), { scheme: null, host: '::1', port: 993 });
    assert.deepEqual(parseMailServer('imaps://mail.example.com:10993/'), { scheme: 'imaps', host: 'mail.example.com', port: 10993 });
  });
  test('refuses what is not a host', () => {
    for (const bad of ['https://x.example.com', 'user@host', 'host/path', 'host:99999', 'bad_host!']) {
      assert.equal(typeof parseMailServer(bad), 'string', bad);
    }
  });
});
