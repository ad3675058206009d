import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { NO_SCHEMA_COMPILERS } from './no-schema-compilers.js';

describe('NO_SCHEMA_COMPILERS', () => {
  it('lets an app without route schemas start and answer', async () => {
    const app = Fastify({ schemaController: NO_SCHEMA_COMPILERS });
    app.post('/echo', async (request) => request.body);
    const reply = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    expect(reply.json()).toEqual({ a: 1 });
    await app.close();
  });

  it('refuses to start an app whose route has a request or a response schema, naming the route', async () => {
    const withBody = Fastify({ schemaController: NO_SCHEMA_COMPILERS });
    withBody.post('/x', { schema: { body: { type: 'object' } } }, async () => 'ok');
    await expect(withBody.ready()).rejects.toThrow(/POST: \/x.*take no fastify schemas/);
    const withResponse = Fastify({ schemaController: NO_SCHEMA_COMPILERS });
    withResponse.get('/y', { schema: { response: { 200: { type: 'string' } } } }, async () => 'ok');
    await expect(withResponse.ready()).rejects.toThrow(/GET: \/y.*take no fastify schemas/);
  });
});
