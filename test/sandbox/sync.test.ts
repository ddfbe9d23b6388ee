import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeSync } from '../../src/sandbox/ews/sync.js';
import type { ChangeEntry } from '../../src/sandbox/state/model.js';

/** A folder's history: items appear, change, lose their read flag, leave; every change takes the next number. */
function randomHistory(seed: number, steps: number) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const log: ChangeEntry[] = [];
  const life = new Map<string, { createdSeq: number; deletedSeq: number | null }>();
  let seq = 0;
  let next = 0;
  const live = () => [...life.entries()].filter(([, l]) => l.deletedSeq === null).map(([id]) => id);
  for (let step = 0; step < steps; step += 1) {
    seq += 1 + Math.floor(random() * 3); // other folders take numbers too
    const choice = random();
    const present = live();
    if (choice < 0.45 || present.length === 0) {
      const id = `item-${(next += 1)}`;
      life.set(id, { createdSeq: seq, deletedSeq: null });
      log.push({ seq, id, kind: 'create' });
    } else {
      const id = present[Math.floor(random() * present.length)]!;
      if (choice < 0.65) log.push({ seq, id, kind: 'read' });
      else if (choice < 0.85) log.push({ seq, id, kind: 'update' });
      else {
        life.get(id)!.deletedSeq = seq;
        log.push({ seq, id, kind: 'delete' });
      }
    }
  }
  return { log, life, seq, live };
}

describe('sync change computation', () => {
  test('a client that applies every page ends with exactly the folder\'s items, whatever the page size and timing', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const history = randomHistory(seed, 60 + (seed % 40));
      const max = 1 + (seed % 7);
      // The client syncs at a few moments along the history, then to the end, page by page.
      const known = new Set<string>();
      let position = 0;
      const checkpoints = [Math.floor(history.seq / 3), Math.floor((2 * history.seq) / 3), history.seq];
      for (const now of checkpoints) {
        const visible = history.log.filter((e) => e.seq <= now);
        const lifetime = (id: string) => {
          const l = history.life.get(id)!;
          // What the server knew at that moment: a later delete had not happened yet.
          return { createdSeq: l.createdSeq, deletedSeq: l.deletedSeq !== null && l.deletedSeq <= now ? l.deletedSeq : null };
        };
        for (let pages = 0; ; pages += 1) {
          assert.ok(pages < 1000, 'paging ends');
          const page = computeSync(visible, position, now, max, lifetime);
          assert.ok(page.changes.length <= max, 'never more than MaxChangesReturned');
          for (const change of page.changes) {
            if (change.change === 'create') {
              assert.ok(!known.has(change.id), `seed ${seed}: ${change.id} created twice`);
              known.add(change.id);
            } else if (change.change === 'delete') {
              assert.ok(known.delete(change.id), `seed ${seed}: ${change.id} deleted but never created`);
            } else {
              assert.ok(known.has(change.id), `seed ${seed}: ${change.id} changed but never created`);
            }
          }
          assert.ok(page.position >= position, 'the position never goes back');
          position = page.position;
          if (page.last) break;
        }
        const expected = [...history.life.entries()]
          .filter(([, l]) => l.createdSeq <= now && !(l.deletedSeq !== null && l.deletedSeq <= now))
          .map(([id]) => id)
          .sort();
        assert.deepEqual([...known].sort(), expected, `seed ${seed}, page size ${max}, at ${now}`);
      }
    }
  });

  test('a read flag alone is a ReadFlagChange; with anything else, an Update', () => {
    const log: ChangeEntry[] = [
      { seq: 1, id: 'a', kind: 'create' },
      { seq: 2, id: 'b', kind: 'create' },
      { seq: 3, id: 'a', kind: 'read' },
      { seq: 4, id: 'b', kind: 'read' },
      { seq: 5, id: 'b', kind: 'update' },
    ];
    const page = computeSync(log, 2, 5, 10, () => ({ createdSeq: 1, deletedSeq: null }));
    assert.deepEqual(page.changes, [
      { id: 'a', change: 'read' },
      { id: 'b', change: 'update' },
    ]);
  });

  test('an item that comes and goes between two syncs is not reported at all', () => {
    const log: ChangeEntry[] = [
      { seq: 1, id: 'a', kind: 'create' },
      { seq: 2, id: 'a', kind: 'delete' },
    ];
    assert.deepEqual(computeSync(log, 0, 2, 10, () => ({ createdSeq: 1, deletedSeq: 2 })).changes, []);
  });
});
