/** Identifier formats clients have seen from Together: `eval-<4 hex>-<unix seconds>`, `file-<uuid4>`. */
import { randomBytes, randomUUID } from 'node:crypto';

export function newJobId(now = Date.now()): string {
  return `eval-${randomBytes(2).toString('hex')}-${Math.floor(now / 1000)}`;
}

export function newFileId(): string {
  return `file-${randomUUID()}`;
}
