/**
 * The HTTP server: /health, /metrics, /docs, /graph/notifications (Microsoft Graph's change notifications), the REST API under /api/v1 (bearer tokens or the console's session
 * cookie), and the admin console at every other path.
 */
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { DiagnosticsContext } from '../diagnostics/runs.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';
import { authenticate } from './auth.js';
import { DEFAULT_WEB_ROOT, registerConsole } from './console.js';
import { describeBytes, errorHandler, send } from './errors.js';
import { registerMetrics } from './metrics.js';
import { activityRoutes } from './routes/activities.js';
import { alertRoutes } from './routes/alerts.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { graphNotificationRoutes } from './routes/graph-notifications.js';
import { mailboxRoutes } from './routes/mailboxes.js';
import { organizationRoutes } from './routes/organization.js';
import { profileRoutes } from './routes/profiles.js';
import { recordRoutes } from './routes/records.js';
import { sessionRoutes } from './routes/session.js';
import { userRoutes } from './routes/users.js';
import { ErrorBody } from './schemas.js';
import { validatorCompiler } from './validation.js';

export const API_PREFIX = '/api/v1';

/**
 * Request body limits in bytes, for routes that set none of their own (drafts do, see DRAFT_REQUEST_MAX_BYTES):
 * one that fits every other body the API takes (the largest, a profile with a 64 KiB CA bundle, stays well
 * under it), and almost nothing where no body is expected.
 */
export const BODY_LIMITS = { default: 512 * 1024, noBody: 1024 } as const;

export interface ApiOptions {
  store: Store;
  logger?: FastifyServerOptions['logger'];
  /**
   * What Test Connection and Test & Enable run: the diagnostics service and the host-name overrides
   * (`--resolve`). Without it those routes answer 503.
   */
  diagnostics?: DiagnosticsContext | null;
  /**
   * The built admin console (`vite build`'s output) served at `/`; undefined: dist/web of this package; null: no
   * console (every page path answers that it is not built).
   */
  webRoot?: string | null;
}

/** Never let a secret reach the log, whatever a future log line includes. */
export const LOG_REDACT = {
  paths: [
    'req.headers.authorization',
    'headers.authorization',
    '*.password',
    '*.outgoingPassword',
    '*.clientSecret',
    '*.clientCertificate',
    '*.token',
    '*.currentPassword',
    '*.setupToken',
    'req.headers.cookie',
    'headers.cookie',
    'req.headers["x-csrf-token"]',
    'res.headers["set-cookie"]',
    'body.password',
    'body.currentPassword',
    'body.token',
    'body.outgoingPassword',
    'body.clientSecret',
    'body.clientCertificate',
  ],
  censor: '[redacted]',
};

/** A route as Fastify registered it: what the authorization matrix test walks (test/api-authz-matrix.test.ts). */
export interface RegisteredRoute {
  method: string;
  url: string;
  /** config.public: the route authenticates (or not) on its own. */
  public: boolean;
}

const ROUTES = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the server registered (HEAD twins of GET routes left out), in registration order. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return ROUTES.get(app) ?? [];
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const { store } = options;
  const app = Fastify({
    logger: options.logger ?? false,
    // Unknown query parameters and fields are errors, not silently dropped settings.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: text/plain (which Fastify reads by default) is refused 415 like any other type, not read as a string.
  app.removeContentTypeParser('text/plain');
  const routes: RegisteredRoute[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, public: route.config?.public === true });
    }
    route.bodyLimit ??= route.schema?.body ? BODY_LIMITS.default : BODY_LIMITS.noBody;
    if (route.schema?.body && !route.schema.hide) {
      const note = `The request body may be at most ${describeBytes(route.bodyLimit)}; a larger one is answered 413.`;
      const description = route.schema.description ?? '';
      if (!description.includes(note)) route.schema.description = description ? `${description}\n\n${note}` : note;
      route.schema.response = { 413: ErrorBody, 415: ErrorBody, ...(route.schema.response as object | undefined) };
    }
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.decorateRequest('user', null);
  app.decorateRequest('consoleSession', null);
  await app.register(cookie);
  const consolePage = await registerConsole(app, options.webRoot === undefined ? DEFAULT_WEB_ROOT : options.webRoot);
  // A page of the console is any GET path the API does not own; the rest of the misses are the API's own 404.
  app.setNotFoundHandler((request, reply) => consolePage(request, reply) ?? send(reply, 404, `No route ${request.method} ${request.url.split('?')[0]}`));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Liaison API',
        version: VERSION,
        description:
          'Server-side synchronization between the CRM and mail servers. Every /api/v1 call but those of /api/v1/session needs ' +
          '`Authorization: Bearer <token>` (create a token with `liaison user create` or `liaison user token`) or the web console\'s ' +
          'session cookie (sign in with POST /api/v1/session). A POST, PUT, PATCH or DELETE made with the cookie must also send the ' +
          'session\'s CSRF token as the X-CSRF-Token header, and is refused from another origin.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer' },
          cookieAuth: { type: 'apiKey', in: 'cookie', name: 'liaison_session' },
        },
      },
      security: [{ bearerAuth: [] }, { cookieAuth: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { url: `${API_PREFIX}/openapi.json` } as never });

  const registry = registerMetrics(app, store);

  app.get('/health', { schema: { hide: true } }, async (_request, reply) => {
    const database = await store.health();
    return reply.code(database.reachable ? 200 : 503).send({
      status: database.reachable ? 'ok' : 'unavailable',
      version: VERSION,
      database: { dialect: store.database.dialect, ...database },
    });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('Content-Type', registry.contentType).send(await registry.metrics()),
  );

  // Microsoft Graph's change notifications: no Liaison credentials (the clientState proves them), outside /api/v1.
  await app.register(graphNotificationRoutes(store));

  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      api.addHook('onRequest', authenticate(store));
      await api.register(sessionRoutes(store));
      await api.register(userRoutes(store));
      await api.register(recordRoutes(store));
      await api.register(profileRoutes(store, options.diagnostics ?? null));
      await api.register(mailboxRoutes(store, options.diagnostics ?? null));
      await api.register(activityRoutes(store));
      await api.register(alertRoutes(store));
      await api.register(dashboardRoutes(store));
      await api.register(organizationRoutes(store));
    },
    { prefix: API_PREFIX },
  );

  await app.ready();
  return app;
}
