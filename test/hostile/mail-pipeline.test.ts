/**
 * The pipeline over the hostile-mail corpus without a server: every message gives exactly one outcome and never
 * an exception; what reaches an outcome is data (no NUL, one-line names and subjects, attachment names without
 * paths or direction overrides, the original name in a note); a zip bomb is kept as the bytes it came as; a
 * forged copy of a Message-ID gets an outcome of its own and leaves the first message as it was.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ingest } from '../../src/sync/pipeline/ingest.js';
import { oneLine, safeFileName, textData } from '../../src/sync/pipeline/parse.js';
import type { IncomingOutcome } from '../../src/sync/ports.js';
import { committedCorpus } from '../helpers/hostile-mail.js';
import { lookupsDouble, ORGANIZATION, pipelineContext } from '../sync/pipeline/lookups-double.js';

type Tracked = Extract<IncomingOutcome, { kind: 'tracked' }>;

describe('the pipeline over the hostile-mail corpus', () => {
  const messages = committedCorpus();

  test('one outcome per message, in one batch, and nothing but data in it', async () => {
    const outcomes = await ingest(messages.map((m) => ({ serverId: m.name, mime: m.mime })), pipelineContext(lookupsDouble({})));
    assert.equal(outcomes.length, messages.length);
    for (const [i, outcome] of outcomes.entries()) {
      const message = messages[i]!;
      assert.equal(outcome.serverId, message.name, 'in the inputs\' order');
      if (message.expect) assert.equal(outcome.kind, message.expect, `${message.name}: ${JSON.stringify(outcome).slice(0, 300)}`);
      if (outcome.kind === 'failed') assert.match(outcome.error.code, /^mime\./, `${message.name} failed with a reason`);
      if (outcome.kind !== 'tracked') continue;
      const a = outcome.activity;
      const text = [a.subject, a.bodyText ?? '', a.bodyHtml ?? '', a.internetMessageId, ...a.parties.map((p) => `${p.displayName ?? ''} ${p.address}`), ...a.attachments.map((f) => f.fileName), ...a.notes];
      assert.ok(!text.some((t) => t.includes('\u0000')), `${message.name}: no NUL`);
      assert.ok(!/[\r\n]/.test(a.subject), `${message.name}: the subject is one line`);
      for (const p of a.parties) assert.ok(!/[\r\n]/.test(`${p.displayName ?? ''}${p.address}`), `${message.name}: ${JSON.stringify(p)} is one line`);
      // eslint-disable-next-line no-control-regex -- control characters are what it looks for
      for (const f of a.attachments) assert.ok(!/[\\/\u202a-\u202e\u2066-\u2069\u0000-\u001f]/.test(f.fileName) && !['.', '..', ''].includes(f.fileName), `${message.name}: ${JSON.stringify(f.fileName)}`);
    }
  });

  test('a zip bomb is kept as it came, compressed: nothing expands it', async () => {
    const bombs = messages.filter((m) => m.category === 'zip-bomb' && m.name !== 'zip-bomb--gzip-as-content-encoding-of-text');
    const before = process.memoryUsage().rss;
    const context = pipelineContext(lookupsDouble({}), { organization: { ...ORGANIZATION, maxAttachmentBytes: 25 * 1024 * 1024 } });
    const outcomes = await ingest(bombs.map((m) => ({ serverId: m.name, mime: m.mime })), context);
    for (const outcome of outcomes) {
      const kept = (outcome as Tracked).activity.attachments;
      assert.equal(kept.length, 1, JSON.stringify((outcome as Tracked).activity.notes));
      assert.ok(kept[0]!.content.length < 1024 * 1024, `the ${kept[0]!.fileName} of ${outcome.serverId} is ${kept[0]!.content.length} bytes, not its 64 MiB expanded`);
    }
    assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024, 'no 64 MiB expansion per bomb');
  });

  test('a dangerous attachment name is cleaned, and the original is in a note', async () => {
    const rtl = messages.find((m) => m.name === 'file-name--rtl-and-traversal-rfc2231')!;
    const [outcome] = await ingest([{ serverId: '1', mime: rtl.mime }], pipelineContext(lookupsDouble({})));
    const activity = (outcome as Tracked).activity;
    assert.deepEqual(activity.attachments.map((a) => a.fileName), []);
    assert.ok(activity.notes.some((n) => n.includes('renamed to "txt.exe"')), JSON.stringify(activity.notes));
    assert.ok(activity.notes.some((n) => n.includes('.exe files are blocked')), 'and the cleaned name meets the blocked-extension rule');
    assert.deepEqual(safeFileName('../../x', 'text/plain', 0), { fileName: 'x', renamedFrom: '../../x' });
    assert.deepEqual(safeFileName('invoice\u202Efdp.exe', 'text/plain', 0), { fileName: 'invoicefdp.exe', renamedFrom: 'invoice\u202Efdp.exe' });
    assert.deepEqual(safeFileName('..', 'text/plain', 2), { fileName: 'attachment-3.txt', renamedFrom: '..' });
    assert.deepEqual(safeFileName('C:\\Windows\\win.ini', 'text/plain', 0), { fileName: 'win.ini', renamedFrom: 'C:\\Windows\\win.ini' });
    assert.deepEqual(safeFileName('report.pdf', 'application/pdf', 0), { fileName: 'report.pdf' });
    assert.equal(safeFileName(`${'n'.repeat(996)}.txt`, 'text/plain', 0).fileName.length, 255);
    assert.ok(safeFileName(`${'n'.repeat(996)}.txt`, 'text/plain', 0).fileName.endsWith('.txt'));
    assert.equal(oneLine('Alice\r\nBcc: x@y\u2028'), 'Alice  Bcc: x@y ');
    assert.equal(textData('a\u0000b\nc'), 'a\uFFFDb\nc');
  });

  test('a forged copy of a Message-ID has an outcome of its own; a copy of the same bytes is a plain duplicate', async () => {
    const original = messages.find((m) => m.name === 'message-id--forged-other-subject-original')!;
    const forged = messages.find((m) => m.name === 'message-id--forged-other-subject-copy')!;
    const outcomes = await ingest(
      [
        { serverId: 'a', mime: original.mime },
        { serverId: 'b', mime: forged.mime },
        { serverId: 'c', mime: original.mime },
      ],
      pipelineContext(lookupsDouble({})),
    );
    assert.equal(outcomes[0]!.kind, 'tracked');
    assert.equal((outcomes[0] as Tracked).activity.subject, 'The original (other-subject)');
    const copy = outcomes[1] as Extract<IncomingOutcome, { kind: 'filtered' }>;
    assert.equal(copy.kind, 'filtered');
    assert.match(copy.rule, /^duplicate-message-id:/);
    assert.match(copy.internetMessageId!, new RegExp(`^${original.messageId!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}#sha256:[0-9a-f]{32}$`), 'its own key, so the store keeps both');
    const same = outcomes[2] as Extract<IncomingOutcome, { kind: 'filtered' }>;
    assert.match(same.rule, /^duplicate-in-batch:/);
    assert.equal(same.internetMessageId, original.messageId);
  });
});
