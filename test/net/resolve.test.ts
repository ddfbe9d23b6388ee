import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findOverride, formatResolveEntry, parseResolveEntry, parseResolveList, ResolveSyntaxError } from '../../src/net/resolve.js';

describe('--resolve entries (curl syntax)', () => {
  test('host:port:address, with an optional target port; IPv6 in brackets or bare', () => {
    assert.deepEqual(parseResolveEntry('Mail.Contoso.test:443:127.0.0.1'), { host: 'mail.contoso.test', port: 443, address: '127.0.0.1', targetPort: null });
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:127.0.0.1:8443'), { host: 'mail.contoso.test', port: 443, address: '127.0.0.1', targetPort: 8443 });
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:[::1]:8443'), { host: 'mail.contoso.test', port: 443, address: '::1', targetPort: 8443 });
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:[::1]'), { host: 'mail.contoso.test', port: 443, address: '::1', targetPort: null });
    assert.deepEqual(parseResolveEntry('mail.contoso.test:443:fe80::1'), { host: 'mail.contoso.test', port: 443, address: 'fe80::1', targetPort: null });
  });

  test('mistakes name the entry and what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['mail.contoso.test', /needs a host, a port and an address/],
      ['mail.contoso.test:443:', /address is missing/],
      ['mail.contoso.test:https:127.0.0.1', /port "https" is not a port number/],
      ['mail.contoso.test:0:127.0.0.1', /port "0"/],
      ['mail.contoso.test:443:127.0.0.1:70000', /target port "70000"/],
      ['mail.contoso.test:443:mail2.contoso.test', /is not an IP address/],
      ['mail.contoso.test:443:[::1', /not closed/],
      ['mail.contoso.test:443:[127.0.0.1]', /not an IPv6 address/],
      ['bad_host!:443:127.0.0.1', /is not a host name/],
      ['+mail.contoso.test:443:127.0.0.1', /prefixes are not supported/],
    ];
    for (const [entry, message] of cases) {
      assert.throws(() => parseResolveEntry(entry), (error: unknown) => error instanceof ResolveSyntaxError && message.test(error.message) && error.message.includes(entry), entry);
    }
  });

  test('lists: comma-separated and repeated values; a later entry for the same host and port wins', () => {
    const list = parseResolveList(['a.contoso.test:443:127.0.0.1, b.contoso.test:443:127.0.0.2', 'A.contoso.test:443:127.0.0.3:8443,']);
    assert.deepEqual(list.map(formatResolveEntry), ['b.contoso.test:443:127.0.0.2', 'a.contoso.test:443:127.0.0.3:8443']);
    assert.equal(formatResolveEntry(parseResolveEntry('x.test:443:[::1]:8443')), 'x.test:443:[::1]:8443');
  });

  test('findOverride matches host (any case, trailing dot) and port only', () => {
    const list = parseResolveList(['mail.contoso.test:443:127.0.0.1:8443']);
    assert.deepEqual(findOverride(list, 'MAIL.contoso.test.', 443), { address: '127.0.0.1', port: 8443 });
    assert.equal(findOverride(list, 'mail.contoso.test', 80), null);
    assert.equal(findOverride(list, 'contoso.test', 443), null);
  });
});
