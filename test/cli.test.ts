import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { Store } from '../src/store/store.js';
import { liaison, start } from './helpers/cli.js';
import { POSTGRES_URL, postgres } from './helpers/stores.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-cli-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('liaison command', () => {
  test('--help lists the commands', async () => {
    const result = await liaison(['--help']);
    assert.equal(result.code, 0);
    for (const command of ['serve', 'migrate', 'user']) assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, 'm'));
    const serve = await liaison(['serve', '--help']);
    for (const flag of ['--host', '--port', '--data', '--database-url', '--no-workers']) assert.ok(serve.stdout.includes(flag), flag);
  });

  test('user create prints a token once; serve answers with it; flags beat environment variables', async () => {
    const data = tempDir();
    assert.equal((await liaison(['migrate', '--data', data])).code, 0, 'migrate (or serve) creates the store');
    const created = await liaison(['user', 'create', '--email', 'admin@example.com', '--name', 'Admin', '--admin', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.match(/^(lsn_\S+)$/m)?.[1];
    assert.ok(token, `no token in: ${created.stdout}`);
    assert.match(created.stdout, /shown only now/);
    assert.equal(statSync(path.join(data, 'secret.key')).mode & 0o777, 0o600, 'the key file is created with mode 0600');

    // LIAISON_PORT names a port nobody may use here; the flag must win. LIAISON_DATA is the data folder.
    const server = start(['serve', '--port', '0'], { env: { LIAISON_PORT: '1', LIAISON_DATA: data } });
    try {
      const [, url] = await server.waitFor(/Liaison is running on (http:\/\/\S+)/);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      const me = await fetch(`${url}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(me.status, 200);
      assert.equal(((await me.json()) as { email: string }).email, 'admin@example.com');
      assert.equal((await fetch(`${url}/api/v1/users/me`)).status, 401);
    } finally {
      assert.equal(await server.stop(), 0, 'SIGTERM shuts down cleanly');
    }
    assert.ok(!server.output().includes(token), 'the server never prints a token');

    const again = await liaison(['user', 'token', '--email', 'ADMIN@example.com', '--data', data, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(JSON.parse(again.stdout).token, /^lsn_/);
  });

  test('mistakes get one line that says what to fix', async () => {
    const data = tempDir();
    const bad = await liaison(['migrate', '--data', data, '--database-url', 'mysql://localhost/x']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^liaison: The database URL must start with postgres:\/\//);
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    const key = await liaison(['user', 'list', '--data', data], { env: { LIAISON_SECRET_KEY: 'too-short' } });
    assert.equal(key.code, 1);
    assert.match(key.stderr, /openssl rand -base64 32/);
    const port = await liaison(['serve', '--port', '70000', '--data', data]);
    assert.notEqual(port.code, 0);
    assert.match(port.stderr, /port number/);
    await liaison(['user', 'create', '--email', 'a@example.com', '--name', 'A', '--data', data]);
    const dup = await liaison(['user', 'create', '--email', 'A@example.com', '--name', 'A', '--data', data]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already the address/);
    assert.doesNotMatch(dup.stderr, /\n\s+at /, 'no stack trace for a known mistake');
  });

  test('serve prints a one-time setup link while no administrator can sign in; the link creates the first one', async () => {
    const data = tempDir();
    const server = start(['serve', '--port', '0', '--no-workers', '--data', data]);
    try {
      const [, url, token] = await server.waitFor(/Set the first password within 24 hours at:\n {2}(http:\/\/\S+)\/setup#(\S+)/);
      assert.match(server.output(), /No administrator yet/);
      const status = await fetch(`${url}/api/v1/session/setup`);
      assert.deepEqual(await status.json(), { needed: true, mode: 'create-admin' });
      const done = await fetch(`${url}/api/v1/session/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, password: 'the first admin password', email: 'first@example.com', name: 'First' }),
      });
      assert.equal(done.status, 200, await done.clone().text());
      assert.match(done.headers.get('set-cookie') ?? '', /^liaison_session=[^;]+; .*HttpOnly/);
      assert.equal(((await done.json()) as { user: { isAdmin: boolean } }).user.isAdmin, true);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    // Restarted with an administrator who can sign in: no link.
    const again = start(['serve', '--port', '0', '--no-workers', '--data', data]);
    try {
      await again.waitFor(/Liaison is running on/);
      assert.doesNotMatch(again.output(), /setup#|No administrator/);
    } finally {
      await again.stop();
    }
  });

  test('user password sets the console password from standard input, and refuses what it cannot use', async () => {
    const data = tempDir();
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    const created = await liaison(['user', 'create', '--email', 'pat@example.com', '--name', 'Pat', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const notTty = await liaison(['user', 'password', '--email', 'pat@example.com', '--data', data], { stdin: 'a long enough password\n' });
    assert.equal(notTty.code, 1);
    assert.match(notTty.stderr, /not a terminal.*--password-stdin/);
    const short = await liaison(['user', 'password', '--email', 'pat@example.com', '--password-stdin', '--data', data], { stdin: 'short\n' });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /password: must be 12 to 1024 characters/);
    const unknown = await liaison(['user', 'password', '--email', 'nobody@example.com', '--password-stdin', '--data', data], { stdin: 'a long enough password\n' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nobody@example\.com/);

    const store = await Store.open({ dataDir: data, env: {} });
    try {
      const pat = (await store.users.findByEmail('pat@example.com'))!;
      const before = await store.sessions.create(pat.id);
      const set = await liaison(['user', 'password', '--email', 'PAT@example.com', '--password-stdin', '--data', data], { stdin: 'a long enough password\r\nsecond line ignored\n' });
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /Set the console password of user pat@example\.com; 1 console session ended/);
      assert.ok(!set.stdout.includes('a long enough password') && !set.stderr.includes('a long enough password'), 'the password is never printed');
      assert.equal(await store.sessions.authenticate(before.secret), null, "the user's sessions ended");
      assert.equal((await store.sessions.login('pat@example.com', 'a long enough password')).user.id, pat.id);
    } finally {
      await store.close();
    }
  });

});

describe('liaison command on PostgreSQL', postgres.suite, () => {
  test('migrate and user create take --database-url (or DATABASE_URL)', async () => {
    const schema = `liaison_cli_${process.pid}_${Date.now()}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`create schema "${schema}"`);
      const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const data = tempDir();
      const migrated = await liaison(['migrate', '--data', data, '--database-url', url]);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.match(migrated.stdout, /Applied 0001-foundation/);
      const second = await liaison(['migrate', '--data', data], { env: { DATABASE_URL: url } });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /is up to date/);
      const created = await liaison(['user', 'create', '--email', 'pg@example.com', '--name', 'PG', '--data', data], { env: { DATABASE_URL: url } });
      assert.equal(created.code, 0, created.stderr);
      const rows = await client.query(`select count(*)::int as n from "${schema}".users`);
      assert.equal(rows.rows[0].n, 1, 'the user is in PostgreSQL, not in a SQLite file');
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });
});
