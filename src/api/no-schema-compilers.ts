/**
 * Fastify's `schemaController` option for assay's apps. Requests are checked by assay's own parsers
 * (domain/), and no route declares a fastify schema, so fastify's default compilers (ajv with JTD,
 * fast-json-stringify) would be loaded only to sit unused: 40-80 ms of every start. An app with a
 * route given a schema fails to start instead, naming the route.
 */
function refuseSchemas(): () => never {
  return () => {
    throw new Error('assay routes take no fastify schemas: check requests in the handler, as the other routes do');
  };
}

export const NO_SCHEMA_COMPILERS = { compilersFactory: { buildValidator: refuseSchemas, buildSerializer: refuseSchemas } };
