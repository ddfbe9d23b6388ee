/**
 * `npm run soak -- --minutes N [--seed S]`: the fault soak (soak.ts) for N minutes (default 5). Prints the seed
 * and the table, writes them into docs/RELIABILITY.md, and exits 1 when anything was lost, duplicated or sent
 * twice (or the engine did not catch up).
 */
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak, soakPassed, soakTable } from './soak.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, seed: { type: 'string' }, 'no-doc': { type: 'boolean', default: false } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
  process.stderr.write(`--minutes must be a number of minutes above 0, not ${values.minutes}\n`);
  process.exit(2);
}
const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
  process.stderr.write(`--seed must be a whole number from 0 to 2^32-1, not ${values.seed}\n`);
  process.exit(2);
}
const command = `npm run soak -- --minutes ${values.minutes} --seed ${seed}`;
process.stdout.write(`seed ${seed} (again: ${command})\n`);

const result = await runSoak({ minutes, seed, faultEveryMs: 3_000, catchUpLimitMs: 300_000, log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) });
const table = soakTable(result);
const passed = soakPassed(result);
process.stdout.write(`\n${table}\n\n${passed ? 'PASSED' : 'FAILED'}\n`);
if (result.problems.length > 0) process.stdout.write(`\nproblems:\n${result.problems.join('\n')}\n`);

if (!values['no-doc']) {
  const doc = path.resolve('docs/RELIABILITY.md');
  const text = readFileSync(doc, 'utf8');
  const begin = '<!-- soak:begin -->';
  const end = '<!-- soak:end -->';
  const at = text.indexOf(begin);
  const until = text.indexOf(end);
  if (at < 0 || until < at) throw new Error(`${doc} lacks the ${begin} … ${end} markers the soak writes between`);
  const section = [
    begin,
    `Last run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, \`${command}\` (seed ${seed}), ${passed ? 'passed' : '**failed**'}.`,
    '',
    table,
    end,
  ].join('\n');
  writeFileSync(doc, text.slice(0, at) + section + text.slice(until + end.length));
  process.stdout.write(`wrote ${doc}\n`);
}
process.exit(passed ? 0 : 1);
