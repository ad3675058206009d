/**
 * Where the `assay` command line finds a Together-compatible server, read from flags and the
 * environment in one place: `--base-url`, then ASSAY_BASE_URL, then TOGETHER_BASE_URL; `--api-key`,
 * then ASSAY_API_KEY, then TOGETHER_API_KEY.
 */

/** Where `npx assay serve` listens by default. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080/v1';

export interface ClientSettings {
  /** Base URL including the version prefix, without a trailing slash: `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  /** Bearer token; null for a local assay that has no keys configured. */
  apiKey: string | null;
}

type Env = Record<string, string | undefined>;

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === '' ? undefined : value.trim());

export function loadClientSettings(env: Env, flags: { baseUrl?: string | undefined; apiKey?: string | undefined } = {}): ClientSettings {
  const raw = nonEmpty(flags.baseUrl) ?? nonEmpty(env.ASSAY_BASE_URL) ?? nonEmpty(env.TOGETHER_BASE_URL) ?? DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`the base URL "${raw}" is not a URL; pass one like ${DEFAULT_BASE_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the base URL "${raw}" must start with http:// or https://`);
  }
  return {
    baseUrl: raw.replace(/\/+$/, ''),
    apiKey: nonEmpty(flags.apiKey) ?? nonEmpty(env.ASSAY_API_KEY) ?? nonEmpty(env.TOGETHER_API_KEY) ?? null,
  };
}
