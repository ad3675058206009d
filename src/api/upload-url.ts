/** Signed, expiring upload URLs: the unauthenticated PUT target of the SDKs' three-step upload. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface UploadSigner {
  sign(fileId: string, now?: number): { expires: number; signature: string };
  verify(fileId: string, expires: string | undefined, signature: string | undefined, now?: number): boolean;
}

export function createUploadSigner(key: string | null, ttlSeconds: number): UploadSigner {
  const secret = key ?? randomBytes(32).toString('hex');
  const mac = (fileId: string, expires: number) => createHmac('sha256', secret).update(`${fileId}.${expires}`).digest('base64url');
  return {
    sign(fileId, now = Date.now()) {
      const expires = Math.floor(now / 1000) + ttlSeconds;
      return { expires, signature: mac(fileId, expires) };
    },
    verify(fileId, expires, signature, now = Date.now()) {
      const exp = Number(expires);
      if (!Number.isInteger(exp) || exp < Math.floor(now / 1000) || typeof signature !== 'string') return false;
      const expected = Buffer.from(mac(fileId, exp));
      const given = Buffer.from(signature);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
