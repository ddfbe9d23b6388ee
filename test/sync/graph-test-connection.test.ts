/**
 * Test Connection of an exchange-online profile against the sandbox's Graph side, through the store and the real
 * diagnostics (as the API's Test Connection runs it): the demo app passes all three steps; a wrong client secret
 * fails step 1 (the token) with Azure AD's AADSTS7000215 named and the fix in the app registration; an
 * application access policy that excludes the mailbox fails step 3 (the mailbox) with the PowerShell that shows
 * and changes the policy (Test-ApplicationAccessPolicy), steps 1 and 2 passing. The result is kept as the
 * profile's last one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDiagnostics } from '../../src/diagnostics/index.js';
import { testProfileConnection } from '../../src/diagnostics/runs.js';
import type { ConnectionTestResult, StepResult } from '../../src/diagnostics/types.js';
import { createGraphProfile, graphAddresses, openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { sandboxResolve } from '../helpers/sandbox-connect.js';
import { createSandboxMailboxes } from '../helpers/sync.js';

/** Everything a step says, in one string to search. */
function said(step: StepResult | undefined): string {
  return JSON.stringify(step ?? null);
}

function statuses(result: ConnectionTestResult): string[] {
  return result.steps.map((s) => `${s.step}:${s.status}`);
}

describe('Test Connection over Graph against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  before(async () => {
    s = await startTestSandbox();
    w = await openGraphWorld(s, { mailboxes: 1 });
  });
  after(async () => {
    await w?.close();
    await s?.close();
  });
  const context = () => ({ service: createDiagnostics(), resolve: sandboxResolve(s) });

  test('the demo app passes the three steps', async () => {
    const result = await testProfileConnection(w.store, context(), w.profile.id, w.mailboxes[0]!.address);
    assert.equal(result.status, 'success', JSON.stringify(result.steps, null, 2));
    assert.deepEqual(statuses(result), ['token:success', 'graph:success', 'mailbox:success']);
  });

  test('a wrong client secret fails step 1 with AADSTS7000215 named', async () => {
    const profile = await createGraphProfile(w.store, s, { ownerId: w.owner.id, name: 'Wrong secret', clientSecret: 'not-the-secret~0123456789abcdefghij' });
    const result = await testProfileConnection(w.store, context(), profile.id, w.mailboxes[0]!.address);
    assert.equal(result.status, 'failure');
    const [first, ...rest] = result.steps;
    assert.equal(first!.step, 'token');
    assert.equal(first!.status, 'failure', said(first));
    assert.match(said(first), /AADSTS7000215/, 'the AADSTS code is named');
    assert.match(first!.fix ?? '', /secret/i, `the fix is about the client secret: ${first!.fix}`);
    assert.match(first!.fix ?? '', /Certificates & secrets/, 'and says where to make a new one');
    assert.ok(rest.every((x) => x.status !== 'success'), `nothing after a failed token succeeds: ${statuses(result).join(', ')}`);
    const kept = await w.store.profiles.get(profile.id);
    assert.equal(kept.lastTestResult?.status, 'failure', 'the failed result is the profile\'s last one');
    assert.match(JSON.stringify(kept.lastTestResult?.steps[0]), /AADSTS7000215/);
  });

  test('an application access policy that excludes the mailbox fails step 3 with the fix', async () => {
    const [excluded] = graphAddresses(1, 'gpolicy');
    await createSandboxMailboxes(s, [excluded!]);
    // DenyAccess for this mailbox (New-ApplicationAccessPolicy -AccessRight DenyAccess): the app may open every mailbox but it.
    const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: w.graph.clientId, accessRight: 'DenyAccess', mailboxes: [excluded] });
    assert.equal(policy.status, 201, JSON.stringify(policy.json));
    try {
      const result = await testProfileConnection(w.store, context(), w.profile.id, excluded);
      assert.equal(result.status, 'failure');
      assert.deepEqual(statuses(result), ['token:success', 'graph:success', 'mailbox:failure'], JSON.stringify(result.steps, null, 2));
      const third = result.steps[2]!;
      assert.match(said(third), /ErrorAccessDenied/, 'Graph’s own error code is shown');
      assert.match(said(third), /AccessPolicy|access policy/i, 'the failure names the application access policy');
      assert.match(third.fix ?? '', /Test-ApplicationAccessPolicy/, `the fix shows how to check the policy: ${third.fix}`);
      assert.ok((third.fix ?? '').includes(excluded!) && (third.fix ?? '').includes(w.graph.clientId), 'for this mailbox and this app');
      // The mailbox the policy does not name still passes.
      const other = await testProfileConnection(w.store, context(), w.profile.id, w.mailboxes[0]!.address);
      assert.equal(other.status, 'success', JSON.stringify(other.steps, null, 2));
    } finally {
      await s.control('DELETE', `/graph/access-policies/${encodeURIComponent(policy.json.id)}`);
    }
  });
});
