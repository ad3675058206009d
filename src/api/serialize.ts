/** Records as Together's API shows them. */
import type { FileRecord, JobRecord } from '../domain/types.js';

export function fileJson(file: FileRecord): Record<string, unknown> {
  return {
    id: file.id,
    object: 'file',
    created_at: file.createdAt,
    filename: file.filename,
    bytes: file.bytes,
    purpose: file.purpose,
    // PascalCase as the live API and the upstream schema spell them.
    Processed: file.state === 'ready',
    FileType: file.format,
    LineCount: file.lineCount,
    processing_status: file.state === 'ready' ? 'COMPLETED' : 'PENDING',
  };
}

export function jobJson(job: JobRecord): Record<string, unknown> {
  return {
    workflow_id: job.id,
    type: job.type,
    owner_id: job.ownerId,
    status: job.status,
    status_updates: job.statusUpdates,
    parameters: job.parameters,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
    results: job.results,
  };
}
