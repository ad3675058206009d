/**
 * The parts of OpenAPI 3.1 that assay's API document uses, typed so a misspelt key is a compile
 * error. Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect): `type: ['number', 'null']`
 * rather than 3.0's `nullable`, `examples` rather than `example`.
 */

export type SchemaType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

export interface Schema {
  $ref?: string;
  title?: string;
  description?: string;
  type?: SchemaType | SchemaType[];
  enum?: readonly unknown[];
  const?: unknown;
  default?: unknown;
  examples?: readonly unknown[];
  format?: string;
  contentMediaType?: string;
  deprecated?: boolean;
  readOnly?: boolean;
  writeOnly?: boolean;
  // objects
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean | Schema;
  // arrays
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  // strings and numbers
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  // composition
  oneOf?: Schema[];
  anyOf?: Schema[];
  /** OpenAPI's hint for `oneOf` unions tagged by a property. */
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
}

export interface Header {
  description?: string;
  required?: boolean;
  schema: Schema;
}

export interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

export interface Response {
  description: string;
  headers?: Record<string, Header>;
  content?: Record<string, MediaType>;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  description?: string;
  required?: boolean;
  deprecated?: boolean;
  schema: Schema;
}

export interface RequestBody {
  description?: string;
  required?: boolean;
  content: Record<string, MediaType>;
}

export type SecurityRequirement = Record<string, string[]>;

export interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  deprecated?: boolean;
  parameters?: Parameter[];
  requestBody?: RequestBody;
  responses: Record<string, Response>;
  /** `[]` for a route that needs no API key; absent to inherit the document's requirement. */
  security?: SecurityRequirement[];
  /** An assay addition beside Together's API (not in Together's own document). */
  'x-assay-addition'?: boolean;
}

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
export type PathItem = Partial<Record<HttpMethod, Operation>> & { parameters?: Parameter[] };

export interface Tag {
  name: string;
  description?: string;
}

export interface OpenApiDocument {
  openapi: string;
  info: {
    title: string;
    version: string;
    summary?: string;
    description?: string;
    license?: { name: string; identifier?: string; url?: string };
  };
  jsonSchemaDialect?: string;
  servers?: Array<{ url: string; description?: string }>;
  security: SecurityRequirement[];
  tags: Tag[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, { type: 'http'; scheme: string; bearerFormat?: string; description?: string }>;
  };
}
