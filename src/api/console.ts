/**
 * Serving the admin console: the files `vite build` wrote (dist/web), with `index.html` for every page path so
 * the console's own router shows the page. The API, the documentation, /health and /metrics keep their routes;
 * a path under them that matches nothing keeps its JSON 404.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the console: <package>/dist/web, reached the same way from src/api and dist/api. */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

/** Paths the console does not own: a miss there is the API's 404, not the console's page. */
const NOT_CONSOLE = /^\/(api|docs|health|metrics|assets)(\/|$)/;

/**
 * What every console answer carries: only Liaison's own scripts, styles and images, no framing, no referrer
 * beyond this origin. Email bodies are shown in a sandboxed frame without scripts (the `frame-src` of srcdoc
 * frames follows the page's own policy).
 */
export const CONSOLE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
} as const;

export function isConsolePath(url: string): boolean {
  return !NOT_CONSOLE.test(url.split('?')[0] ?? '/');
}

export async function registerConsole(app: FastifyInstance, root: string | null): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply | null> {
  const index = root && existsSync(path.join(root, 'index.html')) ? path.join(root, 'index.html') : null;
  if (root && index) {
    await app.register(fastifyStatic, {
      root: path.join(root, 'assets'),
      prefix: '/assets/',
      // Vite names every asset by its content hash: it never changes under its name.
      immutable: true,
      maxAge: '365d',
      setHeaders: (reply) => {
        reply.headers(CONSOLE_HEADERS);
      },
    });
  }
  // Read once: the page is small and the same for every path.
  const page = index ? readFileSync(index) : null;
  return (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return null;
    if (!isConsolePath(request.url)) return null;
    reply.headers(CONSOLE_HEADERS).header('cache-control', 'no-cache');
    if (!page) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><meta charset="utf-8"><title>Liaison</title><p>The admin console is not built. Run <code>npm run build</code> ' +
            'and restart Liaison. The API is at <a href="/api/v1/openapi.json">/api/v1</a>, its documentation at <a href="/docs">/docs</a>.</p>',
        );
    }
    return reply.code(200).type('text/html; charset=utf-8').send(page);
  };
}
