/** /contacts, /accounts, /leads: the same shape for each. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { CrmRecordType } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import { CrmRecord, CrmRecordCreate, CrmRecordUpdate, Email, errorResponses, IdParams, PageOf, PageQuery } from '../schemas.js';

const COLLECTIONS: Array<{ path: string; type: CrmRecordType }> = [
  { path: '/contacts', type: 'contact' },
  { path: '/accounts', type: 'account' },
  { path: '/leads', type: 'lead' },
];

export function recordRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    for (const { path, type } of COLLECTIONS) {
      const tags = [`${type}s`];
      app.get(path, {
        schema: {
          tags,
          summary: `List ${type}s`,
          querystring: Type.Object({ ...PageQuery, emailAddress: Type.Optional(Email) }, { additionalProperties: false }),
          response: { 200: PageOf(CrmRecord), ...errorResponses },
        },
      }, async (request) => store.records.list(type, request.query));

      app.post(path, {
        schema: { tags, summary: `Create a ${type}`, body: CrmRecordCreate, response: { 201: CrmRecord, ...errorResponses } },
      }, async (request, reply) => reply.code(201).send(await store.records.create(type, request.body)));

      app.get(`${path}/:id`, {
        schema: { tags, summary: `Read a ${type}`, params: IdParams, response: { 200: CrmRecord, ...errorResponses } },
      }, async (request) => store.records.get(type, request.params.id));

      app.patch(`${path}/:id`, {
        schema: { tags, summary: `Change a ${type}`, params: IdParams, body: CrmRecordUpdate, response: { 200: CrmRecord, ...errorResponses } },
      }, async (request) => store.records.update(type, request.params.id, request.body));

      app.delete(`${path}/:id`, {
        schema: { tags, summary: `Delete a ${type}`, params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
      }, async (request, reply) => {
        await store.records.delete(type, request.params.id);
        return reply.code(204).send(null);
      });
    }
  };
}
