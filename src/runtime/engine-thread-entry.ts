/**
 * The engine thread's first module. It tells the server which OS thread it is before the engine's
 * modules load (0.3–0.5 s of CPU), so that the server, which lowers its background threads once it
 * listens, can leave this one at the process's priority (thread-priority.ts). A static import could
 * not do this: every module a module imports is loaded before its code runs.
 */
import { parentPort } from 'node:worker_threads';
import type { ThreadMessage } from './engine-thread-protocol.js';
import { nameOwnThread, osThreadId } from './thread-priority.js';

nameOwnThread('assay-engine');
parentPort?.postMessage({ kind: 'thread', osThreadId: osThreadId() } satisfies ThreadMessage);
await import('./engine-thread-main.js');
