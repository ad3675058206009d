/** The assay HTTP API as the UI uses it: JSON in and out, errors as `ApiError`, an optional API key. */

export type JobStatus = 'pending' | 'queued' | 'running' | 'completed' | 'error' | 'user_error';
export type EvalType = 'classify' | 'score' | 'compare';
export const TERMINAL: ReadonlySet<string> = new Set(['completed', 'error', 'user_error']);

export interface Progress {
  rows_total: number;
  rows_done: number;
  rows_failed: number;
  rows_per_second: number | null;
  eta_seconds: number | null;
  waiting_on_rate_limit: boolean;
}

export interface Job {
  workflow_id: string;
  type: EvalType;
  status: JobStatus;
  status_updates: Array<{ status: string; message: string; timestamp: string }>;
  parameters: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  results: Record<string, unknown> | null;
  progress?: Progress;
}

export interface FileInfo {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  created_at: number;
  LineCount: number;
  FileType: string;
}

export interface Preview {
  columns: string[];
  rows: Array<Record<string, unknown>>;
  line_count: number;
}

export interface RowItem {
  row_index: number;
  outcome: 'ok' | 'invalid' | 'generation_failed' | 'judge_failed';
  input: Record<string, unknown> | null;
  result: Record<string, unknown>;
}

export interface RowsPage {
  total: number;
  offset: number;
  limit: number;
  data: RowItem[];
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const KEY_STORAGE = 'assay.apiKey';

export function apiKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private mode without storage: the key lasts for this page only.
  }
}

/** Asks for an API key when the server wants one; set by the shell. Resolves false when declined. */
let askForKey: (message: string) => Promise<boolean> = async () => false;
export function onKeyNeeded(handler: (message: string) => Promise<boolean>): void {
  askForKey = handler;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = apiKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { message?: string; param?: string | null; code?: string | null } };
    if (body.error?.message) return new ApiError(body.error.message, res.status, body.error.param ?? null, body.error.code ?? null);
  } catch {
    // Not the JSON envelope: fall through to the status line.
  }
  return new ApiError(`${res.status} ${res.statusText || 'request failed'}`, res.status);
}

/** Calls the API; a plain object body is sent as JSON, FormData as multipart. */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const init: RequestInit = { method, headers: headers({ accept: 'application/json' }) };
    if (signal) init.signal = signal;
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = headers({ accept: 'application/json', 'content-type': 'application/json' });
    }
    const res = await fetch(path, init);
    if (res.status === 401 && attempt === 0) {
      const error = await errorOf(res);
      if (await askForKey(error.message)) continue;
      throw error;
    }
    if (!res.ok) throw await errorOf(res);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/** Downloads a stored file; with an API key the bytes go through fetch, since links carry no header. */
export async function download(fileId: string, filename: string): Promise<void> {
  const res = await fetch(`/v1/files/${encodeURIComponent(fileId)}/content`, { headers: headers() });
  if (!res.ok) throw await errorOf(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const jobs = {
  list: (status?: string) => api<Job[]>('GET', `/v1/evaluation?limit=100${status ? `&status=${encodeURIComponent(status)}` : ''}`),
  get: (id: string) => api<Job>('GET', `/v1/evaluation/${encodeURIComponent(id)}`),
  create: (body: unknown) => api<{ workflow_id: string }>('POST', '/v1/evaluation', body),
  cancel: (id: string) => api<Job>('POST', `/v1/evaluation/${encodeURIComponent(id)}/cancel`),
  retryFailed: (id: string, body: unknown = {}) => api<Job>('POST', `/v1/evaluation/${encodeURIComponent(id)}/retry-failed`, body),
  rows: (id: string, query: URLSearchParams, signal?: AbortSignal) =>
    api<RowsPage>('GET', `/v1/evaluation/${encodeURIComponent(id)}/rows?${query.toString()}`, undefined, signal),
  models: () => api<{ model_list: string[] }>('GET', '/v1/evaluation/model-list'),
};

export const files = {
  list: () => api<{ data: FileInfo[] }>('GET', '/v1/files'),
  get: (id: string) => api<FileInfo>('GET', `/v1/files/${encodeURIComponent(id)}`),
  preview: (id: string, limit = 5) => api<Preview>('GET', `/v1/files/${encodeURIComponent(id)}/preview?limit=${limit}`),
  upload(file: File): Promise<FileInfo> {
    const form = new FormData();
    form.append('purpose', 'eval');
    form.append('file_name', file.name);
    form.append('file', file, file.name);
    return api<FileInfo>('POST', '/v1/files/upload', form);
  },
};

export const templates = {
  render: (template: string, row: Record<string, unknown>, signal?: AbortSignal) =>
    api<{ rendered: string; variables: string[] }>('POST', '/v1/templates/render', { template, row }, signal),
};
