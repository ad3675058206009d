/**
 * The engine thread's first module. It lowers the thread's OS priority before the engine's modules
 * load, then loads them: loading takes 0.3–0.5 s of CPU, and `assay serve` starts the thread
 * while the API thread is still loading its own, so at equal priority the two would share the
 * cores and the API would listen later (measured: 50 ms later, at the median of five starts).
 * A static import could not do this: every module a module imports is loaded before its code runs.
 */
import { yieldToTheApi } from './thread-priority.js';

yieldToTheApi();
await import('./engine-thread-main.js');
