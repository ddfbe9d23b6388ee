/** The Graph side's directory is kept with the data folder: apps, policies, the tenant and the token-signing key survive a restart. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startGraphSandbox } from './graph-support.js';

test('apps, access policies, the tenant and tokens issued before a restart stay valid after it', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'liaison-graph-state-'));
  try {
    const first = await startGraphSandbox({ dataDir });
    const app = await first.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { displayName: 'kept', permissions: ['Mail.Read'] });
    const policy = await first.control<{ id: string }>('POST', '/graph/access-policies', { appId: app.json.clientId, accessRight: 'RestrictAccess', mailboxes: ['bob@contoso.test'] });
    const token = await first.token(app.json.clientId, app.json.secrets[0]!.value);
    const tenantId = first.tenantId;
    await first.close();

    const second = await startGraphSandbox({ dataDir, port: 0 });
    try {
      assert.equal(second.tenantId, tenantId);
      assert.equal(second.info.graph.clientSecret, first.clientSecret);
      const apps = await second.control<Array<{ clientId: string }>>('GET', '/graph/apps');
      assert.ok(apps.json.some((a) => a.clientId === app.json.clientId));
      const policies = await second.control<Array<{ id: string }>>('GET', '/graph/access-policies');
      assert.deepEqual(policies.json.map((p) => p.id), [policy.json.id]);
      assert.equal((await second.graph('GET', '/users/bob@contoso.test/mailFolders/inbox', { token })).status, 200);
      assert.equal((await second.graph('GET', '/users/alice@contoso.test/mailFolders/inbox', { token })).status, 403);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
