/**
 * The operations of assay's OpenAPI document, one per route the server serves: Together's Files
 * and Evaluations routes (with the legacy paths released SDKs still call), assay's additions,
 * the operational routes and the web UI. test/integration/openapi.test.ts checks this list
 * against the routes the app registers, both ways.
 */
import { DEFAULT_ROWS_PAGE, MAX_PREVIEW_ROWS, MAX_ROWS_PAGE } from './routes/browse.js';
import { ref } from './openapi-schemas.js';
import type { MediaType, Operation, Parameter, PathItem, Response, Schema } from './openapi-types.js';

const json = (schema: Schema, example?: unknown): Record<string, MediaType> => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});
const ok = (description: string, schema: Schema, example?: unknown): Response => ({ description, content: json(schema, example) });
const fail = (description: string): Response => ({ description, content: json(ref('ErrorData')) });
const idParam = (description: string): Parameter => ({ name: 'id', in: 'path', required: true, description, schema: { type: 'string' } });
const query = (name: string, schema: Schema, description: string): Parameter => ({ name, in: 'query', schema, description });
/** A route that needs no API key. */
const PUBLIC = { security: [] };
const ADDITION = { 'x-assay-addition': true } as const;

const fileId = idParam('ID of the file.');
const jobId = idParam('ID of the evaluation job (`workflow_id`).');
const notFoundFile = fail('No such file, or it belongs to someone else.');
const notFoundJob = fail('No such job, or it belongs to someone else.');
const fileTooLarge = fail('The file is larger than `ASSAY_MAX_UPLOAD_BYTES` (`file_too_large`); nothing is kept.');
const bodyTooLarge = fail('The request body is larger than `ASSAY_MAX_BODY_BYTES`.');

const FILE_FIELDS: Schema = {
  type: 'object',
  properties: {
    purpose: ref('FilePurpose'),
    file_name: { type: 'string', description: 'Name of the file; only its last path segment is kept.', examples: ['data.jsonl'] },
    file_type: ref('FileType'),
  },
};

const filePaths: Record<string, PathItem> = {
  '/v1/files': {
    get: {
      operationId: 'listFiles',
      tags: ['Files'],
      summary: 'List files',
      description: "The caller's files: uploaded datasets and result files.",
      responses: { '200': ok('The files.', ref('FileList')) },
    },
    post: {
      operationId: 'startFileUpload',
      tags: ['Files'],
      summary: 'Start an upload (step 1 of 3)',
      description:
        'The first step of the upload every Together SDK performs: announce the file, then `PUT` its bytes to the `Location` this answers with, ' +
        'then `POST /v1/files/{id}/preprocess` (or `GET /v1/files/{id}`).\n\n' +
        'The fields may come in the query string, an urlencoded body, or a multipart body without a file part (Python SDK v2). ' +
        'A multipart body that does carry a `file` part is stored at once and answered like `POST /v1/files/upload`.',
      parameters: [
        query('purpose', ref('FilePurpose'), 'What the file is for; required here or in the body.'),
        query('file_name', { type: 'string' }, 'Name of the file.'),
        query('file_type', ref('FileType'), 'Format; otherwise taken from the name, else JSONL.'),
      ],
      requestBody: {
        required: false,
        content: {
          'application/x-www-form-urlencoded': { schema: FILE_FIELDS },
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: {
                ...FILE_FIELDS.properties,
                file: { type: 'string', contentMediaType: 'application/octet-stream', description: 'Optional: with it, the file is uploaded directly.' },
              },
            },
          },
        },
      },
      responses: {
        '302': {
          description: 'The file is announced; send its bytes to `Location`.',
          headers: {
            Location: { required: true, description: 'The signed upload URL: `/v1/uploads/{id}?expires=…&signature=…` on `ASSAY_PUBLIC_URL` or the request\'s origin.', schema: { type: 'string', format: 'uri' } },
            'X-Together-File-Id': { required: true, description: 'ID of the new file.', schema: { type: 'string' } },
          },
        },
        '200': ok('A multipart body carried the file itself: it is stored.', ref('FileResponse')),
        '400': fail('A missing or unknown `purpose`, an unsupported `file_type`, or (direct upload) a line that is not a JSON object.'),
        '413': fileTooLarge,
      },
    },
  },
  '/v1/uploads/{id}': {
    put: {
      operationId: 'putFileContent',
      tags: ['Files'],
      summary: 'Send the bytes (step 2 of 3)',
      description:
        'The signed upload target `POST /v1/files` redirects to. It takes no API key (the SDKs send none): the signature in the URL is the credential, ' +
        'valid for `ASSAY_UPLOAD_URL_TTL_SECONDS`. The body is the raw file, streamed, with any content type. Every line is read and checked as it arrives.',
      ...PUBLIC,
      parameters: [
        fileId,
        { name: 'expires', in: 'query', required: true, description: 'Unix seconds after which the URL is refused.', schema: { type: 'integer' } },
        { name: 'signature', in: 'query', required: true, description: 'HMAC of the file ID and `expires`.', schema: { type: 'string' } },
      ],
      requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
      responses: {
        '200': ok('The bytes are stored.', ref('UploadReceipt')),
        '400': fail('The content is not a valid dataset; the message names the line.'),
        '403': fail('The signature is invalid or has expired (`invalid_signature`); start the upload again.'),
        '404': notFoundFile,
        '409': fail('The file already has its bytes (`already_uploaded`).'),
        '413': fileTooLarge,
      },
    },
  },
  '/v1/files/{id}/preprocess': {
    post: {
      operationId: 'preprocessFile',
      tags: ['Files'],
      summary: 'Finish an upload (step 3 of 3)',
      description: 'Returns the file once its bytes have arrived. Idempotent; an empty body is accepted.',
      parameters: [fileId],
      responses: {
        '200': ok('The file.', ref('FileResponse')),
        '400': fail('The bytes have not been uploaded yet (`not_uploaded`).'),
        '404': notFoundFile,
      },
    },
  },
  '/v1/files/upload': {
    post: {
      operationId: 'uploadFile',
      tags: ['Files'],
      summary: 'Upload a file in one request',
      description: 'A direct multipart upload. JSONL lines must be JSON objects; CSV needs a header row.',
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['purpose', 'file'],
              properties: {
                ...FILE_FIELDS.properties,
                file: { type: 'string', contentMediaType: 'application/octet-stream', description: 'The content of the file.' },
              },
            },
          },
        },
      },
      responses: {
        '200': ok('The file is stored.', ref('FileResponse')),
        '400': fail('Not multipart, no `file` part, a bad `purpose` or `file_type`, or a bad line (named in the message).'),
        '413': fileTooLarge,
      },
    },
  },
  '/v1/files/{id}': {
    get: {
      operationId: 'retrieveFile',
      tags: ['Files'],
      summary: 'Retrieve a file',
      parameters: [fileId],
      responses: { '200': ok('The file.', ref('FileResponse')), '404': notFoundFile },
    },
    delete: {
      operationId: 'deleteFile',
      tags: ['Files'],
      summary: 'Delete a file',
      description: 'A job still running on a deleted dataset ends in `user_error`.',
      parameters: [fileId],
      responses: { '200': ok('The file is deleted.', ref('FileDeleteResponse')), '404': notFoundFile },
    },
  },
  '/v1/files/{id}/content': {
    get: {
      operationId: 'getFileContent',
      tags: ['Files'],
      summary: 'Download a file',
      description: 'The bytes of a dataset, or of a result file: JSONL, one line per dataset row with the verdict and its audit fields.',
      parameters: [fileId],
      responses: {
        '200': {
          description: 'The file, streamed.',
          headers: { 'Content-Disposition': { description: 'attachment, with the file name.', schema: { type: 'string' } } },
          content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
        },
        '404': notFoundFile,
      },
    },
  },
  '/v1/files/{id}/preview': {
    get: {
      operationId: 'previewFile',
      tags: ['Files'],
      ...ADDITION,
      summary: 'Preview the first rows of a dataset',
      parameters: [fileId, query('limit', { type: 'integer', minimum: 0, maximum: MAX_PREVIEW_ROWS, default: 20 }, `Rows to return; at most ${MAX_PREVIEW_ROWS}.`)],
      responses: { '200': ok('The columns and first rows.', ref('FilePreview')), '400': fail('A bad `limit`.'), '404': notFoundFile },
    },
  },
};

const listParams: Parameter[] = [
  query('status', ref('EvaluationStatus'), 'Only jobs in this status.'),
  query('limit', { type: 'integer', minimum: 1, default: 10 }, 'Number of jobs; at most 100.'),
];
const listJobs = (operationId: string, legacy: boolean): Operation => ({
  operationId,
  tags: ['Evaluations'],
  summary: legacy ? 'List evaluation jobs (legacy path)' : 'List evaluation jobs',
  description: legacy
    ? 'The same as `GET /v1/evaluation`, at the plural path older SDKs call.'
    : "The caller's jobs, newest first, as a bare array.",
  ...(legacy ? { deprecated: true } : {}),
  parameters: listParams,
  responses: { '200': ok('The jobs.', { type: 'array', items: ref('EvaluationJob') }), '400': fail('A bad `status` or `limit`.') },
});
const modelList = (operationId: string, legacy: boolean): Operation => ({
  operationId,
  tags: ['Evaluations'],
  summary: legacy ? 'List models (legacy path)' : 'List models',
  description: legacy
    ? 'The same as `GET /v1/evaluation/model-list`, at the plural path older SDKs call.'
    : 'The serverless models the server offers (`ASSAY_MODELS`). Dedicated endpoints and external models are open-ended, so their lists are empty.',
  ...(legacy ? { deprecated: true } : {}),
  parameters: [query('model_source', { type: 'string', enum: ['all', 'serverless', 'dedicated', 'external'], default: 'all' }, 'Only models of this source.')],
  responses: { '200': ok('The models.', ref('ModelList')), '400': fail('An unknown `model_source`.') },
});

const CLASSIFY_EXAMPLE = {
  type: 'classify',
  parameters: {
    judge: { model: 'Qwen/Qwen3.5-9B', model_source: 'serverless', system_template: 'Is the answer to "{{question}}" correct?' },
    input_data_file_path: 'file-0f8fad5b-d9cb-469f-a165-70867728950e',
    model_to_evaluate: 'answer',
    labels: ['correct', 'incorrect'],
    pass_labels: ['correct'],
  },
};
const SCORE_EXAMPLE = {
  type: 'score',
  parameters: {
    judge: { model: 'openai/gpt-oss-120b', model_source: 'serverless', system_template: 'Rate the helpfulness of the reply to "{{prompt}}".' },
    input_data_file_path: 'file-0f8fad5b-d9cb-469f-a165-70867728950e',
    model_to_evaluate: { model: 'Qwen/Qwen3.5-9B', model_source: 'serverless', input_template: '{{prompt}}', max_tokens: 512, temperature: 0.7 },
    min_score: 1,
    max_score: 10,
    pass_threshold: 7,
  },
};
const COMPARE_EXAMPLE = {
  type: 'compare',
  parameters: {
    judge: { model: 'gpt-4.1', model_source: 'external', external_base_url: 'http://127.0.0.1:8000/v1', system_template: 'Which answer to "{{prompt}}" is better?' },
    input_data_file_path: 'file-0f8fad5b-d9cb-469f-a165-70867728950e',
    model_a: 'answer_a',
    model_b: 'answer_b',
  },
};
/** The request examples, for the test that checks them against the schema and the request parser. */
export const CREATE_EXAMPLES = { classify: CLASSIFY_EXAMPLE, score: SCORE_EXAMPLE, compare: COMPARE_EXAMPLE };

const evaluationPaths: Record<string, PathItem> = {
  '/v1/evaluation': {
    post: {
      operationId: 'createEvaluationJob',
      tags: ['Evaluations'],
      summary: 'Create an evaluation job',
      description:
        'Checked at once (400 otherwise): the parameters of the type, the dataset exists and belongs to the caller, every template compiles and every ' +
        'template variable and response column names a dataset column, external models have a base URL or a known provider prefix. ' +
        'The job then runs in the background; poll `GET /v1/evaluation/{id}/status`.',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: ref('EvaluationTypedRequest'),
            examples: {
              classify: { summary: 'classify a response column', value: CLASSIFY_EXAMPLE },
              score: { summary: 'score a generated response', value: SCORE_EXAMPLE },
              compare: { summary: 'compare two columns with an external judge', value: COMPARE_EXAMPLE },
            },
          },
        },
      },
      responses: {
        '200': ok('The job is created.', ref('EvaluationResponse'), { workflow_id: 'eval-1a2b-1760000000', status: 'pending' }),
        '400': fail('The request cannot make a job; `param` names the field (`parameters.input_data_file_path` with code `file_not_found` for an unknown dataset).'),
        '413': bodyTooLarge,
      },
    },
    get: listJobs('getAllEvaluationJobs', false),
  },
  '/v1/evaluations': { get: listJobs('listEvaluationJobsLegacy', true) },
  '/v1/evaluation/model-list': { get: modelList('getModelList', false) },
  '/v1/evaluations/model-list': { get: modelList('getModelListLegacy', true) },
  '/v1/evaluation/{id}': {
    get: {
      operationId: 'getEvaluationJobDetails',
      tags: ['Evaluations'],
      summary: 'Retrieve an evaluation job',
      description: 'The job; while it is unfinished, with its `progress`.',
      parameters: [jobId],
      responses: { '200': ok('The job.', ref('EvaluationJob')), '404': notFoundJob },
    },
  },
  '/v1/evaluation/{id}/status': {
    get: {
      operationId: 'getEvaluationJobStatusAndResults',
      tags: ['Evaluations'],
      summary: 'Status and results of a job',
      parameters: [jobId],
      responses: { '200': ok('Its status, results once there are any, and progress while unfinished.', ref('EvaluationStatusResponse')), '404': notFoundJob },
    },
  },
  '/v1/evaluation/{id}/cancel': {
    post: {
      operationId: 'cancelEvaluationJob',
      tags: ['Evaluations'],
      ...ADDITION,
      summary: 'Cancel a job',
      description:
        'Stops the job within moments: queued work is dropped, calls in flight are aborted, rows already judged are kept. The job ends in `user_error` with ' +
        '`results.cancelled: true`, an `error` saying how many rows finished, the figures over those rows and a result file with every row. ' +
        'A new `cancelled` status would break released SDKs, which validate the status enum. Cancelling a finished job changes nothing. No body.',
      parameters: [jobId],
      responses: { '200': ok('The job, as it is now.', ref('EvaluationJob')), '404': notFoundJob },
    },
  },
  '/v1/evaluation/{id}/retry-failed': {
    post: {
      operationId: 'retryFailedRows',
      tags: ['Evaluations'],
      ...ADDITION,
      summary: 'Run the failed rows of a finished job again',
      description:
        'Runs again the rows that failed generation or judging after their retries (with `include_invalid`, also the invalid ones) and rows a cancel left unfinished. ' +
        'Rows that succeeded are not sent to a model again. The job goes back to `queued` and finishes with a new result file.',
      parameters: [jobId],
      requestBody: { required: false, content: json(ref('RetryFailedRequest')) },
      responses: {
        '200': ok('The job, queued again.', ref('EvaluationJob')),
        '400': fail('A token the job needs is missing (`param` names it).'),
        '404': notFoundJob,
        '409': fail('The job is unfinished (`job_not_finished`) or has nothing to run again (`nothing_to_retry`).'),
      },
    },
  },
  '/v1/evaluation/{id}/rows': {
    get: {
      operationId: 'listEvaluationRows',
      tags: ['Evaluations'],
      ...ADDITION,
      summary: "Browse a job's rows",
      description:
        'The dataset rows with what each added to the result file, in row order, paged and filtered; filters combine with AND. ' +
        'A filter that does not apply to the job\'s type, or an unknown value, answers 400 naming it.',
      parameters: [
        jobId,
        query('offset', { type: 'integer', minimum: 0, default: 0 }, 'Rows to skip.'),
        query('limit', { type: 'integer', minimum: 1, default: DEFAULT_ROWS_PAGE }, `Rows per page; at most ${MAX_ROWS_PAGE}.`),
        query('outcome', { type: 'string', enum: ['ok', 'invalid', 'failed', 'generation_failed', 'judge_failed'] }, 'Only rows with this outcome; `failed` means either failure.'),
        query('pass', { type: 'string', enum: ['true', 'false'] }, 'classify: the label is (not) in `pass_labels`; score: the score is at or above (below) `pass_threshold`. Rows without a verdict match neither.'),
        query('label', { type: 'string' }, "classify: one of the job's labels."),
        query('winner', { type: 'string', enum: ['A', 'B', 'Tie'] }, 'compare: the final decision.'),
        query('q', { type: 'string', maxLength: 500 }, "Text in the row's input or result fields, ASCII case ignored."),
      ],
      responses: { '200': ok('A page of rows.', ref('EvaluationRowPage')), '400': fail('A bad or inapplicable filter.'), '404': notFoundJob },
    },
  },
};

const templatePaths: Record<string, PathItem> = {
  '/v1/templates/render': {
    post: {
      operationId: 'renderTemplate',
      tags: ['Templates'],
      ...ADDITION,
      summary: 'Render a template against a row',
      description: 'Renders a Jinja2 template the way a job would, for a live preview while a job is being written.',
      requestBody: { required: true, content: json(ref('TemplateRenderRequest')) },
      responses: {
        '200': ok('The rendered text and the variables the template reads.', ref('TemplateRenderResponse'), { rendered: 'Is the answer to "2+2?" correct?', variables: ['question'] }),
        '400': fail("The template does not compile (the message says where), or the body's shape is wrong."),
      },
    },
  },
};

const operationPaths: Record<string, PathItem> = {
  '/healthz': {
    get: {
      operationId: 'health',
      tags: ['Operations'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'Liveness',
      description: 'The process is up and answering.',
      responses: { '200': ok('Alive.', ref('Health')) },
    },
  },
  '/readyz': {
    get: {
      operationId: 'readiness',
      tags: ['Operations'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'Readiness',
      description: 'The process can reach its store (the database in the distributed shape).',
      responses: { '200': ok('Ready.', ref('Readiness')), '503': ok('Shutting down (`closing`) or the store is unreachable (`unavailable`).', ref('Readiness')) },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      tags: ['Operations'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'Prometheus metrics',
      description: 'Jobs by status, rows by outcome, provider call latency, retries and rate limiting, queue depth, and process metrics.',
      responses: { '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
};

const html = (description: string): Response => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });

const webPaths: Record<string, PathItem> = {
  '/': {
    get: {
      operationId: 'webUi',
      tags: ['Web UI'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'The web UI',
      description: 'The single-page UI. The page holds no data; it asks for an API key when the API needs one.',
      responses: { '200': html('The page.'), '503': html('The UI has not been built (`npm run build`).') },
    },
  },
  '/ui': {
    get: {
      operationId: 'webUiRedirect',
      tags: ['Web UI'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'Redirect to the web UI',
      responses: { '302': { description: 'To `/`.', headers: { Location: { required: true, schema: { type: 'string' } } } } },
    },
  },
  '/ui/{path}': {
    get: {
      operationId: 'webUiAsset',
      tags: ['Web UI'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'A web UI asset',
      description: 'Scripts, styles and images of the UI and of this reference. Answers carry an ETag and revalidate every time.',
      parameters: [{ name: 'path', in: 'path', required: true, description: 'Path of the asset below `/ui/`; may contain `/`.', schema: { type: 'string' } }],
      responses: {
        '200': { description: 'The asset.', content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
        '304': { description: 'Unchanged since the ETag in `If-None-Match`.' },
        '404': fail('No such asset.'),
      },
    },
  },
  '/docs': {
    get: {
      operationId: 'apiReference',
      tags: ['Web UI'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'This API reference',
      description: 'A readable page rendered from `GET /v1/openapi.json`.',
      responses: { '200': html('The page.'), '304': { description: 'Unchanged since the ETag in `If-None-Match`.' } },
    },
  },
  '/v1/openapi.json': {
    get: {
      operationId: 'openApiDocument',
      tags: ['Web UI'],
      ...ADDITION,
      ...PUBLIC,
      summary: 'This API as an OpenAPI 3.1 document',
      responses: { '200': ok('The document.', { type: 'object', description: 'An OpenAPI 3.1 document.' }) },
    },
  },
};

export const paths: Record<string, PathItem> = {
  ...filePaths,
  ...evaluationPaths,
  ...templatePaths,
  ...operationPaths,
  ...webPaths,
};
