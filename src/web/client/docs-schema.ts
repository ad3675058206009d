/**
 * Readable views of JSON Schemas (OpenAPI 3.1) for the API reference page: a type label per
 * schema, a field list per object, union variants, and the short prose of descriptions
 * (paragraphs, `- ` lists and `code`). Everything goes through text nodes; nothing is parsed as HTML.
 */
import { h, type Child } from './dom.js';

export interface Schema {
  $ref?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  examples?: unknown[];
  format?: string;
  contentMediaType?: string;
  deprecated?: boolean;
  writeOnly?: boolean;
  readOnly?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  oneOf?: Schema[];
  anyOf?: Schema[];
  discriminator?: { propertyName: string };
}

const REF_PREFIX = '#/components/schemas/';

export const schemaAnchor = (name: string): string => `schema-${name}`;

/** Inline text with `code` spans. */
export function inline(text: string): Child[] {
  return text.split(/(`[^`]*`)/).map((part) => (part.length > 1 && part.startsWith('`') && part.endsWith('`') ? h('code', null, part.slice(1, -1)) : part));
}

/** Paragraphs separated by blank lines; lines starting with `- ` become a list. */
export function prose(text: string | undefined, className = 'md'): HTMLElement | null {
  if (!text) return null;
  const out = h('div', { class: className });
  for (const block of text.split(/\n\s*\n/)) {
    let list: HTMLElement | null = null;
    for (const line of block.split('\n')) {
      if (line.startsWith('- ')) {
        list ??= out.appendChild(h('ul'));
        list.append(h('li', null, ...inline(line.slice(2))));
      } else if (line.trim() !== '') {
        list = null;
        out.append(h('p', null, ...inline(line)));
      }
    }
  }
  return out;
}

export class SchemaRenderer {
  constructor(private readonly components: Record<string, Schema>) {}

  refName(schema: Schema): string | null {
    return schema.$ref?.startsWith(REF_PREFIX) ? schema.$ref.slice(REF_PREFIX.length) : null;
  }

  resolve(schema: Schema): Schema {
    const name = this.refName(schema);
    return name === null ? schema : (this.components[name] ?? {});
  }

  /** A short type: `string`, `integer | null`, `array of FileResponse` (names link to the schema). */
  typeLabel(schema: Schema): Child {
    const name = this.refName(schema);
    if (name !== null) return h('a', { class: 'type-ref', href: `#${schemaAnchor(name)}` }, name);
    if (schema.const !== undefined) return h('code', { class: 'type-const' }, JSON.stringify(schema.const));
    const variants = schema.oneOf ?? schema.anyOf;
    if (variants) return join(variants.map((v) => this.typeLabel(v)), ' | ');
    const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    if (types.length === 0) return schema.properties ? 'object' : 'any';
    return join(
      types.map((type) => {
        if (type === 'array' && schema.items) return h('span', null, 'array of ', this.typeLabel(schema.items));
        if (type === 'object' && typeof schema.additionalProperties === 'object' && !schema.properties) {
          return h('span', null, 'map of ', this.typeLabel(schema.additionalProperties));
        }
        return schema.format && type !== 'null' ? `${type} (${schema.format})` : type;
      }),
      ' | ',
    );
  }

  /** Facts about a schema beside its description: allowed values, default, bounds, examples. */
  facts(schema: Schema): HTMLElement | null {
    const items: Child[] = [];
    const fact = (label: string, ...value: Child[]) => items.push(h('span', { class: 'fact' }, h('span', { class: 'fact-label' }, label), ' ', ...value));
    if (schema.enum) fact('one of', join(schema.enum.map((v) => h('code', null, typeof v === 'string' ? v : JSON.stringify(v))), ' '));
    if (schema.default !== undefined) fact('default', h('code', null, JSON.stringify(schema.default)));
    if (schema.minimum !== undefined) fact('min', String(schema.minimum));
    if (schema.maximum !== undefined) fact('max', String(schema.maximum));
    if (schema.minLength !== undefined) fact('min length', String(schema.minLength));
    if (schema.maxLength !== undefined) fact('max length', String(schema.maxLength));
    if (schema.minItems !== undefined) fact('min items', String(schema.minItems));
    if (schema.maxItems !== undefined) fact('max items', String(schema.maxItems));
    if (schema.uniqueItems) fact('unique items');
    if (schema.pattern !== undefined) fact('pattern', h('code', null, schema.pattern));
    if (schema.writeOnly) fact('write-only');
    const example = schema.examples?.length ? JSON.stringify(schema.examples[0]) : undefined;
    if (example !== undefined && example.length <= 80) fact('example', h('code', null, example));
    return items.length === 0 ? null : h('div', { class: 'facts' }, ...items);
  }

  /**
   * The body of a schema: its description, then its fields, its variants or its item type.
   * Named schemas met again below are linked, and expandable in place, rather than repeated.
   */
  body(schema: Schema, seen: ReadonlySet<string> = new Set()): HTMLElement {
    const name = this.refName(schema);
    const target = this.resolve(schema);
    const inner = name === null ? seen : new Set([...seen, name]);
    const out = h('div', { class: 'schema' });
    const described = prose(target.description, 'md schema-description');
    if (described) out.append(described);
    const facts = this.facts(target);
    if (facts) out.append(facts);
    const variants = target.oneOf ?? target.anyOf;
    if (target.properties) {
      out.append(this.fields(target, inner));
    } else if (variants) {
      const by = target.discriminator ? h('span', null, ', chosen by ', h('code', null, target.discriminator.propertyName)) : '';
      out.append(h('p', { class: 'variants-label' }, target.oneOf ? 'One of' : 'Any of', by, ':'));
      // Small variants (a tag and a payload, say) are shown open; larger ones on demand.
      const small = (v: Schema) => Object.keys(this.resolve(v).properties ?? {}).length <= 3;
      out.append(
        h(
          'ul',
          { class: 'variants' },
          ...variants.map((v) =>
            h(
              'li',
              null,
              this.typeLabel(v),
              this.refName(v) === null && v.description ? h('span', { class: 'muted' }, ': ', ...inline(v.description)) : null,
              this.expander(v, inner, small(v)),
            ),
          ),
        ),
      );
    } else if (target.items) {
      out.append(h('p', { class: 'variants-label' }, 'Array of ', this.typeLabel(target.items), ':'));
      const items = this.expander(target.items, inner, true);
      if (items) out.append(items);
    } else if (!target.description && !facts) {
      out.append(h('p', { class: 'muted' }, this.typeLabel(target)));
    }
    return out;
  }

  private fields(schema: Schema, seen: ReadonlySet<string>): HTMLElement {
    const required = new Set(schema.required ?? []);
    return h(
      'dl',
      { class: 'fields' },
      ...Object.entries(schema.properties ?? {}).map(([field, sub]) => {
        const resolved = this.resolve(sub);
        // A named enum or scalar says what it is here; a named object says it when expanded.
        const description = sub.description ?? (this.isComposite(resolved) ? undefined : resolved.description);
        return h(
          'div',
          { class: `field-row${sub.deprecated ? ' is-deprecated' : ''}` },
          h(
            'dt',
            null,
            h('code', { class: 'field-name' }, field),
            required.has(field) ? h('span', { class: 'req' }, 'required') : null,
            sub.deprecated ? h('span', { class: 'tag tag-deprecated' }, 'deprecated') : null,
          ),
          h(
            'dd',
            null,
            h('div', { class: 'field-type' }, this.typeLabel(sub)),
            prose(description),
            this.facts(sub === resolved ? sub : { ...sub, enum: resolved.enum, default: sub.default ?? resolved.default }),
            this.nested(sub, seen),
          ),
        );
      }),
    );
  }

  /** Fields of an inline object (or of the items of an inline array) shown under its row. */
  private nested(schema: Schema, seen: ReadonlySet<string>): Child {
    if (this.refName(schema) !== null) return this.expander(schema, seen);
    if (schema.properties) return this.fields(schema, seen);
    if (schema.items) return this.expander(schema.items, seen);
    const variants = schema.oneOf ?? schema.anyOf;
    if (variants) return variants.map((v) => this.expander(v, seen));
    if (typeof schema.additionalProperties === 'object') return this.expander(schema.additionalProperties, seen);
    return null;
  }

  /** Whether a schema has parts worth listing: fields, variants or items. */
  isComposite(schema: Schema): boolean {
    return Boolean(schema.properties || schema.oneOf || schema.anyOf || schema.items);
  }

  /** A named schema's fields: shown when `open`, else collapsed and rendered when first opened. */
  private expander(schema: Schema, seen: ReadonlySet<string>, open = false): HTMLElement | null {
    const name = this.refName(schema);
    const target = this.resolve(schema);
    if (name === null) return target.properties ? this.fields(target, seen) : null;
    if (!this.isComposite(target) || seen.has(name)) return null;
    if (open) return h('div', { class: 'expand' }, this.body(schema, seen));
    const details = h('details', { class: 'expand' }, h('summary', null, `${name} fields`));
    const fill = () => {
      if (details.childElementCount === 1) details.append(this.body(schema, seen));
    };
    details.addEventListener('toggle', fill);
    return details;
  }
}

function join(parts: Child[], separator: string): HTMLElement {
  const out = h('span', { class: 'type' });
  parts.forEach((part, i) => {
    if (i > 0) out.append(separator);
    if (part !== null && part !== undefined && part !== false) out.append(part instanceof Node ? part : String(part));
  });
  return out;
}
