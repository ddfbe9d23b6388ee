/**
 * --public-url / LIAISON_PUBLIC_URL: https only (http for loopback hosts), no query, fragment or user name, a
 * trailing slash dropped; named in serve's and worker's --help; a wrong one refused before anything starts; and the
 * engine's push endpoint carries the store's clientState key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { clientStateFor, addressFromClientState } from '../src/connectors/graph/notifications.js';
import { pushEndpointOf } from '../src/cli/engine-host.js';
import { parsePublicUrl } from '../src/cli/options.js';
import { SecretBox } from '../src/store/secrets.js';
import { liaison } from './helpers/cli.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('https URLs are taken, a trailing slash dropped, a path kept', () => {
  assert.equal(parsePublicUrl('https://liaison.contoso.com'), 'https://liaison.contoso.com');
  assert.equal(parsePublicUrl('https://liaison.contoso.com/'), 'https://liaison.contoso.com');
  assert.equal(parsePublicUrl('https://proxy.contoso.com:8443/liaison/'), 'https://proxy.contoso.com:8443/liaison');
  assert.equal(parsePublicUrl('HTTPS://Liaison.Contoso.com'), 'https://liaison.contoso.com');
});

test('http only for loopback hosts', () => {
  assert.equal(parsePublicUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  assert.equal(parsePublicUrl('http://localhost:8080/'), 'http://localhost:8080');
  assert.equal(parsePublicUrl('http://[::1]:8080'), 'http://[::1]:8080');
  for (const value of ['http://liaison.contoso.com', 'http://10.0.0.5:8080', 'http://127.0.0.1.nip.io']) {
    assert.throws(() => parsePublicUrl(value), (error: Error) => error instanceof InvalidArgumentError && /https:\/\/.*loopback/.test(error.message), value);
  }
});

test('not a URL, another scheme, a query, a fragment or credentials are refused with the reason', () => {
  assert.throws(() => parsePublicUrl('liaison.contoso.com'), /is not a URL/);
  assert.throws(() => parsePublicUrl('ftp://liaison.contoso.com'), /must start with https/);
  assert.throws(() => parsePublicUrl('https://liaison.contoso.com/?x=1'), /query/);
  assert.throws(() => parsePublicUrl('https://liaison.contoso.com/#top'), /fragment/);
  assert.throws(() => parsePublicUrl('https://liaison.contoso.com?'), /query/);
  assert.throws(() => parsePublicUrl('https://user:pw@liaison.contoso.com'), /user name or password/);
});

test("the engine's push endpoint is the public URL and the store's derived key; none without a URL", () => {
  const box = new SecretBox(Buffer.alloc(32, 5));
  assert.equal(pushEndpointOf({ secretBox: box }, null), null);
  assert.equal(pushEndpointOf({ secretBox: box }, undefined), null);
  const endpoint = pushEndpointOf({ secretBox: box }, 'https://liaison.contoso.com');
  assert.equal(endpoint?.publicUrl, 'https://liaison.contoso.com');
  assert.deepEqual(endpoint?.key, box.derive('graph-notifications'));
  // What the feed signs with this key, the route (which derives it the same way) reads back.
  assert.equal(addressFromClientState(box.derive('graph-notifications'), clientStateFor(endpoint!.key, 'a@contoso.test')), 'a@contoso.test');
});

test('serve and worker name --public-url in --help, and refuse a wrong one (flag or LIAISON_PUBLIC_URL) before starting', async () => {
  for (const command of ['serve', 'worker']) {
    const help = await liaison([command, '--help']);
    assert.equal(help.code, 0);
    const text = help.stdout.replace(/\s+/g, ' ');
    assert.match(text, /--public-url <url>.*\/graph\/notifications.*https only \(http is accepted for loopback hosts.*env: LIAISON_PUBLIC_URL/);
  }
  const data = mkdtempSync(path.join(tmpdir(), 'liaison-public-url-'));
  dirs.push(data);
  const flag = await liaison(['worker', '--data', data, '--public-url', 'http://liaison.contoso.com']);
  assert.notEqual(flag.code, 0);
  assert.match(flag.stderr, /--public-url.*must start with https:\/\//s);
  const env = await liaison(['serve', '--data', data, '--port', '0'], { env: { LIAISON_PUBLIC_URL: 'https://liaison.contoso.com/?a=b' } });
  assert.notEqual(env.code, 0);
  assert.match(env.stderr, /query/);
});
