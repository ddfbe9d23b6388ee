import { createRequire } from 'node:module';

// The same relative path reaches package.json from src/ (tests, tsx) and from dist/ (the built command).
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

export const VERSION: string = pkg.version;
