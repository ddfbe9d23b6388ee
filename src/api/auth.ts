/** Bearer-token authentication and the two roles: administrators, and users who see what they own. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import type { User } from '../store/users.js';
import { send } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
  }
}

export function authenticate(store: Store) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      reply.header('WWW-Authenticate', 'Bearer realm="liaison"');
      return send(reply, 401, 'Send an API token: Authorization: Bearer <token> (create one with `liaison user create` or `liaison user token`)');
    }
    const user = await store.tokens.authenticate(match[1]!);
    if (!user) {
      reply.header('WWW-Authenticate', 'Bearer realm="liaison", error="invalid_token"');
      return send(reply, 401, 'The API token is not valid (it may have been revoked, or its user deleted)');
    }
    request.user = user;
  };
}

export function currentUser(request: FastifyRequest): User {
  if (!request.user) throw new Error('route reached without authentication');
  return request.user;
}

export function requireAdmin(request: FastifyRequest, what: string): User {
  const user = currentUser(request);
  if (!user.isAdmin) throw new ForbiddenError(`Only an administrator may ${what}`);
  return user;
}
