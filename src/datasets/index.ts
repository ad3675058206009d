/** Dataset files: validated ingestion of uploads and lazy reading of stored rows. */
export {
  ingestDataset,
  DEFAULT_MAX_LINE_BYTES,
  MAX_COLUMNS,
  type DatasetFormat,
  type IngestOptions,
  type IngestSummary,
} from './ingest.js';
export { readRows, type DatasetRow } from './rows.js';
