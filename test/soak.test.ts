/**
 * The fault soak for one minute (the code of `npm run soak`, bench/soak/soak.ts): worker processes on PostgreSQL
 * against the sandbox and the test Dovecot/Postfix, mail arriving and email sent while every kind of fault is
 * injected; afterwards nothing is lost, duplicated or sent twice. The test runs one fixed seed by default, so that
 * the faults it injects are the same on every run (`npm run soak` draws a new seed each time, to find what this one
 * does not); LIAISON_SOAK_SEED runs another, e.g. the one a failed `npm run soak` printed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAULT_KINDS, runSoak, soakTable } from '../bench/soak/soak.js';
import { mailServersSkip } from './helpers/mail-servers.js';
import { postgres } from './helpers/stores.js';

const pgSkip = postgres.suite;
const mailSkip = mailServersSkip();

describe('the fault soak, one minute', pgSkip.skip ? pgSkip : mailSkip, () => {
  test('every message tracked once and every send delivered once through every kind of fault', { timeout: 240_000 }, async () => {
    const seed = Number(process.env.LIAISON_SOAK_SEED ?? 20261203);
    const lines: string[] = [];
    const result = await runSoak({ minutes: 1, seed, faultEveryMs: 2_500, catchUpLimitMs: 90_000, log: (line) => lines.push(line) });
    const context = `seed ${seed} (LIAISON_SOAK_SEED=${seed} replays it)\n${soakTable(result)}\n${result.problems.join('\n')}\n${lines.join('\n')}`;
    process.stdout.write(`soak: seed ${seed}\n${soakTable(result)}\n`);
    assert.ok(result.messages.ews > 0 && result.messages.imap > 0 && result.sends.ews > 0 && result.sends.smtp > 0, `mail flowed both ways: ${context}`);
    assert.deepEqual(FAULT_KINDS.filter((k) => result.faults[k] === 0), [], `every kind of fault was injected: ${context}`);
    assert.equal(result.caughtUp, true, `the engine caught up: ${context}`);
    assert.equal(result.lost, 0, `nothing lost: ${context}`);
    assert.equal(result.duplicated, 0, `nothing duplicated: ${context}`);
    assert.equal(result.doubleSent, 0, `nothing sent twice: ${context}`);
    assert.equal(result.sends.failed, 0, `no send failed for good: ${context}`);
    assert.equal(result.workerCrashes, 0, `no worker crashed: ${context}`);
  });
});
