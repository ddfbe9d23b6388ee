/**
 * Autodiscover against the sandbox (and a second sandbox standing for another organisation), every request the
 * connector sends checked against Microsoft's examples, and every Autodiscover answer in the reference fixtures
 * read, fixture by fixture.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type AutodiscoverAttempt,
  AutodiscoverError,
  type AutodiscoverResult,
  decodePoxServerVersion,
  discoverEwsUrl,
  type DiscoverOptions,
  readGetUserSettingsResponse,
  readPoxResponse,
  type SrvRecord,
} from '../../../src/connectors/ews/autodiscover/index.js';
import { AutodiscoverReadError } from '../../../src/connectors/ews/autodiscover/answer.js';
import { type Credentials, type HttpRequest, type HttpResponse, type HttpTransport, TransportError } from '../../../src/connectors/ews/transport/types.js';
import { NS } from '../../../src/xml/namespaces.js';
import { parseXml, type XmlElement } from '../../../src/xml/parse.js';
import { createServer } from 'node:net';
import { createHttpTransport } from '../../../src/connectors/ews/transport/http.js';
import { recording, type RecordingTransport as TransportDouble } from '../../helpers/recording-transport.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

const FIXTURES = '/work/shared/reference/exchange/fixtures';
const haveFixtures = (() => {
  try {
    return statSync(FIXTURES).isDirectory();
  } catch {
    return false;
  }
})();

/** The fixture files carry a provenance comment before the XML declaration; the document starts after it. */
function fixtureText(file: string): string {
  const text = readFileSync(path.join(FIXTURES, file), 'utf8');
  return text.startsWith('<!--') ? text.slice(text.indexOf('-->') + 3).replace(/^\s+/, '') : text;
}

/** An element tree as a shape string: `{ns}local[children]`, a run of the same element written once with `*`. */
function shape(e: XmlElement): string {
  const parts: string[] = [];
  for (const c of e.children) {
    const s = shape(c);
    if (parts[parts.length - 1] === s || parts[parts.length - 1] === `${s}*`) parts[parts.length - 1] = `${s}*`;
    else parts.push(s);
  }
  return `{${e.ns}}${e.local}${parts.length ? `[${parts.join(',')}]` : ''}`;
}

function find(e: XmlElement, local: string): XmlElement | undefined {
  if (e.local === local) return e;
  for (const c of e.children) {
    const f = find(c, local);
    if (f) return f;
  }
  return undefined;
}

// The docs' own requests, the reference for ours (request fixtures; namespaces normalized to http://).
const SOAP_EXAMPLES = ['ms-docs-examples/getusersettings-operation-soap__01.xml', 'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__02.xml'];
const POX_EXAMPLES = ['ms-docs-examples/pox-autodiscover-request-for-exchange__01.xml', 'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__04.xml'];

/** Checks one SOAP GetUserSettings request against the docs examples: same elements, namespaces, order, action. */
function checkSoapRequest(body: string, url: string, address: string): void {
  const doc = parseXml(body);
  for (const example of SOAP_EXAMPLES) assert.equal(shape(doc), shape(parseXml(fixtureText(example))), `the request has the shape of ${example}`);
  assert.equal(find(doc, 'Action')!.ns, NS.wsa);
  assert.equal(find(doc, 'Action')!.text, 'http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings');
  assert.equal(find(doc, 'To')!.text, url, 'wsa:To is the URL posted to');
  assert.equal(find(doc, 'RequestedServerVersion')!.text, 'Exchange2013');
  assert.equal(find(doc, 'Mailbox')!.text, address);
  const settings = find(doc, 'RequestedSettings')!.children.map((c) => c.text);
  assert.deepEqual(settings, ['InternalEwsUrl', 'ExternalEwsUrl', 'UserDisplayName', 'AutoDiscoverSMTPAddress', 'EwsSupportedSchemas', 'CasVersion', 'GroupingInformation']);
}

function checkPoxRequest(body: string, address: string): void {
  const doc = parseXml(body);
  for (const example of POX_EXAMPLES) assert.equal(shape(doc), shape(parseXml(fixtureText(example))), `the request has the shape of ${example}`);
  assert.equal(find(doc, 'EMailAddress')!.text, address);
  assert.equal(find(doc, 'AcceptableResponseSchema')!.text, 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a');
}

/** Every request a transport carried: Autodiscover bodies as the docs show them, credentials only over https. */
function checkEverythingSent(transport: TransportDouble): void {
  for (const r of transport.sent) {
    const url = new URL(r.url);
    if (url.protocol !== 'https:') {
      assert.equal(r.authorized, false, `no credentials to ${r.url}`);
      assert.equal(r.method, 'GET', `only the GET probe goes over http (${r.url})`);
      assert.equal(r.body, undefined);
      continue;
    }
    assert.equal(r.method, 'POST');
    const body = String(r.body);
    const address = (body.match(/<(?:a:Mailbox|EMailAddress)>([^<]+)</) ?? [])[1] ?? '';
    if (url.pathname.endsWith('.svc')) {
      checkSoapRequest(body, r.url, address);
      assert.match(r.headers?.soapaction ?? '', /GetUserSettings"$/);
    } else checkPoxRequest(body, address);
    assert.equal(r.headers?.['content-type'], 'text/xml; charset=utf-8');
  }
}

function urls(attempts: AutodiscoverAttempt[], outcome?: AutodiscoverAttempt['outcome']): string[] {
  return attempts.filter((a) => !outcome || a.outcome === outcome).map((a) => `${a.method} ${a.url}`);
}

async function rejects(promise: Promise<AutodiscoverResult>): Promise<AutodiscoverError> {
  try {
    const result = await promise;
    assert.fail(`expected AutodiscoverError, found ${result.ewsUrl}`);
  } catch (error) {
    if (!(error instanceof AutodiscoverError)) throw error;
    return error;
  }
}

const noSrv = async (name: string): Promise<SrvRecord[]> => {
  throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

describe('Autodiscover against the sandbox', { skip: !haveFixtures && !process.env.CI ? 'reference fixtures missing' : false }, () => {
  let sb: TestSandbox;
  let cloud: TestSandbox;
  let P: number;
  let transport: TransportDouble;
  let credentials: Credentials;
  const transports: TransportDouble[] = [];

  let closedPort = 0;
  /**
   * --resolve entries for a sandbox: its names on 443 and its own port to the https port, on 80 to its http port;
   * the names in `down` to a closed port (connection refused), so that no test asks real DNS.
   */
  const entries = (s: TestSandbox, down: string[] = []): string[] =>
    s.info.hosts.flatMap((h) =>
      down.includes(h)
        ? [443, 80, s.info.listen.port, s.info.listen.httpPort].map((p) => `${h}:${p}:127.0.0.1:${closedPort}`)
        : [
        `${h}:443:127.0.0.1:${s.info.listen.port}`,
        `${h}:${s.info.listen.port}:127.0.0.1:${s.info.listen.port}`,
        `${h}:80:127.0.0.1:${s.info.listen.httpPort}`,
            `${h}:${s.info.listen.httpPort}:127.0.0.1:${s.info.listen.httpPort}`,
          ],
    );
  /** The entries with these host:port pairs sent to the closed port instead. */
  const refusing = (list: string[], hostPorts: string[]): string[] =>
    list.map((e) => (hostPorts.includes(e.split(':').slice(0, 2).join(':')) ? `${e.split(':').slice(0, 2).join(':')}:127.0.0.1:${closedPort}` : e));
  /** The other organisation's names, all unreachable. */
  const cloudDown = () => ['contoso-cloud.test', 'autodiscover.contoso-cloud.test'].flatMap((h) => [443, 80].map((p) => `${h}:${p}:127.0.0.1:${closedPort}`));
  const makeTransport = (resolve: string[]) => {
    const t = recording(createHttpTransport({ trustedCaPem: `${sb.sandbox.pki.caCertPem}\n${cloud.sandbox.pki.caCertPem}`, resolve, timeoutMs: 10_000, connectTimeoutMs: 5_000 }));
    transports.push(t);
    return t;
  };
  const discover = (email: string, extra: Partial<DiscoverOptions> = {}) => discoverEwsUrl(email, { transport, credentials, resolveSrv: noSrv, ...extra });

  before(async () => {
    closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    sb = await startTestSandbox();
    // Another organisation, reached by redirects: its own CA and service account.
    cloud = await startTestSandbox({ domain: 'contoso-cloud.test' });
    P = sb.info.listen.port;
    // One password on both sides, signing in with the bare account name, as a hybrid service account would.
    await cloud.control('PATCH', '/accounts/svc-liaison@contoso-cloud.test', { password: sb.password });
    credentials = { username: 'svc-liaison', password: sb.password, method: 'basic' };
    transport = makeTransport([...entries(sb), ...entries(cloud)]);
  });

  after(async () => {
    for (const t of transports) await t.close();
    await sb?.close();
    await cloud?.close();
  });

  test('alice is found on mail with the first URL, SOAP at https://contoso.test', async () => {
    const result = await discover('alice@contoso.test');
    assert.equal(result.ewsUrl, `https://mail.contoso.test:${P}/EWS/Exchange.asmx`);
    assert.equal(result.method, 'soap');
    assert.equal(result.foundAt, 'https://contoso.test/autodiscover/autodiscover.svc');
    assert.equal(result.smtpAddress, 'alice@contoso.test');
    assert.ok(result.displayName && result.displayName.length > 0);
    assert.equal(result.serverVersion, 'Exchange2015');
    assert.equal(result.serverBuild, '15.1.2507.57');
    assert.ok(result.ewsSupportedSchemas?.includes('Exchange2013_SP1'));
    assert.deepEqual(urls(result.attempts), ['soap https://contoso.test/autodiscover/autodiscover.svc']);
    assert.equal(result.attempts[0]!.outcome, 'found');
    assert.equal(result.attempts[0]!.httpStatus, 200);
    assert.equal(result.attempts[0]!.headers['x-soap-enabled'], 'True');
    const record = sb.records.at(-1)!;
    assert.equal(record.surface, 'autodiscover-soap');
    assert.equal(record.host, 'contoso.test');
    assert.equal(record.status, 200);
    assert.ok(record.accepted);
  });

  test('dave is found on mail2, by SOAP, and by POX when SOAP fails at the host', async () => {
    const soap = await discover('dave@contoso.test');
    assert.equal(soap.ewsUrl, `https://mail2.contoso.test:${P}/EWS/Exchange.asmx`);
    assert.equal(soap.method, 'soap');

    await sb.control('POST', '/faults', { kind: 'http503', operation: 'autodiscover', host: 'contoso.test', times: 1 });
    const pox = await discover('dave@contoso.test');
    assert.equal(pox.ewsUrl, `https://mail2.contoso.test:${P}/EWS/Exchange.asmx`);
    assert.equal(pox.method, 'pox');
    assert.equal(pox.foundAt, 'https://contoso.test/autodiscover/autodiscover.xml');
    assert.equal(pox.smtpAddress, 'dave@contoso.test');
    assert.equal(pox.serverVersion, '15.1.543 (ServerVersion 73C1821F)');
    assert.deepEqual(
      pox.attempts.map((a) => [a.method, a.outcome, a.httpStatus]),
      [
        ['soap', 'http-status', 503],
        ['pox', 'found', 200],
      ],
    );
    assert.match(pox.attempts[0]!.detail, /HTTP 503/);

    await sb.control('POST', '/faults', { kind: 'malformed', operation: 'autodiscover', host: 'contoso.test', times: 1 });
    const afterMalformed = await discover('dave@contoso.test');
    assert.equal(afterMalformed.method, 'pox');
    assert.equal(afterMalformed.attempts[0]!.outcome, 'error');
    assert.equal(afterMalformed.attempts[0]!.code, 'unreadable');
    assert.match(afterMalformed.attempts[0]!.detail, /not well-formed XML/);
  });

  test('a mailbox moved to mail2 is found there', async () => {
    assert.equal((await sb.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail2' })).status, 200);
    try {
      const result = await discover('carol@contoso.test');
      assert.equal(result.ewsUrl, `https://mail2.contoso.test:${P}/EWS/Exchange.asmx`);
    } finally {
      await sb.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail' });
    }
    assert.equal((await discover('carol@contoso.test')).ewsUrl, `https://mail.contoso.test:${P}/EWS/Exchange.asmx`);
  });

  test('an address redirect starts again with the new address', async () => {
    await sb.control('POST', '/redirects', { address: 'robert@contoso.test', kind: 'address', target: 'bob@contoso.test' });
    const result = await discover('robert@contoso.test');
    assert.equal(result.smtpAddress, 'bob@contoso.test');
    assert.equal(result.ewsUrl, `https://mail.contoso.test:${P}/EWS/Exchange.asmx`);
    assert.deepEqual(
      result.attempts.map((a) => [a.address, a.outcome, a.target]),
      [
        ['robert@contoso.test', 'redirect-address', 'bob@contoso.test'],
        ['bob@contoso.test', 'found', undefined],
      ],
    );
  });

  test('a URL redirect is followed to another organisation that serves the mailbox', async () => {
    await cloud.control('POST', '/mailboxes', { address: 'frank@contoso.test', displayName: 'Frank Moved', server: 'mail2' });
    const target = `https://autodiscover.contoso-cloud.test:${cloud.info.listen.port}/autodiscover/autodiscover.svc`;
    await sb.control('POST', '/redirects', { address: 'frank@contoso.test', kind: 'url', target });
    const result = await discover('frank@contoso.test');
    assert.equal(result.ewsUrl, `https://mail2.contoso-cloud.test:${cloud.info.listen.port}/EWS/Exchange.asmx`);
    assert.equal(result.foundAt, target);
    assert.equal(result.displayName, 'Frank Moved');
    assert.deepEqual(
      result.attempts.map((a) => [a.url, a.outcome]),
      [
        ['https://contoso.test/autodiscover/autodiscover.svc', 'redirect-url'],
        [target, 'found'],
      ],
    );
    assert.match(result.attempts[1]!.detail, /^redirect 1 from https:\/\/contoso\.test/);
  });

  test('at most 10 redirects: ten are followed, the eleventh is refused', async () => {
    // hop0 -> hop1 -> … -> hop10 -> alice: eleven address redirects from hop0, ten from hop1.
    for (let i = 0; i <= 10; i++) {
      await sb.control('POST', '/redirects', { address: `hop${i}@contoso.test`, kind: 'address', target: i === 10 ? 'alice@contoso.test' : `hop${i + 1}@contoso.test` });
    }
    const ten = await discover('hop1@contoso.test');
    assert.equal(ten.smtpAddress, 'alice@contoso.test');
    assert.equal(ten.attempts.filter((a) => a.outcome === 'redirect-address').length, 10);

    const error = await rejects(discover('hop0@contoso.test'));
    assert.equal(error.reason, 'not-found');
    const refused = error.attempts.filter((a) => a.code === 'too-many-redirects');
    assert.ok(refused.length > 0);
    assert.match(refused[0]!.detail, /more than 10 redirects/);
    assert.equal(refused[0]!.target ?? refused[0]!.url, 'alice@contoso.test');
    // alice was never asked about.
    assert.ok(!error.attempts.some((a) => a.address === 'alice@contoso.test'));
    // hop0 … hop10 were asked about, each once per URL; the ten redirects between them were followed.
    assert.deepEqual(
      [...new Set(error.attempts.map((a) => a.address))],
      Array.from({ length: 11 }, (_, i) => `hop${i}@contoso.test`),
    );
  });

  test('a URL redirect loop stops at the repeated URL; no URL is asked twice about an address', async () => {
    const loop = `https://mail.contoso.test:${P}/autodiscover/autodiscover.svc`;
    await sb.control('POST', '/redirects', { address: 'loopy@contoso.test', kind: 'url', target: loop });
    const error = await rejects(discover('loopy@contoso.test'));
    const asked = error.attempts.filter((a) => a.outcome !== 'skipped').map((a) => `${a.method} ${a.url} ${a.address}`);
    assert.equal(new Set(asked).size, asked.length, `no repeats in ${asked.join('\n')}`);
    assert.equal(error.attempts.filter((a) => a.url === loop && a.outcome === 'redirect-url').length, 1);
    const repeated = error.attempts.filter((a) => a.code === 'already-tried' && a.url === loop);
    assert.ok(repeated.length >= 1);
    assert.match(repeated[0]!.detail, /already asked about loopy@contoso\.test/);
    assert.match(error.message, /found no EWS URL for loopy@contoso\.test/);
  });

  test('an address redirect loop is refused at the address already asked about', async () => {
    await sb.control('POST', '/redirects', { address: 'ping@contoso.test', kind: 'address', target: 'pong@contoso.test' });
    await sb.control('POST', '/redirects', { address: 'pong@contoso.test', kind: 'address', target: 'ping@contoso.test' });
    const error = await rejects(discover('ping@contoso.test'));
    assert.ok(error.attempts.some((a) => a.code === 'address-loop' && a.target === 'ping@contoso.test'));
    assert.equal(error.attempts.filter((a) => a.outcome === 'redirect-address').length, error.attempts.filter((a) => a.code === 'address-loop').length + 1);
  });

  test('an address redirect to the same address is refused', async () => {
    await sb.control('POST', '/redirects', { address: 'self@contoso.test', kind: 'address', target: 'Self@Contoso.test' });
    const error = await rejects(discover('self@contoso.test'));
    const refused = error.attempts.filter((a) => a.code === 'same-address');
    // Each https URL answered the same redirect, and each was refused (the last one reached by the http probe).
    assert.deepEqual(
      refused.map((a) => a.url),
      [
        'https://contoso.test/autodiscover/autodiscover.svc',
        'https://contoso.test/autodiscover/autodiscover.xml',
        'https://autodiscover.contoso.test/autodiscover/autodiscover.svc',
        'https://autodiscover.contoso.test/autodiscover/autodiscover.xml',
        `https://autodiscover.contoso.test:${P}/autodiscover/autodiscover.xml`,
      ],
    );
    assert.match(refused[0]!.detail, /the address just asked about/);
  });

  test('a redirect to an http URL is refused and never contacted', async () => {
    const plain = `http://mail.contoso.test:${P}/autodiscover/autodiscover.svc`;
    await sb.control('POST', '/redirects', { address: 'plain@contoso.test', kind: 'url', target: plain });
    const before = transport.sent.length;
    const error = await rejects(discover('plain@contoso.test'));
    assert.ok(error.attempts.some((a) => a.url === plain && a.outcome === 'skipped' && a.code === 'insecure-redirect'));
    assert.ok(!transport.sent.slice(before).some((r) => r.url === plain), 'the http target was never contacted');
  });

  test('erin@contoso.test: the seeded redirect to erin@contoso-cloud.test, and what follows it', async () => {
    // Without a route to contoso-cloud.test (its hosts refuse connections): the redirect is recorded, then every
    // URL of the new domain with what happened there.
    const isolated = makeTransport([...entries(sb), ...cloudDown()]);
    const error = await rejects(discoverEwsUrl('erin@contoso.test', { transport: isolated, credentials, resolveSrv: noSrv }));
    assert.deepEqual(
      error.attempts.map((a) => [a.method, a.url, a.outcome, a.code]),
      [
        ['soap', 'https://contoso.test/autodiscover/autodiscover.svc', 'redirect-address', undefined],
        ['soap', 'https://contoso-cloud.test/autodiscover/autodiscover.svc', 'unreachable', 'refused'],
        ['pox', 'https://contoso-cloud.test/autodiscover/autodiscover.xml', 'skipped', 'host-unreachable'],
        ['soap', 'https://autodiscover.contoso-cloud.test/autodiscover/autodiscover.svc', 'unreachable', 'refused'],
        ['pox', 'https://autodiscover.contoso-cloud.test/autodiscover/autodiscover.xml', 'skipped', 'host-unreachable'],
        ['http-redirect', 'http://autodiscover.contoso-cloud.test/autodiscover/autodiscover.xml', 'unreachable', 'refused'],
        ['srv', '_autodiscover._tcp.contoso-cloud.test', 'unreachable', 'ENOTFOUND'],
      ],
    );
    assert.equal(error.attempts[0]!.target, 'erin@contoso-cloud.test');
    assert.equal(error.attempts[1]!.address, 'erin@contoso-cloud.test');
    assert.equal(error.attempts[1]!.transport?.host, 'contoso-cloud.test');

    // The cloud sandbox is seeded with the same redirect, which there names erin@contoso-cloud.test itself.
    const selfRedirect = await rejects(discover('erin@contoso.test'));
    assert.ok(selfRedirect.attempts.some((a) => a.code === 'same-address' && a.url.startsWith('https://contoso-cloud.test/')));

    // Once the cloud holds her mailbox, she is found there.
    assert.equal((await cloud.control('DELETE', '/redirects/erin@contoso-cloud.test')).status, 204);
    await cloud.control('POST', '/mailboxes', { address: 'erin@contoso-cloud.test', displayName: 'Erin' });
    const found = await discover('erin@contoso.test');
    assert.equal(found.smtpAddress, 'erin@contoso-cloud.test');
    assert.equal(found.ewsUrl, `https://mail.contoso-cloud.test:${cloud.info.listen.port}/EWS/Exchange.asmx`);
    assert.equal(found.foundAt, 'https://contoso-cloud.test/autodiscover/autodiscover.svc');
  });

  test('the unauthenticated http redirect probe: 302 followed to https, then POSTed with credentials', async () => {
    // As in the recorded Exchange Online case: both https names fail (there at DNS, here refused), the http name
    // answers 302 to an https URL.
    const t = makeTransport(refusing(entries(sb), ['contoso.test:443', 'autodiscover.contoso.test:443']));
    await sb.control('PATCH', '/settings', { autodiscoverHttpRedirect: false });
    try {
      const off = await rejects(discoverEwsUrl('alice@contoso.test', { transport: t, credentials, resolveSrv: noSrv }));
      const probe = off.attempts.find((a) => a.method === 'http-redirect')!;
      assert.equal(probe.outcome, 'http-status');
      assert.equal(probe.httpStatus, 404);
      assert.match(probe.detail, /HTTP 404: no redirect to follow/);
    } finally {
      await sb.control('PATCH', '/settings', { autodiscoverHttpRedirect: true });
    }
    {
      const result = await discoverEwsUrl('alice@contoso.test', { transport: t, credentials, resolveSrv: noSrv });
      const location = `https://autodiscover.contoso.test:${P}/autodiscover/autodiscover.xml`;
      assert.equal(result.method, 'pox');
      assert.equal(result.foundAt, location);
      assert.equal(result.ewsUrl, `https://mail.contoso.test:${P}/EWS/Exchange.asmx`);
      assert.deepEqual(
        result.attempts.map((a) => [a.method, a.outcome, a.httpStatus]),
        [
          ['soap', 'unreachable', undefined],
          ['pox', 'skipped', undefined],
          ['soap', 'unreachable', undefined],
          ['pox', 'skipped', undefined],
          ['http-redirect', 'redirect-url', 302],
          ['pox', 'found', 200],
        ],
      );
      assert.equal(result.attempts[4]!.headers.location, location);
      const get = t.sent.filter((r) => r.url.startsWith('http:'));
      assert.ok(get.length >= 2);
      assert.ok(get.every((r) => r.method === 'GET' && !r.authorized && r.credentials === null));
      assert.ok(t.sent.find((r) => r.url === location)?.authorized, 'the https target got the credentials');
    }
  });

  test('DNS SRV: port-443 records only, by priority then weight', async () => {
    const t = makeTransport([...entries(sb, ['contoso.test', 'autodiscover.contoso.test']), `nowhere.contoso.test:443:127.0.0.1:${closedPort}`]);
    const looked: string[] = [];
    const resolveSrv = async (name: string): Promise<SrvRecord[]> => {
      looked.push(name);
      return [
        { name: 'mail.contoso.test', port: 8443, priority: 0, weight: 100 },
        { name: 'nowhere.contoso.test', port: 443, priority: 20, weight: 100 },
        { name: 'wrong-name.contoso.test', port: 443, priority: 10, weight: 1 },
        { name: 'mail2.contoso.test.', port: 443, priority: 10, weight: 50 },
      ];
    };
    const result = await discoverEwsUrl('alice@contoso.test', { transport: t, credentials, resolveSrv });
    assert.deepEqual(looked, ['_autodiscover._tcp.contoso.test']);
    const srv = result.attempts.find((a) => a.method === 'srv')!;
    assert.equal(srv.outcome, 'redirect-url');
    assert.equal(srv.target, 'mail2.contoso.test, wrong-name.contoso.test, nowhere.contoso.test');
    assert.match(srv.detail, /ignored \(not port 443\): mail\.contoso\.test:8443/);
    assert.equal(result.foundAt, 'https://mail2.contoso.test/autodiscover/autodiscover.svc');
    assert.equal(result.ewsUrl, `https://mail.contoso.test:${P}/EWS/Exchange.asmx`);

    // The best record's host fails its certificate check: the next one is tried, the failure kept with its reason.
    const worse = async (): Promise<SrvRecord[]> => [
      { name: 'wrong-name.contoso.test', port: 443, priority: 1, weight: 0 },
      { name: 'mail2.contoso.test', port: 443, priority: 2, weight: 0 },
    ];
    const next = await discoverEwsUrl('alice@contoso.test', { transport: t, credentials, resolveSrv: worse });
    const tls = next.attempts.find((a) => a.url === 'https://wrong-name.contoso.test/autodiscover/autodiscover.svc')!;
    assert.equal(tls.outcome, 'unreachable');
    assert.equal(tls.code, 'tls');
    assert.equal(next.foundAt, 'https://mail2.contoso.test/autodiscover/autodiscover.svc');
    // Credentials never went to the host whose certificate failed: the TLS handshake ended before any request.
    assert.ok(next.attempts.some((a) => a.url === 'https://wrong-name.contoso.test/autodiscover/autodiscover.xml' && a.code === 'host-unreachable'));
  });

  test('nothing found: AutodiscoverError lists every URL tried and what each answered', async () => {
    const error = await rejects(discover('nobody@contoso.test'));
    assert.equal(error.email, 'nobody@contoso.test');
    assert.deepEqual(urls(error.attempts), [
      'soap https://contoso.test/autodiscover/autodiscover.svc',
      'pox https://contoso.test/autodiscover/autodiscover.xml',
      'soap https://autodiscover.contoso.test/autodiscover/autodiscover.svc',
      'pox https://autodiscover.contoso.test/autodiscover/autodiscover.xml',
      'http-redirect http://autodiscover.contoso.test/autodiscover/autodiscover.xml',
      // The sandbox's 302 names its own port, so here the target differs from the port-443 URL above.
      `pox https://autodiscover.contoso.test:${P}/autodiscover/autodiscover.xml`,
      'srv _autodiscover._tcp.contoso.test',
    ]);
    assert.deepEqual(
      error.attempts.map((a) => [a.outcome, a.code, a.httpStatus]),
      [
        ['error', 'InvalidUser', 200],
        ['error', '500', 200],
        ['error', 'InvalidUser', 200],
        ['error', '500', 200],
        ['redirect-url', undefined, 302],
        ['error', '500', 200],
        ['unreachable', 'ENOTFOUND', undefined],
      ],
    );
    assert.match(error.attempts[0]!.detail, /InvalidUser: Invalid user: 'nobody@contoso\.test'/);
    assert.match(error.attempts[1]!.detail, /POX error 500: The email address can't be found/);
    assert.match(error.message, /7 attempt\(s\)/);
  });

  test('401s are recorded with their WWW-Authenticate offers, Basic on and off', async () => {
    const wrong = { ...credentials, password: 'not-the-password' };
    const error = await rejects(discoverEwsUrl('alice@contoso.test', { transport, credentials: wrong, resolveSrv: noSrv }));
    const denied = error.attempts.filter((a) => a.httpStatus === 401);
    assert.equal(denied.length, 5, 'four https URLs and the target of the http redirect');
    for (const a of denied) {
      assert.equal(a.outcome, 'http-status');
      assert.match(a.headers['www-authenticate'] ?? '', /Negotiate, NTLM, Basic realm="/);
      assert.match(a.detail, /401 Unauthorized: offers Negotiate, NTLM, Basic/);
    }
    await sb.control('PATCH', '/settings', { basicAuth: false });
    try {
      const off = await rejects(discover('alice@contoso.test'));
      const first = off.attempts[0]!;
      assert.equal(first.httpStatus, 401);
      assert.equal(first.headers['www-authenticate'], 'Negotiate, NTLM');
      assert.match(first.detail, /offers Negotiate, NTLM$/);
    } finally {
      await sb.control('PATCH', '/settings', { basicAuth: true });
    }
  });

  test('a cancelled search ends with AutodiscoverError reason aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejects(discover('alice@contoso.test', { signal: controller.signal }));
    assert.equal(error.reason, 'aborted');
  });

  test('every request sent in this file is the docs examples shape, and credentials never went over http', () => {
    let soap = 0;
    let pox = 0;
    for (const t of transports) {
      checkEverythingSent(t);
      soap += t.sent.filter((r) => r.url.endsWith('.svc')).length;
      pox += t.sent.filter((r) => r.url.startsWith('https:') && r.url.endsWith('.xml')).length;
    }
    assert.ok(soap > 10 && pox > 5, `${soap} SOAP and ${pox} POX requests checked`);
    // And the sandbox accepted every one it got (faults injected on purpose aside).
    for (const s of [sb, cloud]) {
      for (const r of s.records.filter((x) => x.surface !== 'ews')) {
        assert.ok(r.accepted, `${r.surface} request to ${r.host} accepted`);
        if (r.status !== 503 && r.response.length > 0) assert.equal(r.status, 200);
      }
    }
  });
});

// ---- fixtures ----

type Expectation =
  | { read: 'soap' | 'pox'; expect: (answer: ReturnType<typeof readPoxResponse>) => void }
  | { refused: 'soap' | 'pox'; because: RegExp; why: string }
  | { notAnAnswer: string };

const ewsOf = (a: ReturnType<typeof readPoxResponse>) => (a.kind === 'settings' ? a.ewsUrl : `(${a.kind})`);

/** Every Autodiscover fixture in the reference folder, each with what reading it gives. */
const AUTODISCOVER_FIXTURES: Record<string, Expectation> = {
  'ms-docs-examples/getusersettings-operation-soap__01.xml': { notAnAnswer: 'a GetUserSettings request: the reference our requests are checked against' },
  'ms-docs-examples/getusersettings-operation-soap__02.xml': {
    read: 'soap',
    expect: (a) => {
      assert.equal(a.kind, 'settings');
      if (a.kind !== 'settings') return;
      assert.equal(a.ewsUrl, null, 'the example asks for no EWS URL');
      assert.equal(a.displayName, 'UserDisplayName');
      assert.equal(a.casVersion, '14.00.0478.000');
      assert.deepEqual(a.ewsSupportedSchemas, ['Exchange2007', 'Exchange2010']);
      assert.equal(a.settings.InternalMailboxServer, 'machinename.domain.contoso.com');
    },
  },
  'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__01.xml': { notAnAnswer: 'C# code of the EWS Managed API, not XML' },
  'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__02.xml': { notAnAnswer: 'a GetUserSettings request: the reference our requests are checked against' },
  'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__03.xml': {
    refused: 'soap',
    because: /not well-formed XML/,
    why: 'truncated in the docs (ends with "</s:Envelope" without ">"; VALIDATION.md lists it as not well-formed)',
  },
  'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__04.xml': { notAnAnswer: 'a POX request: the reference our requests are checked against' },
  'ms-docs-examples/how-to-get-user-settings-from-exchange-by-using-autodiscover__05.xml': {
    read: 'pox',
    expect: (a) => {
      assert.equal(a.kind, 'settings');
      if (a.kind !== 'settings') return;
      // EXPR carries no EwsUrl here: EXCH's is used.
      assert.equal(a.ewsUrl, 'https://mail.contoso.com/EWS/Exchange.asmx');
      assert.equal(a.internalEwsUrl, 'https://mail.contoso.com/EWS/Exchange.asmx');
      assert.equal(a.externalEwsUrl, undefined);
      assert.equal(a.displayName, 'Mara Whitley');
      assert.equal(a.smtpAddress, 'mara@contoso.com');
      assert.equal(a.serverBuild, '15.0.516');
    },
  },
  'ms-docs-examples/handling-autodiscover-error-messages__01.xml': {
    read: 'soap',
    expect: (a) => {
      assert.deepEqual(a, { kind: 'redirect-address', target: 'elvin@mail.contoso.com', message: 'Redirection address.', serverVersion: 'Exchange2010_SP2', serverBuild: '14.3.136.1' });
    },
  },
  'ms-docs-examples/handling-autodiscover-error-messages__02.xml': { read: 'pox', expect: (a) => assert.deepEqual(a, { kind: 'redirect-address', target: 'elvin@mail.contoso.com' }) },
  'ms-docs-examples/pox-autodiscover-request-for-exchange__01.xml': { notAnAnswer: 'a POX request: the reference our requests are checked against' },
  'ms-docs-examples/pox-autodiscover-response-for-exchange__01.xml': {
    read: 'pox',
    expect: (a) => {
      assert.equal(a.kind, 'settings');
      if (a.kind !== 'settings') return;
      // An Exchange 2007 answer: no EwsUrl (only ASUrl), so no EWS URL is taken from it.
      assert.equal(a.ewsUrl, null);
      assert.equal(a.settings['EXCH.ASUrl'], 'https://mail.contoso.com/ews/exchange.asmx');
      assert.equal(a.displayName, 'First Last');
      assert.equal(a.serverBuild, '8.0.647');
    },
  },
  'ms-docs-examples/pox-autodiscover-response-for-exchange__02.xml': {
    read: 'pox',
    expect: (a) => assert.deepEqual(a, { kind: 'error', level: 'pox', code: '600', message: 'Invalid Request' }),
  },
  'library-tests/exchangelib/test_autodiscover_L52_settings_xml.xml': {
    read: 'soap',
    expect: (a) => {
      assert.equal(a.kind, 'settings');
      if (a.kind !== 'settings') return;
      assert.equal(a.ewsUrl, '{ews_url}');
      assert.equal(a.externalEwsUrl, '{ews_url}');
      assert.equal(a.smtpAddress, '{address}');
      assert.equal(a.serverVersion, 'Exchange2015');
      assert.equal(a.serverBuild, '15.20.5834.15');
    },
  },
  'library-tests/exchangelib/test_autodiscover_L98_redirect_address_xml.xml': { read: 'soap', expect: (a) => assert.equal(a.kind === 'redirect-address' && a.target, '{address}') },
  'library-tests/exchangelib/test_autodiscover_L135_redirect_url_xml.xml': { read: 'soap', expect: (a) => assert.equal(a.kind === 'redirect-url' && a.target, '{autodiscover_url}') },
  'library-tests/exchangelib/test_autodiscover_L281_test_get_user_settings.xml': {
    read: 'soap',
    expect: (a) => assert.deepEqual(a, { kind: 'error', level: 'response', code: 'InvalidSetting', message: 'An error message' }),
  },
  'library-tests/exchangelib/test_autodiscover_L302_test_get_user_settings.xml': {
    read: 'soap',
    expect: (a) => assert.deepEqual(a, { kind: 'error', level: 'response', code: 'InternalServerError', message: 'An internal error' }),
  },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L76_settings_xml.xml': { read: 'pox', expect: (a) => assert.equal(ewsOf(a), '{ews_url}') },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L96_redirect_address_xml.xml': { read: 'pox', expect: (a) => assert.deepEqual(a, { kind: 'redirect-address', target: '{address}' }) },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L109_redirect_url_xml.xml': { read: 'pox', expect: (a) => assert.deepEqual(a, { kind: 'redirect-url', target: '{ews_url}' }) },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L657_test_parse_response.xml': { read: 'pox', expect: (a) => assert.deepEqual(a, { kind: 'redirect-address', target: 'foo@example.com' }) },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L673_test_parse_response.xml': { read: 'pox', expect: (a) => assert.deepEqual(a, { kind: 'redirect-url', target: 'https://example.com/foo.asmx' }) },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L689_test_parse_response.xml': {
    read: 'pox',
    expect: (a) => {
      assert.equal(ewsOf(a), 'https://expr.example.com/EWS/Exchange.asmx', 'EXPR before EXCH');
      assert.equal(a.kind === 'settings' && a.internalEwsUrl, 'https://exch.example.com/EWS/Exchange.asmx');
      assert.equal(a.kind === 'settings' && a.smtpAddress, 'john@demo.affect-it.dk');
    },
  },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L715_test_parse_response.xml': { read: 'pox', expect: (a) => assert.equal(ewsOf(a), 'https://exch.example.com/EWS/Exchange.asmx') },
  'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L737_test_parse_response.xml': {
    read: 'pox',
    expect: (a) => assert.equal(ewsOf(a), null, 'a protocol of type XXX carries no EWS URL for us'),
  },
};

/** The Autodiscover files in the fixture folders, found by name or by content, so that a new one is not missed. */
function autodiscoverFixtureFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(FIXTURES, dir))) {
      const rel = dir ? `${dir}/${name}` : name;
      if (statSync(path.join(FIXTURES, rel)).isDirectory()) walk(rel);
      else {
        const byName = /autodiscover|getusersettings|how-to-get-user-settings|pox/i.test(name);
        const text = readFileSync(path.join(FIXTURES, rel), 'utf8');
        const byContent = /GetUserSettings(Request|Response)Message|exchange\/autodiscover\/(outlook\/)?(request|response)schema/.test(text);
        if (byName || byContent) out.push(rel);
      }
    }
  };
  walk('');
  return out.sort();
}

describe('every Autodiscover fixture in the reference folder', { skip: !haveFixtures && !process.env.CI ? 'reference fixtures missing' : false }, () => {
  test('the list below names every one of them (real captures included: there are none for Autodiscover)', () => {
    const found = autodiscoverFixtureFiles();
    assert.deepEqual(found, Object.keys(AUTODISCOVER_FIXTURES).sort());
    assert.ok(!found.some((f) => f.startsWith('real-captures/')));
  });
  for (const [file, expectation] of Object.entries(AUTODISCOVER_FIXTURES)) {
    if ('notAnAnswer' in expectation) {
      test(`${file}: not an answer (${expectation.notAnAnswer})`, () => {
        const text = fixtureText(file);
        if (expectation.notAnAnswer.startsWith('a ')) assert.match(text, /GetUserSettingsRequestMessage|requestschema\/2006"/);
      });
      continue;
    }
    if ('refused' in expectation) {
      test(`${file}: refused with a clear reason (${expectation.why})`, () => {
        const read = expectation.refused === 'soap' ? readGetUserSettingsResponse : readPoxResponse;
        assert.throws(() => read(fixtureText(file)), (e: unknown) => e instanceof AutodiscoverReadError && expectation.because.test(e.message));
      });
      continue;
    }
    test(`${file}: read`, () => {
      const read = expectation.read === 'soap' ? readGetUserSettingsResponse : readPoxResponse;
      expectation.expect(read(fixtureText(file)));
    });
  }
});

test('POX ServerVersion decodes as the docs example does (738180DA is 14.1.218)', () => {
  assert.equal(decodePoxServerVersion('738180DA'), '14.1.218');
  assert.equal(decodePoxServerVersion('not hex'), null);
});

test('answers that are not Autodiscover answers are refused with what they are', () => {
  assert.throws(() => readPoxResponse('<html><body>404</body></html>'), /<html> in ""/);
  assert.throws(() => readGetUserSettingsResponse('<Autodiscover xmlns="x"/>'), /not a SOAP 1.1 envelope/);
  assert.throws(() => readGetUserSettingsResponse('<!DOCTYPE x [<!ENTITY a "b">]><x/>'), /DOCTYPE/);
  const fault = readGetUserSettingsResponse(
    `<s:Envelope xmlns:s="${NS.soap}"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>`,
  );
  assert.deepEqual(fault, { kind: 'error', level: 'fault', code: 's:Client', message: 'bad' });
});

/** A scripted transport: the answer for each URL, DNS failure for the rest; what was asked is kept. */
function scripted(answers: Record<string, Partial<HttpResponse>>): HttpTransport & { asked: HttpRequest[] } {
  const asked: HttpRequest[] = [];
  return {
    asked,
    async request(req) {
      asked.push(req);
      const a = answers[req.url];
      if (!a) throw new TransportError('dns', `getaddrinfo ENOTFOUND ${new URL(req.url).hostname}`, { url: req.url, host: new URL(req.url).hostname });
      const headers = a.headers ?? {};
      return { status: 200, body: Buffer.alloc(0), elapsedMs: 1, ...a, headers, headerLists: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])) };
    },
    stream: () => Promise.reject(new Error('no streaming')),
    close: async () => undefined,
  };
}

describe('the http redirect probe is followed only to an https Autodiscover URL', () => {
  const creds: Credentials = { username: 'svc', password: 'pw', method: 'basic' };
  const probeUrl = 'http://autodiscover.example.test/autodiscover/autodiscover.xml';
  for (const [location, code] of [
    ['http://evil.example.test/autodiscover/autodiscover.xml', 'insecure-redirect'],
    ['https://evil.example.test/owa/', 'not-autodiscover'],
    ['https://autodiscover.elsewhere.test/autodiscover/autodiscover.xml', 'foreign-redirect'],
  ] as const) {
    test(`302 to ${location}: refused (${code}), never contacted`, async () => {
      const t = scripted({ [probeUrl]: { status: 302, headers: { location } } });
      const error = await rejects(discoverEwsUrl('user@example.test', { transport: t, credentials: creds, resolveSrv: noSrv }));
      const refused = error.attempts.find((a) => a.url === location)!;
      assert.equal(refused.outcome, 'skipped');
      assert.equal(refused.code, code);
      assert.ok(!t.asked.some((r) => r.url === location));
      const probe = t.asked.find((r) => r.url === probeUrl)!;
      assert.equal(probe.method, 'GET');
      assert.equal(probe.credentials, null);
    });
  }
  test('302 to an https Autodiscover URL: POSTed there with credentials (as Exchange Online answers)', { skip: !haveFixtures && !process.env.CI ? 'reference fixtures missing' : false }, async () => {
    const target = 'https://autodiscover-s.example.test/autodiscover/autodiscover.xml';
    const pox = readFileSync(path.join(FIXTURES, 'library-tests/exchangelib-pox-autodiscover/test_autodiscover_pox_L689_test_parse_response.xml'), 'utf8');
    const t = scripted({ [probeUrl]: { status: 302, headers: { location: target } }, [target]: { status: 200, body: Buffer.from(pox.slice(pox.indexOf('-->') + 3).trim()) } });
    const result = await discoverEwsUrl('user@example.test', { transport: t, credentials: creds, resolveSrv: noSrv });
    assert.equal(result.ewsUrl, 'https://expr.example.com/EWS/Exchange.asmx');
    assert.equal(result.method, 'pox');
    assert.equal(result.foundAt, target);
    assert.equal(t.asked.find((r) => r.url === target)!.credentials, creds);
  });
});
