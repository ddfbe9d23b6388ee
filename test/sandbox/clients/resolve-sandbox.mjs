// Test harness, not client configuration: loaded with `node --import` before a client under test runs, it makes
// every name under SANDBOX_DOMAIN (e.g. *.contoso.test) resolve to 127.0.0.1, as /etc/hosts entries would.
// Node's http/https (msal-node) and global fetch (undici, used by @microsoft/microsoft-graph-client) both connect
// through net.connect, which looks names up with dns.lookup when no lookup option is given: patching dns.lookup
// reaches both. Other names resolve as before. Counts the names it answered, so a test can tell it was used.
import dns from 'node:dns';

const domain = (process.env.SANDBOX_DOMAIN ?? 'contoso.test').toLowerCase();
const original = dns.lookup;
globalThis.__sandboxLookups = [];

function inSandbox(hostname) {
  const name = String(hostname).toLowerCase().replace(/\.$/, '');
  return name === domain || name.endsWith(`.${domain}`);
}

dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (!inSandbox(hostname)) return original.call(dns, hostname, options, callback);
  globalThis.__sandboxLookups.push(hostname);
  const all = typeof options === 'object' && options !== null && options.all;
  process.nextTick(() => (all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)));
  return {};
};
