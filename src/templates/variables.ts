/**
 * Which row columns a template reads, found by walking its syntax tree (the counterpart of Jinja2's
 * `meta.find_undeclared_variables`).
 *
 * A name counts when it is read and is not bound at that point by `{% for %}`, `{% set %}`, a macro
 * or call-block parameter, a macro name, or a renderer global (`true`, `range`, `namespace`, ...,
 * plus `loop`). Reading `info.question` or `info['question']` counts `info` only.
 *
 * Scoping mirrors the renderer: `{% for %}` and macro bodies get their own scope; a `{% set %}`
 * inside an `{% if %}` branch binds the name after the `if` (lenient: a name set in one branch only
 * is not reported, so a valid template is never rejected for it).
 */
import { TEMPLATE_GLOBALS } from './environment.js';
import type { JinjaProgram } from './jinja.js';

/** The library's AST classes are not exported; these are the fields this walk reads. */
interface Node {
  readonly type: string;
}
interface ValueNode<T> extends Node {
  value: T;
}
type IdentifierNode = ValueNode<string>;

const ALWAYS_BOUND: ReadonlySet<string> = new Set([...TEMPLATE_GLOBALS, 'loop']);
const MACRO_SPECIALS = ['varargs', 'kwargs', 'caller'];

class Scope {
  readonly names = new Set<string>();
  constructor(private readonly parent: Scope | null = null) {}

  has(name: string): boolean {
    return this.names.has(name) || (this.parent?.has(name) ?? false);
  }

  child(names: Iterable<string> = []): Scope {
    const scope = new Scope(this);
    for (const name of names) scope.names.add(name);
    return scope;
  }
}

/** Top-level names read from the row, in order of first use. */
export function collectVariables(program: JinjaProgram): Set<string> {
  const found = new Set<string>();
  const root = new Scope();
  for (const statement of program.body) visit(statement, root, found);
  return found;
}

function visit(node: unknown, scope: Scope, found: Set<string>): void {
  if (!isNode(node)) return;
  const n = node as unknown as Record<string, unknown>;
  const walk = (child: unknown, s: Scope = scope): void => visit(child, s, found);
  const walkAll = (children: unknown, s: Scope = scope): void => {
    if (Array.isArray(children)) for (const child of children) walk(child, s);
  };

  switch (node.type) {
    case 'Identifier': {
      const name = (node as IdentifierNode).value;
      if (!scope.has(name) && !ALWAYS_BOUND.has(name)) found.add(name);
      return;
    }
    case 'StringLiteral':
    case 'IntegerLiteral':
    case 'FloatLiteral':
    case 'Comment':
    case 'Break':
    case 'Continue':
      return;
    case 'MemberExpression':
      walk(n.object);
      if (n.computed === true) walk(n.property); // `info.question`: `question` is no variable
      return;
    case 'CallExpression':
      walk(n.callee);
      walkAll(n.args);
      return;
    case 'KeywordArgumentExpression':
      walk(n.value); // `f(key=value)`: `key` is no variable
      return;
    case 'FilterExpression':
      walk(n.operand);
      walkFilter(n.filter, scope, found);
      return;
    case 'FilterStatement':
      walkFilter(n.filter, scope, found);
      walkAll(n.body);
      return;
    case 'TestExpression':
      walk(n.operand); // `x is defined`: `defined` is no variable
      return;
    case 'ObjectLiteral':
      if (n.value instanceof Map) {
        for (const [key, value] of n.value) {
          walk(key);
          walk(value);
        }
      }
      return;
    case 'If': {
      walk(n.test);
      const body = scope.child();
      const alternate = scope.child();
      walkAll(n.body, body);
      walkAll(n.alternate, alternate);
      for (const name of [...body.names, ...alternate.names]) scope.names.add(name);
      return;
    }
    case 'For':
      visitFor(n, scope, found);
      return;
    case 'Set':
      if (n.value) walk(n.value);
      else walkAll(n.body);
      bindTarget(n.assignee, scope, found);
      return;
    case 'Macro': {
      const name = n.name as IdentifierNode;
      scope.names.add(name.value); // bound before the body, so recursion is no variable
      visitCallable(n.args, n.body, scope, found);
      return;
    }
    case 'CallStatement': {
      const call = n.call as Record<string, unknown>;
      walk(call.callee);
      walkAll(call.args);
      visitCallable(n.callerArgs, n.body, scope, found);
      return;
    }
    default:
      // Program, ArrayLiteral, TupleLiteral, BinaryExpression, UnaryExpression, SliceExpression,
      // SelectExpression, Ternary, spreads, and any node a later library version adds: every
      // child is read in the current scope.
      for (const [key, value] of Object.entries(n)) {
        if (key === 'type' || key === 'operator') continue;
        if (Array.isArray(value)) walkAll(value);
        else walk(value);
      }
  }
}

/** `x | f` and `x | f(a, b)`: the filter's name is no variable, its arguments are. */
function walkFilter(filter: unknown, scope: Scope, found: Set<string>): void {
  if (isNode(filter) && filter.type === 'CallExpression') {
    const args = (filter as unknown as { args: unknown }).args;
    if (Array.isArray(args)) for (const arg of args) visit(arg, scope, found);
  }
}

function visitFor(n: Record<string, unknown>, scope: Scope, found: Set<string>): void {
  const loopScope = scope.child();
  bindTarget(n.loopvar, loopScope, found);
  const iterable = n.iterable;
  if (isNode(iterable) && iterable.type === 'SelectExpression') {
    // `{% for x in items if x.ok %}`: the condition sees the loop variable.
    const select = iterable as unknown as { lhs: unknown; test: unknown };
    visit(select.lhs, scope, found);
    visit(select.test, loopScope, found);
  } else {
    visit(iterable, scope, found);
  }
  for (const statement of asArray(n.body)) visit(statement, loopScope, found);
  const elseScope = scope.child();
  for (const statement of asArray(n.defaultBlock)) visit(statement, elseScope, found);
}

/** Macro and call-block bodies: parameters and `varargs`/`kwargs`/`caller` are bound. */
function visitCallable(params: unknown, body: unknown, scope: Scope, found: Set<string>): void {
  const inner = scope.child(MACRO_SPECIALS);
  const defaults: unknown[] = [];
  for (const param of asArray(params)) {
    if (!isNode(param)) continue;
    if (param.type === 'Identifier') inner.names.add((param as IdentifierNode).value);
    if (param.type === 'KeywordArgumentExpression') {
      const kw = param as unknown as { key: IdentifierNode; value: unknown };
      inner.names.add(kw.key.value);
      defaults.push(kw.value);
    }
  }
  // The renderer binds every parameter before it evaluates the defaults.
  for (const value of defaults) visit(value, inner, found);
  for (const statement of asArray(body)) visit(statement, inner, found);
}

/** The target of `{% set %}` or a loop: names become bound; `ns.attr` reads `ns`. */
function bindTarget(target: unknown, scope: Scope, found: Set<string>): void {
  if (!isNode(target)) return;
  if (target.type === 'Identifier') {
    scope.names.add((target as IdentifierNode).value);
  } else if (target.type === 'TupleLiteral') {
    for (const item of asArray((target as ValueNode<unknown>).value)) bindTarget(item, scope, found);
  } else {
    visit(target, scope, found);
  }
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
