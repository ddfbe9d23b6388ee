/** The CLI never starts a store by accident, and the store's files are private to the account that runs it. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { diagnosticsService } from '../src/cli/diagnostics.js';
import { liaison, start } from './helpers/cli.js';
import { POSTGRES_URL, postgres } from './helpers/stores.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-cli-data-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const STORE_COMMANDS = [
  ['user', 'list'],
  ['user', 'create', '--email', 'a@example.com', '--name', 'A'],
  ['user', 'token', '--email', 'a@example.com'],
  ['user', 'tokens', '--email', 'a@example.com'],
  ['user', 'revoke-token', '--email', 'a@example.com', '--token-id', '0190a0b0-0000-7000-8000-000000000000'],
  ['user', 'delete', '--email', 'a@example.com'],
];

describe('commands other than serve and migrate need an existing store', () => {
  for (const command of STORE_COMMANDS) {
    test(`${command.slice(0, 2).join(' ')} refuses a data folder that does not exist, and creates nothing`, async () => {
      const typo = path.join(tempDir(), 'typo', 'dir');
      const result = await liaison([...command, '--data', typo]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, new RegExp(`^liaison: ${typo.replace(/[/\\.]/g, '\\$&')} holds no Liaison store`));
      assert.match(result.stderr, /--data/);
      assert.equal(existsSync(typo), false, 'the folder was not created');
    });
  }

  test('an existing folder without a store is refused too, and stays empty', async () => {
    const empty = tempDir();
    const result = await liaison(['user', 'list', '--data', empty]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /holds no Liaison store \(there is no liaison\.db in it\)/);
    assert.deepEqual(readdirSync(empty), []);
  });

  test('a liaison.db that is not a Liaison store is refused', async () => {
    const data = tempDir();
    writeFileSync(path.join(data, 'liaison.db'), '');
    const result = await liaison(['user', 'list', '--data', data]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /liaison\.db holds no Liaison store \(it has none of Liaison's tables\)/);
    assert.deepEqual(readdirSync(data).sort(), ['liaison.db'], 'no secret key was created next to it');
  });

  test('migrate creates the store; then the other commands use it', async () => {
    const data = path.join(tempDir(), 'new');
    const migrated = await liaison(['migrate', '--data', data]);
    assert.equal(migrated.code, 0, migrated.stderr);
    const created = await liaison(['user', 'create', '--email', 'a@example.com', '--name', 'A', '--admin', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const listed = await liaison(['user', 'list', '--data', data]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /a@example\.com/);
  });
});

describe('the embedded database is private', () => {
  test('liaison.db and its -wal and -shm files are 0600 when the data folder already existed', async () => {
    const data = tempDir();
    mkdirSync(data, { recursive: true, mode: 0o755 });
    // A user session's usual umask: files would be 0644 without care.
    const migrated = await liaison(['migrate', '--data', data]);
    assert.equal(migrated.code, 0, migrated.stderr);
    const created = await liaison(['user', 'create', '--email', 'b@example.com', '--name', 'B', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const files = readdirSync(data).filter((f) => f.startsWith('liaison.db'));
    assert.ok(files.includes('liaison.db'));
    for (const file of files) assert.equal(statSync(path.join(data, file)).mode & 0o777, 0o600, file);
    assert.equal(statSync(path.join(data, 'secret.key')).mode & 0o777, 0o600);
  });

  test('a liaison.db an earlier version left 0644 is made 0600 on the next open', async () => {
    const data = tempDir();
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    chmodSync(path.join(data, 'liaison.db'), 0o644);
    const listed = await liaison(['user', 'list', '--data', data]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(statSync(path.join(data, 'liaison.db')).mode & 0o777, 0o600);
  });
});

describe('commands on PostgreSQL need an existing store', postgres.suite, () => {
  test('user list against a database without Liaison tables is refused, creating nothing', async () => {
    const schema = `liaison_cli_data_${process.pid}_${Date.now()}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`create schema "${schema}"`);
      const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const data = path.join(tempDir(), 'data');
      const result = await liaison(['user', 'list', '--data', data, '--database-url', url]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /holds no Liaison store \(it has none of Liaison's tables\): check --database-url/);
      const tables = await client.query(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [schema]);
      assert.equal(tables.rows[0].n, 0, 'no tables were created');
      assert.equal(existsSync(data), false, 'no data folder or key file was created');
    } finally {
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });
});

describe('serve says what runs', () => {
  test('serve runs one sync worker, and none with --no-workers', async () => {
    const data = tempDir();
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    const apiOnly = start(['serve', '--port', '0', '--data', data, '--no-workers']);
    try {
      await apiOnly.waitFor(/"msg":"store ready[^"]*"/);
    } finally {
      await apiOnly.stop();
    }
    assert.match(apiOnly.output(), /"syncWorkers":0,"workerId":null,"msg":"store ready; --no-workers: no mailbox is synchronized by this process"/);
    assert.match(apiOnly.output(), /^Mail synchronization: off in this process \(--no-workers\)/m);
    const server = start(['serve', '--port', '0', '--data', data]);
    try {
      await server.waitFor(/"msg":"store ready[^"]*"/);
      await server.waitFor(/^Mail synchronization: .*\n/m);
    } finally {
      await server.stop();
    }
    const output = server.output();
    assert.match(output, /"syncWorkers":1,"workerId":"[^"]+","msg":"store ready; the sync engine runs in this process"/);
    assert.match(output, /^Mail synchronization: on in this process/m);
    assert.match(output, /finishing the mailbox cycles in hand and releasing their leases/);
    // Test Connection and Test & Enable are there exactly when the build has the diagnostics service.
    const promised = /^Test Connection and Test & Enable: not in this build \(answered 503\)$/m;
    if (diagnosticsService() === null) assert.match(output, promised);
    else assert.doesNotMatch(output, promised);
  });
});
