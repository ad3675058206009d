/**
 * The one follow-up turn assay sends when a judge reply cannot be used: it says why, and asks
 * again for the JSON verdict. Bounded to a single attempt by the caller.
 */
import { formatInstruction } from './messages.js';
import type { VerdictOptions } from './types.js';

export function repairRequest(reason: string, opts: VerdictOptions): string {
  const firstLine = formatInstruction(opts).split('\n').slice(0, 3).join('\n');
  return `Your previous reply could not be used: ${reason}.\n${firstLine}`;
}
