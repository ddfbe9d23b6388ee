import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { liaison, start } from '../helpers/cli.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-worker-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('liaison worker', () => {
  test('refuses a data folder that holds no store instead of starting an empty one', async () => {
    const result = await liaison(['worker', '--data', path.join(tempDir(), 'missing')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^liaison: /m);
  });

  test('runs the engine on an existing store and, on SIGTERM, finishes and says so', async () => {
    const data = tempDir();
    assert.equal((await liaison(['migrate', '--data', data])).code, 0);
    const worker = start(['worker', '--data', data, '--concurrency', '4', '--no-push']);
    try {
      await worker.waitFor(/worker \S+ started on .* \(sqlite\); up to 4 mailboxes at once, push off\n.*on SQLite one process does the work/);
    } finally {
      await worker.stop();
    }
    assert.match(worker.output(), /SIGTERM: finishing the cycles in hand and releasing their leases/);
    assert.match(worker.output(), /stopped/);
  });

  test('a bad --concurrency is refused with what it must be', async () => {
    const result = await liaison(['worker', '--concurrency', 'many']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /must be a whole number from 1 to 1000/);
  });
});
