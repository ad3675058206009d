/**
 * The API reference page (`/docs`): fetches `/v1/openapi.json` and renders it, grouped by tag,
 * each operation with its parameters, request body and responses, and the named schemas at the
 * end. A sidebar lists everything and filters as you type.
 */
import { byId, h, replace, type Child } from './dom.js';
import { inline, prose, schemaAnchor, SchemaRenderer, type Schema } from './docs-schema.js';

const DOCUMENT_URL = '/v1/openapi.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}
interface Parameter {
  name: string;
  in: string;
  description?: string;
  required?: boolean;
  schema?: Schema;
}
interface Response {
  description: string;
  headers?: Record<string, { description?: string; required?: boolean; schema?: Schema }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  deprecated?: boolean;
  parameters?: Parameter[];
  requestBody?: { description?: string; required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, Response>;
  security?: Array<Record<string, string[]>>;
  'x-assay-addition'?: boolean;
}
interface Document {
  openapi: string;
  info: { title: string; version: string; summary?: string; description?: string };
  security?: Array<Record<string, string[]>>;
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, { description?: string }> };
}
interface Entry {
  method: string;
  path: string;
  op: Operation;
  anchor: string;
}

const slug = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

function methodBadge(method: string): HTMLElement {
  return h('span', { class: `method method-${method}` }, method.toUpperCase());
}

/** A path with its `{parameters}` set apart. */
function pathText(path: string): HTMLElement {
  return h('code', { class: 'op-path' }, ...path.split(/(\{[^}]+\})/).map((part) => (part.startsWith('{') ? h('span', { class: 'path-param' }, part) : part)));
}

function exampleBlock(label: string, value: unknown): HTMLElement {
  return h('details', { class: 'example' }, h('summary', null, label), h('pre', null, JSON.stringify(value, null, 2)));
}

/** Media types with their schemas; `expand` shows the schema's fields, otherwise only its name. */
function renderContent(schemas: SchemaRenderer, content: Record<string, MediaType>, expand = true): HTMLElement[] {
  return Object.entries(content).map(([type, media]) =>
    h(
      'div',
      { class: 'media' },
      h('div', { class: 'media-type' }, h('code', null, type), media.schema ? h('span', { class: 'media-schema' }, schemas.typeLabel(media.schema)) : null),
      expand && media.schema && schemas.isComposite(schemas.resolve(media.schema)) ? schemas.body(media.schema) : null,
      media.example !== undefined ? exampleBlock('Example', media.example) : null,
      Object.entries(media.examples ?? {}).map(([name, ex]) => exampleBlock(`Example: ${ex.summary ?? name}`, ex.value)),
    ),
  );
}

function renderParameters(schemas: SchemaRenderer, params: Parameter[]): HTMLElement {
  return h(
    'table',
    { class: 'param-table' },
    h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'In'), h('th', null, 'Type'), h('th', null, 'Description'))),
    h(
      'tbody',
      null,
      ...params.map((p) => {
        const schema = p.schema ?? {};
        const resolved = schemas.resolve(schema);
        return h(
          'tr',
          null,
          h('td', null, h('code', { class: 'field-name' }, p.name), p.required ? h('span', { class: 'req' }, 'required') : null),
          h('td', { class: 'muted' }, p.in),
          h('td', null, schemas.typeLabel(schema)),
          h('td', null, prose(p.description), schemas.facts({ ...resolved, ...schema, enum: schema.enum ?? resolved.enum })),
        );
      }),
    ),
  );
}

function statusClass(code: string): string {
  return `code-badge code-${code.charAt(0)}xx`;
}

function renderOperation(doc: Document, schemas: SchemaRenderer, entry: Entry): HTMLElement {
  const { op } = entry;
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const needsKey = !isPublic && (doc.security?.length ?? 0) > 0;
  const section = h(
    'section',
    { class: `op${op.deprecated ? ' is-deprecated' : ''}`, id: entry.anchor, 'aria-labelledby': `${entry.anchor}-title` },
    h(
      'header',
      { class: 'op-head' },
      h('div', { class: 'op-line' }, methodBadge(entry.method), pathText(entry.path), h('a', { class: 'anchor', href: `#${entry.anchor}`, 'aria-label': 'Link to this operation' }, '#')),
      h('h3', { id: `${entry.anchor}-title` }, op.summary ?? `${entry.method.toUpperCase()} ${entry.path}`),
      h(
        'div',
        { class: 'tags' },
        op['x-assay-addition'] ? h('span', { class: 'tag tag-addition' }, 'assay addition') : null,
        op.deprecated ? h('span', { class: 'tag tag-deprecated' }, 'legacy path') : null,
        isPublic ? h('span', { class: 'tag tag-public' }, 'no API key') : needsKey ? h('span', { class: 'tag' }, 'API key') : null,
        op.operationId ? h('span', { class: 'tag tag-id' }, h('code', null, op.operationId)) : null,
      ),
    ),
    prose(op.description),
  );
  if (op.parameters?.length) section.append(h('h4', null, 'Parameters'), renderParameters(schemas, op.parameters));
  if (op.requestBody) {
    section.append(
      h('h4', null, 'Request body', op.requestBody.required ? '' : h('span', { class: 'muted' }, ' (optional)')),
      prose(op.requestBody.description) ?? '',
      ...renderContent(schemas, op.requestBody.content),
    );
  }
  section.append(
    h('h4', null, 'Responses'),
    h(
      'div',
      { class: 'responses' },
      ...Object.entries(op.responses).map(([code, response]) =>
        h(
          'div',
          { class: 'response' },
          h('div', { class: 'response-head' }, h('span', { class: statusClass(code) }, code), h('span', { class: 'response-desc' }, ...inline(response.description))),
          response.headers
            ? h(
                'dl',
                { class: 'fields headers' },
                ...Object.entries(response.headers).map(([name, header]) =>
                  h(
                    'div',
                    { class: 'field-row' },
                    h('dt', null, h('code', { class: 'field-name' }, name), h('span', { class: 'muted' }, 'header'), header.required ? h('span', { class: 'req' }, 'always') : null),
                    h('dd', null, header.schema ? h('div', { class: 'field-type' }, schemas.typeLabel(header.schema)) : null, prose(header.description)),
                  ),
                ),
              )
            : null,
          // Error answers all share the ErrorData envelope, described once under Schemas.
          renderContent(schemas, response.content ?? {}, code.startsWith('2')),
        ),
      ),
    ),
  );
  return section;
}

function entriesOf(doc: Document): Entry[] {
  const out: Entry[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) out.push({ method, path, op, anchor: `op-${op.operationId ?? slug(`${method} ${path}`)}` });
    }
  }
  return out;
}

function renderNav(groups: Array<{ name: string; entries: Entry[] }>, schemaNames: string[]): HTMLElement {
  const lists: HTMLElement[] = [];
  const search = h('input', { type: 'search', class: 'nav-search', placeholder: 'Filter', 'aria-label': 'Filter operations and schemas', autocomplete: 'off', spellcheck: 'false' });
  const link = (href: string, text: string, ...children: Child[]) => h('li', { 'data-text': text.toLowerCase() }, h('a', { href }, ...children));
  for (const group of groups) {
    lists.push(
      h(
        'div',
        { class: 'nav-group' },
        h('a', { class: 'nav-title', href: `#tag-${slug(group.name)}` }, group.name),
        h('ul', null, ...group.entries.map((e) => link(`#${e.anchor}`, `${e.method} ${e.path} ${e.op.summary ?? ''}`, methodBadge(e.method), h('span', { class: 'nav-path' }, e.path)))),
      ),
    );
  }
  lists.push(h('div', { class: 'nav-group' }, h('a', { class: 'nav-title', href: '#schemas' }, 'Schemas'), h('ul', null, ...schemaNames.map((n) => link(`#${schemaAnchor(n)}`, n, h('span', { class: 'nav-path' }, n))))));
  search.addEventListener('input', () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const group of lists) {
      let shown = 0;
      for (const li of group.querySelectorAll<HTMLElement>('li')) {
        const match = words.every((w) => (li.dataset.text ?? '').includes(w));
        li.hidden = !match;
        if (match) shown++;
      }
      group.hidden = shown === 0;
    }
  });
  return h('div', { class: 'nav-inner' }, search, ...lists);
}

function render(doc: Document): void {
  const schemas = new SchemaRenderer(doc.components?.schemas ?? {});
  const entries = entriesOf(doc);
  const tagNames = [...(doc.tags ?? []).map((t) => t.name), ...entries.flatMap((e) => e.op.tags ?? [])];
  const groups = [...new Set(tagNames)].map((name) => ({ name, entries: entries.filter((e) => (e.op.tags?.[0] ?? 'Other') === name) })).filter((g) => g.entries.length > 0);
  const untagged = entries.filter((e) => !e.op.tags?.length);
  if (untagged.length > 0) groups.push({ name: 'Other', entries: untagged });
  const schemaNames = Object.keys(doc.components?.schemas ?? {});
  const auth = Object.entries(doc.components?.securitySchemes ?? {});

  replace(byId('docs-nav'), renderNav(groups, schemaNames));
  replace(
    byId('docs-main'),
    h(
      'header',
      { class: 'docs-intro' },
      h('div', { class: 'title-row' }, h('h1', null, `${doc.info.title} API reference`), h('span', { class: 'tag' }, `v${doc.info.version}`), h('span', { class: 'tag' }, `OpenAPI ${doc.openapi}`)),
      doc.info.summary ? h('p', { class: 'lead' }, doc.info.summary) : null,
      prose(doc.info.description),
      auth.length > 0 ? h('div', { class: 'auth' }, h('h2', null, 'Authentication'), ...auth.map(([, scheme]) => prose(scheme.description))) : null,
      h('p', { class: 'muted' }, 'The machine-readable document: ', h('a', { href: DOCUMENT_URL }, DOCUMENT_URL), '.'),
    ),
    ...groups.map((group) => {
      const description = doc.tags?.find((t) => t.name === group.name)?.description;
      return h(
        'section',
        { class: 'tag-group', id: `tag-${slug(group.name)}` },
        h('h2', null, group.name),
        prose(description),
        ...group.entries.map((entry) => renderOperation(doc, schemas, entry)),
      );
    }),
    h(
      'section',
      { class: 'tag-group', id: 'schemas' },
      h('h2', null, 'Schemas'),
      ...schemaNames.map((name) =>
        h('section', { class: 'schema-card', id: schemaAnchor(name) }, h('h3', null, h('code', null, name)), schemas.body({ $ref: `#/components/schemas/${name}` })),
      ),
    ),
  );
  document.title = `${doc.info.title} API reference`;
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
}

async function main(): Promise<void> {
  const main = byId('docs-main');
  try {
    const res = await fetch(DOCUMENT_URL, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${DOCUMENT_URL} answered ${res.status}`);
    render((await res.json()) as Document);
  } catch (err) {
    replace(main, h('div', { class: 'notice notice-error', role: 'alert' }, `Could not load the API document: ${err instanceof Error ? err.message : String(err)}`));
  }
}

void main();
