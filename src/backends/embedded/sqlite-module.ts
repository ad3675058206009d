/**
 * better-sqlite3, loaded with `require`. An `import` of a CommonJS package makes Node scan its
 * source for named exports (cjs-module-lexer, which each thread sets up anew): 10–12 ms more in
 * each of the three threads that open the database (the API's, the engine's and the
 * checkpointer's), and the engine thread spends it just before it can take the first job after a
 * start. better-sqlite3 has only a default export, so nothing is lost.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
