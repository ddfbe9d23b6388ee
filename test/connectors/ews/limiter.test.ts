import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter } from '../../../src/connectors/ews/transport/http.js';

test('a mailbox at its limit holds back its own requests, not another mailbox', async () => {
  const limiter = new Limiter(10, 1);
  const releaseA = await limiter.acquire('alice');
  let secondA = false;
  const waitingA = limiter.acquire('alice').then((release) => {
    secondA = true;
    return release;
  });
  // Bob is under his limit and the profile under its own: he starts at once, though Alice waits.
  const releaseB = await Promise.race([limiter.acquire('bob'), new Promise<null>((r) => setTimeout(() => r(null), 200))]);
  assert.ok(releaseB, 'bob was not held behind alice');
  assert.equal(secondA, false);
  releaseA();
  (await waitingA)();
  assert.equal(secondA, true);
  releaseB();
  assert.equal(limiter.active, 0);
});

test('the profile-wide cap queues every key in order, and a waiter of the same key keeps its place', async () => {
  const limiter = new Limiter(2, 5);
  const a = await limiter.acquire('a');
  const b = await limiter.acquire('b');
  const order: string[] = [];
  const c = limiter.acquire('c').then((r) => (order.push('c'), r));
  const d = limiter.acquire('d').then((r) => (order.push('d'), r));
  a();
  (await c)();
  b();
  (await d)();
  assert.deepEqual(order, ['c', 'd']);
  assert.equal(limiter.waiting, 0);
});
