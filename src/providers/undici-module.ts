/**
 * undici, the HTTP client of model calls, loaded when the first connection pool is made instead
 * of when the process starts. Loading it takes 115–170 ms of CPU, and a distributed API node
 * (`serve --no-workers`) makes no model calls at all, so it should not pay for it before it
 * listens. A node that runs rows loads it when its engine starts consuming (see
 * `ModelRegistry.preload`), so its first job does not pay for it either.
 *
 * Loaded with `require` because making a pool is synchronous (the model registry hands models out
 * synchronously); undici is a CommonJS package, so this is the same module instance an `import`
 * of it gives.
 */
import { createRequire } from 'node:module';

type Undici = typeof import('undici');

let loaded: Undici | undefined;

export function undici(): Undici {
  return (loaded ??= createRequire(import.meta.url)('undici') as Undici);
}
