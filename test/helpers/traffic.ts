/**
 * Checks recorded sandbox traffic against Microsoft's EWS schemas with Debian's xmllint (--nonet), an
 * implementation independent of the one the sandbox uses to judge requests. Every request the sandbox
 * accepted and every response document it produced is validated as a whole SOAP envelope.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { ExchangeRecord } from '../../src/sandbox/runtime.js';
import { EWS_SCHEMA_DIR } from '../../src/xml/ews-schema.js';
import { requireService } from './services.js';

function xmllintProblem(): string | null {
  const result = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
  if (result.error) return 'xmllint is not installed (Debian package libxml2-utils)';
  return null;
}

const problem = xmllintProblem();

/** describe() options for suites that validate traffic: a loud skip without xmllint, a failure in CI. */
export function xmllintSuite(): { skip?: string } {
  return requireService('xmllint', problem);
}

export const xmllintAvailable = problem === null;

/**
 * The published schema declares the notifications of GetStreamingEvents in the types namespace; Exchange
 * sends them in the messages namespace, and the clients built against Exchange expect that. The sandbox sends
 * what Exchange sends, and this check reads that one element as the schema declares it.
 */
function alignStreamingNotification(document: string): string {
  return document.replace(/<(\/?)m:Notification>/g, '<$1t:Notification>');
}

export interface TrafficProblem {
  operation: string;
  part: 'request' | 'response';
  message: string;
  text: string;
}

export function validateTraffic(records: readonly ExchangeRecord[]): { checked: number; problems: TrafficProblem[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-traffic-'));
  const files: Array<{ file: string; operation: string; part: 'request' | 'response'; text: string }> = [];
  try {
    for (const record of records) {
      if (record.surface !== 'ews') continue;
      const add = (part: 'request' | 'response', text: string) => {
        if (!text.trim()) return;
        const file = path.join(dir, `${files.length}.xml`);
        writeFileSync(file, text);
        files.push({ file, operation: record.operation, part, text });
      };
      if (record.accepted) add('request', record.request);
      for (const document of record.response) add('response', record.operation === 'GetStreamingEvents' ? alignStreamingNotification(document) : document);
    }
    const problems: TrafficProblem[] = [];
    const schema = path.join(EWS_SCHEMA_DIR, 'envelope.xsd');
    for (let start = 0; start < files.length; start += 200) {
      const batch = files.slice(start, start + 200);
      let output = '';
      try {
        execFileSync('xmllint', ['--nonet', '--noout', '--schema', schema, ...batch.map((f) => f.file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        output = String((error as { stderr?: string }).stderr ?? error);
      }
      for (const entry of batch) {
        if (!output.includes(`${entry.file} fails to validate`) && !output.includes(`${entry.file}:`)) continue;
        const lines = output.split('\n').filter((l) => l.startsWith(`${entry.file}:`));
        problems.push({ operation: entry.operation, part: entry.part, message: lines.join('\n') || 'fails to validate', text: entry.text.slice(0, 2000) });
      }
    }
    return { checked: files.length, problems };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Registers the test that checks a suite's recorded traffic; call it last in the describe() block, so that
 * it runs after the tests that made the traffic.
 */
export function testTraffic(records: () => readonly ExchangeRecord[], minimum = 1): void {
  test('every request the sandbox accepted and every response it sent validates against the EWS schemas', xmllintSuite(), () => {
    const { checked, problems } = validateTraffic(records());
    assert.ok(checked >= minimum, `only ${checked} documents were recorded`);
    assert.equal(problems.length, 0, describeProblems(problems));
  });
}

export function describeProblems(problems: TrafficProblem[]): string {
  return problems.map((p) => `${p.operation} ${p.part}: ${p.message}\n  ${p.text.slice(0, 600)}`).join('\n\n');
}
