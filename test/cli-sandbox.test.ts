import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { liaison, start } from './helpers/cli.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-cli-sandbox-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface ReadyLine {
  listen: { port: number; httpPort: number | null };
  autodiscover: { httpRedirect: string | null };
  control: string;
}

describe('liaison sandbox and serve --sandbox: ports', () => {
  // A port that something else holds, for the "already in use" cases.
  let taken: Server;
  let takenPort: number;
  before(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  test('sandbox --http-port none runs without the plain-HTTP port', async () => {
    const sandbox = start(['sandbox', '--port', '0', '--http-port', 'none']);
    try {
      const [, line] = await sandbox.waitFor(/^(\{.*\})\n/m, 120_000);
      const ready = JSON.parse(line!) as ReadyLine;
      assert.equal(ready.listen.httpPort, null);
      assert.equal(ready.autodiscover.httpRedirect, null);
      assert.ok(ready.listen.port > 0);
    } finally {
      assert.equal(await sandbox.stop(), 0);
    }
  });

  test('serve --sandbox --sandbox-http-port none runs without the plain-HTTP port', async () => {
    const server = start(['serve', '--port', '0', '--sandbox', '--sandbox-port', '0', '--sandbox-http-port', 'none', '--data', tempDir()]);
    try {
      await server.waitFor(/Liaison is running on/, 120_000);
      assert.match(server.output(), /Exchange sandbox: EWS https:\/\/mail\.contoso\.test:\d+/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a port that is taken is one line naming the flag that changes it', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['sandbox', '--port', String(takenPort), '--http-port', 'none'], /HTTPS port \d+ on 127\.0\.0\.1 is already in use; choose another with --port\n/],
      [['sandbox', '--port', '0', '--http-port', String(takenPort)], /plain-HTTP port \d+ on 127\.0\.0\.1 is already in use; choose another with --http-port, or --http-port none/],
      [['serve', '--port', '0', '--sandbox', '--sandbox-port', String(takenPort), '--data', tempDir()], /choose another with --sandbox-port\n/],
      [['serve', '--port', '0', '--sandbox', '--sandbox-port', '0', '--sandbox-http-port', String(takenPort), '--data', tempDir()], /choose another with --sandbox-http-port, or --sandbox-http-port none/],
      [['serve', '--port', String(takenPort), '--data', tempDir()], /already in use; choose another with --port or LIAISON_PORT/],
    ];
    for (const [args, message] of cases) {
      const result = await liaison(args);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^liaison: /);
      assert.match(result.stderr, message, args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('liaison sandbox and serve --sandbox: the control API stays on loopback', () => {
  test('--help says so, for both commands', async () => {
    const sandbox = await liaison(['sandbox', '--help']);
    assert.match(sandbox.stdout, /--control-token <token>/);
    assert.match(sandbox.stdout, /answers only on 127\.0\.0\.1 and ::1/);
    const serve = await liaison(['serve', '--help']);
    assert.match(serve.stdout, /--sandbox-control-token <token>/);
  });

  test('listening on every address says that the control API is still loopback-only, or needs the token', async () => {
    const open = start(['sandbox', '--host', '0.0.0.0', '--port', '0', '--http-port', 'none']);
    try {
      const [, line] = await open.waitFor(/^(\{.*\})\n/m, 120_000);
      assert.equal((JSON.parse(line!) as { controlAccess: string }).controlAccess, 'loopback');
      await open.waitFor(/control API still answers only on the loopback address; give it a control token \(--control-token\)/, 120_000);
    } finally {
      await open.stop();
    }
    const withToken = start(['serve', '--port', '0', '--host', '0.0.0.0', '--sandbox', '--sandbox-port', '0', '--sandbox-http-port', 'none', '--data', tempDir()], {
      env: { LIAISON_SANDBOX_CONTROL_TOKEN: 'a-long-enough-control-token' },
    });
    try {
      await withToken.waitFor(/Liaison is running on/, 120_000);
      assert.match(withToken.output(), /control API answers other addresses only with "Authorization: Bearer <control token>"/);
      assert.doesNotMatch(withToken.output(), /a-long-enough-control-token/, 'the token is not printed');
    } finally {
      await withToken.stop();
    }
  });

  test('a short control token is refused', async () => {
    const result = await liaison(['sandbox', '--control-token', 'short']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /at least 16 printable characters/);
  });
});
