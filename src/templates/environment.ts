/**
 * What a template sees when it renders: a few globals in an outer scope, the row's columns in an
 * inner one. Nothing else of the process is reachable from a template.
 */
import { Environment } from './jinja.js';
import type { JinjaEnvironment } from './jinja.js';

/** Literal names that Jinja2 parses as constants, so a row column cannot shadow them. */
const CONSTANTS: ReadonlyMap<string, boolean | null> = new Map([
  ['true', true],
  ['false', false],
  ['none', null],
  ['True', true],
  ['False', false],
  ['None', null],
]);

/** Names the renderer provides besides the row; `namespace` comes with every interpreter scope. */
export const TEMPLATE_GLOBALS: ReadonlySet<string> = new Set([...CONSTANTS.keys(), 'range', 'namespace']);

/** Longest list `range()` may build; it allocates in one call, before any step is counted. */
export const MAX_RANGE_LENGTH = 100_000;

/**
 * The outer scope, made once: a render never writes to it, since assignments (`set`, loop
 * variables) land in the innermost scope, which is the row's or one made for a block.
 */
let globals: JinjaEnvironment | undefined;
function globalScope(): JinjaEnvironment {
  if (globals === undefined) {
    globals = new Environment();
    for (const [name, value] of CONSTANTS) globals.set(name, value);
    globals.set('range', boundedRange);
  }
  return globals;
}

/** A fresh row scope for one render. A column may shadow `range` or `namespace`, not `true`. */
export function rowEnvironment(row: Record<string, unknown>): JinjaEnvironment {
  const env = new Environment(globalScope());
  for (const [name, value] of Object.entries(row)) {
    if (CONSTANTS.has(name)) continue;
    env.variables.delete(name); // every Environment pre-declares `namespace`; set() refuses duplicates
    env.set(name, value);
  }
  return env;
}

/** Python's `range()`, refusing to build more than MAX_RANGE_LENGTH items. */
function boundedRange(...args: unknown[]): number[] {
  const ints = args.map((a) => {
    if (typeof a !== 'number' || !Number.isInteger(a)) throw new Error('range() takes integer arguments');
    return a;
  });
  if (ints.length < 1 || ints.length > 3) throw new Error(`range() takes 1 to 3 arguments, got ${ints.length}`);
  const [start, stop] = ints.length === 1 ? [0, ints[0] ?? 0] : [ints[0] ?? 0, ints[1] ?? 0];
  const step = ints[2] ?? 1;
  if (step === 0) throw new Error('range() step must not be zero');
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length > MAX_RANGE_LENGTH) throw new Error(`range() of ${length} items is over the limit of ${MAX_RANGE_LENGTH}`);
  return Array.from({ length }, (_, i) => start + i * step);
}
