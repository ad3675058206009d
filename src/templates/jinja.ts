/**
 * A typed face for the parts of `@huggingface/jinja` that assay uses. The package's declaration
 * files import their siblings without extensions, which NodeNext resolution cannot follow, so its
 * exports arrive untyped; these interfaces describe the shapes this folder relies on.
 */
import * as jinja from '@huggingface/jinja';

/** A node of the parsed template; `type` names its class (`Identifier`, `For`, ...). */
export interface JinjaNode {
  readonly type: string;
}

export interface JinjaProgram extends JinjaNode {
  readonly body: JinjaNode[];
}

/** An interpreter value (StringValue, ObjectValue, ...). */
export interface JinjaValue {
  readonly type: string;
  readonly value: unknown;
}

/** One scope of variables. */
export interface JinjaEnvironment {
  readonly variables: Map<string, unknown>;
  /** Declare a variable from a plain JS value; throws if the name is already declared here. */
  set(name: string, value: unknown): unknown;
}

interface JinjaInterpreter {
  run(program: JinjaProgram): JinjaValue;
  evaluate(node: JinjaNode | undefined, environment: JinjaEnvironment): JinjaValue;
}

interface Token {
  readonly type: string;
  value: string;
}

export const Environment = jinja.Environment as new (parent?: JinjaEnvironment) => JinjaEnvironment;
export const Interpreter = jinja.Interpreter as new (env: JinjaEnvironment) => JinjaInterpreter;
export const tokenize = jinja.tokenize as (
  source: string,
  options: { trim_blocks?: boolean; lstrip_blocks?: boolean },
) => Token[];
export const parse = jinja.parse as (tokens: Token[]) => JinjaProgram;
