/** The MIME corpus (test/fixtures/mime) as the pipeline's tests read it. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IngestInput } from '../../../src/sync/pipeline/types.js';

const folder = fileURLToPath(new URL('../../fixtures/mime/', import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(folder + name);
}

export function input(name: string, extra: Partial<IngestInput> = {}): IngestInput {
  return { serverId: `item:${name}`, mime: fixture(name), ...extra };
}
