/** --resolve entries: curl's host:port:address, our host:port:address:port, IPv6 in brackets, lists, bad entries. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HostOverrides, parseResolveEntry, parseResolveList, ResolveEntryError, resolveFromEnvironment } from '../../src/net/resolve.js';

describe('--resolve entries', () => {
  test("curl's form: host:port:address", () => {
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:127.0.0.1'), { host: 'mail.contoso.test', port: 443, address: '127.0.0.1', targetPort: 443 });
  });

  test('another port: host:port:address:port', () => {
    assert.deepEqual(parseResolveEntry('Mail.Contoso.Test:443:10.0.0.5:8443'), { host: 'mail.contoso.test', port: 443, address: '10.0.0.5', targetPort: 8443 });
  });

  test('IPv6 in brackets, with and without a target port', () => {
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:[::1]'), { host: 'mail.contoso.test', port: 443, address: '::1', targetPort: 443 });
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:[2001:db8::7]:9443'), { host: 'mail.contoso.test', port: 443, address: '2001:db8::7', targetPort: 9443 });
  });

  test('comma-separated lists (LIAISON_RESOLVE), blanks skipped, several flags', () => {
    const entries = parseResolveList(['a.contoso.test:443:127.0.0.1, b.contoso.test:443:127.0.0.2:8443,', 'c.contoso.test:80:[::1]']);
    assert.deepEqual(
      entries.map((e) => `${e.host}:${e.port}->${e.address}:${e.targetPort}`),
      ['a.contoso.test:443->127.0.0.1:443', 'b.contoso.test:443->127.0.0.2:8443', 'c.contoso.test:80->::1:80'],
    );
    assert.equal(resolveFromEnvironment({ LIAISON_RESOLVE: 'x.test:443:127.0.0.1,y.test:443:127.0.0.1' }).length, 2);
    assert.deepEqual(resolveFromEnvironment({}), []);
  });

  for (const [entry, reason] of [
    ['mail.contoso.test', /at least a host, a port and an address/],
    ['mail.contoso.test:443', /at least a host, a port and an address/],
    ['mail.contoso.test:https:127.0.0.1', /port must be a number/],
    ['mail.contoso.test:0:127.0.0.1', /port must be a number from 1 to 65535/],
    ['mail.contoso.test:70000:127.0.0.1', /port must be a number from 1 to 65535/],
    ['mail.contoso.test:443:not-an-ip', /"not-an-ip" is not an IP address/],
    ['mail.contoso.test:443:', /address is empty/],
    ['mail.contoso.test:443:127.0.0.1:', /target port is empty/],
    ['mail.contoso.test:443:127.0.0.1:x', /target port must be a number/],
    ['mail.contoso.test:443:::1', /brackets/],
    ['mail.contoso.test:443:[::1', /no closing bracket/],
    ['mail.contoso.test:443:[1.2.3.4]', /not an IPv6 address/],
    ['mail.contoso.test:443:[::1]x', /expected ":port"/],
    ['*:443:127.0.0.1', /\* host is not supported/],
    ['+mail.contoso.test:443:127.0.0.1', /prefixes are not supported/],
    ['-mail.contoso.test:443', /prefixes are not supported/],
    ['bad host:443:127.0.0.1', /is not a host name/],
  ] as const) {
    test(`refused with a reason: ${entry}`, () => {
      assert.throws(
        () => parseResolveEntry(entry),
        (error: unknown) => error instanceof ResolveEntryError && reason.test(error.message) && error.message.includes(entry) && /host:port:address/.test(error.message),
      );
    });
  }

  test('a bad entry in a list names that entry', () => {
    assert.throws(() => parseResolveList('a.test:443:127.0.0.1,b.test:443:nope'), /Bad --resolve entry "b\.test:443:nope"/);
  });

  test('the overrides map host:port to the address to dial; other ports and hosts go to DNS', () => {
    const overrides = new HostOverrides(['mail.contoso.test:443:127.0.0.1:8443', 'mail.contoso.test:443:127.0.0.9:9443']);
    assert.deepEqual(overrides.target('MAIL.contoso.test', 443), { address: '127.0.0.9', port: 9443, overridden: true }, 'the last entry wins');
    assert.deepEqual(overrides.target('mail.contoso.test.', 443), { address: '127.0.0.9', port: 9443, overridden: true });
    assert.deepEqual(overrides.target('mail.contoso.test', 444), { address: 'mail.contoso.test', port: 444, overridden: false });
    assert.deepEqual(overrides.target('other.test', 443), { address: 'other.test', port: 443, overridden: false });
  });
});
