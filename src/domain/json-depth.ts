/**
 * How deeply a parsed JSON value nests, checked without recursion (the check must not itself be
 * what a deep value breaks). Objects and arrays count one level each; `{"a": [1]}` is 2 deep.
 * Deep values are refused early because much later code walks values recursively (serialising a
 * result, rendering a template) and would run out of stack on them.
 */

/** True when `value` nests more than `max` levels. Stops as soon as it knows. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push([child as object, depth + 1]);
    }
  }
  return false;
}
