#!/usr/bin/env node
// The test command: type-check (the service, then the console), lint, then every test file under test/ with node:test (through tsx).
// `npm test -- test/api.test.ts` runs only the files named (and skips the checks).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const named = process.argv.slice(2);
if (named.length === 0) {
  run('npx', ['tsc', '--noEmit']);
  run('npx', ['tsc', '--noEmit', '-p', 'src/web']);
  run('npx', ['eslint', '--max-warnings', '0', '.']);
}
const files = named.length > 0 ? named : testFiles('test').sort();
run(process.execPath, ['--import', 'tsx', '--test', ...files]);
