/**
 * The component schemas of assay's OpenAPI document: Together's Files and Evaluations objects
 * (field names and meanings as in Together's own MIT-licensed document) with what assay adds
 * beside them, and assay's own objects. Written out rather than derived from the request parser,
 * so every field can say what it means; test/integration/openapi.test.ts checks real answers and
 * the documented examples against these schemas.
 */
import { DEFAULT_LIMITS } from '../config/config.js';
import { EVAL_TYPES, FILE_PURPOSES, JOB_STATUSES, MODEL_SOURCES } from '../domain/types.js';
import type { Schema } from './openapi-types.js';

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** `schema` or null, in JSON Schema 2020-12 (OpenAPI 3.1) terms. */
export const orNull = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] });

const count = (description: string): Schema => ({ type: 'integer', minimum: 0, description });
const rate = (description: string): Schema => ({ type: ['number', 'null'], minimum: 0, maximum: 1, description });
const percent = (description: string): Schema => ({ type: 'number', minimum: 0, maximum: 100, description });

const errorSchemas: Record<string, Schema> = {
  ErrorData: {
    description:
      'The envelope of every error answer, whatever the status (400, 401, 403, 404, 409, 413, 415, 429, 5xx). ' +
      '`param` names the request field at fault (`parameters.judge.system_template`, `file`, `limit`), and upload errors name the line.',
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['message', 'type', 'param', 'code'],
        properties: {
          message: { type: 'string', description: 'What went wrong and, where possible, what to do about it.' },
          type: {
            type: 'string',
            description: 'The error class by HTTP status.',
            examples: ['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'conflict_error', 'rate_limit_error', 'server_error'],
          },
          param: { type: ['string', 'null'], description: 'The request field or dataset column at fault, when there is one.' },
          code: { type: ['string', 'null'], description: 'A stable machine-readable code.', examples: ['invalid_request', 'not_found', 'file_not_found', 'invalid_signature', 'nothing_to_retry'] },
        },
      },
    },
    examples: [{ error: { message: 'parameters.labels is required', type: 'invalid_request_error', param: 'parameters.labels', code: 'invalid_request' } }],
  },
};

const fileSchemas: Record<string, Schema> = {
  FilePurpose: {
    type: 'string',
    description: 'What the file is for. Datasets for evaluations are `eval`; result files are `eval-output`.',
    enum: FILE_PURPOSES,
  },
  FileType: {
    type: 'string',
    description: 'The format of the file. assay reads JSONL and CSV; `parquet` is refused with a 400.',
    enum: ['jsonl', 'csv'],
    default: 'jsonl',
  },
  FileResponse: {
    description: 'A file: an uploaded dataset or a result file. The PascalCase fields are spelt as Together spells them.',
    type: 'object',
    required: ['id', 'object', 'created_at', 'filename', 'bytes', 'purpose', 'Processed', 'FileType', 'LineCount', 'processing_status'],
    properties: {
      id: { type: 'string', description: 'ID of the file.', examples: ['file-0f8fad5b-d9cb-469f-a165-70867728950e'] },
      object: { const: 'file', description: 'Always `file`.' },
      created_at: { type: 'integer', description: 'When the file was created, in Unix seconds.' },
      filename: { type: 'string', description: 'The name of the file as it was uploaded.', examples: ['data.jsonl'] },
      bytes: { type: 'integer', minimum: 0, description: 'Size of the file in bytes (0 until its bytes arrive).' },
      purpose: ref('FilePurpose'),
      Processed: { type: 'boolean', description: 'Whether the bytes have arrived and every line was read.' },
      FileType: ref('FileType'),
      LineCount: { type: 'integer', minimum: 0, description: 'assay addition beside the schema: the number of rows.' },
      processing_status: {
        type: 'string',
        enum: ['PENDING', 'COMPLETED'],
        description: '`PENDING` while the file waits for its bytes (three-step upload), then `COMPLETED`.',
      },
    },
  },
  FileList: {
    type: 'object',
    required: ['object', 'data'],
    properties: {
      object: { const: 'list' },
      data: { type: 'array', items: ref('FileResponse'), description: "The caller's files, newest first." },
    },
  },
  FileDeleteResponse: {
    type: 'object',
    required: ['id', 'object', 'deleted'],
    properties: {
      id: { type: 'string' },
      object: { const: 'file' },
      deleted: { const: true },
    },
  },
  UploadReceipt: {
    description: 'The answer of the signed upload target once the bytes are stored.',
    type: 'object',
    required: ['id', 'object', 'status'],
    properties: {
      id: { type: 'string' },
      object: { const: 'file' },
      status: { const: 'uploaded' },
    },
  },
  FilePreview: {
    description: 'assay addition: the first rows of a dataset. Only those rows are read.',
    type: 'object',
    required: ['object', 'id', 'columns', 'rows', 'line_count'],
    properties: {
      object: { const: 'file_preview' },
      id: { type: 'string' },
      columns: { type: 'array', items: { type: 'string' }, description: "The dataset's columns, in file order." },
      rows: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'The first rows, one object per row.' },
      line_count: { type: 'integer', minimum: 0, description: 'Rows in the whole file.' },
    },
  },
};

/** Fields shared by the judge and model configs. */
const endpointFields = (role: string): Record<string, Schema> => ({
  model: {
    type: 'string',
    minLength: 1,
    description: `The ${role}: a serverless model id, a dedicated endpoint id, or for \`external\` a model name (with \`external_base_url\`) or a provider shortcut such as \`openai/gpt-4.1\`.`,
    examples: ['Qwen/Qwen3.5-9B'],
  },
  model_name: { type: 'string', minLength: 1, deprecated: true, description: 'The older spelling of `model`, still accepted in its place.' },
  model_source: {
    ...ref('ModelSource'),
    description: '`serverless` and `dedicated` models are called on the server\'s configured provider; `external` ones on `external_base_url`, or on a known provider by prefix. Defaults to `serverless`.',
  },
  external_api_token: {
    type: 'string',
    writeOnly: true,
    description: 'Bearer token for an external model. Kept apart from the job, forgotten when it ends, never returned.',
  },
  external_base_url: {
    type: 'string',
    format: 'uri',
    description: 'OpenAI-compatible base URL for an external model, e.g. `http://127.0.0.1:8000/v1`.',
  },
  num_workers: { type: 'integer', minimum: 1, description: 'Concurrent requests to this model for this job, overriding the endpoint default.' },
});

const USE_CACHE: Schema = {
  type: 'boolean',
  default: true,
  description: 'assay addition: `false` sends every call to the model, bypassing the shared cache of identical model calls.',
};

const requestSchemas: Record<string, Schema> = {
  EvaluationType: { type: 'string', enum: EVAL_TYPES, description: 'classify: a label per row; score: a number per row; compare: which of two responses is better.' },
  ModelSource: { type: 'string', enum: MODEL_SOURCES, default: 'serverless' },
  EvaluationTypedRequest: {
    description:
      'A new evaluation job: `type` chooses the parameter object. Explicit `null` fields count as absent and unknown fields are ignored, so every shape a released SDK sends is accepted.',
    oneOf: [ref('EvaluationClassifyRequest'), ref('EvaluationScoreRequest'), ref('EvaluationCompareRequest')],
    discriminator: {
      propertyName: 'type',
      mapping: {
        classify: '#/components/schemas/EvaluationClassifyRequest',
        score: '#/components/schemas/EvaluationScoreRequest',
        compare: '#/components/schemas/EvaluationCompareRequest',
      },
    },
  },
  EvaluationClassifyRequest: {
    type: 'object',
    required: ['type', 'parameters'],
    properties: { type: { const: 'classify' }, parameters: ref('EvaluationClassifyParameters') },
  },
  EvaluationScoreRequest: {
    type: 'object',
    required: ['type', 'parameters'],
    properties: { type: { const: 'score' }, parameters: ref('EvaluationScoreParameters') },
  },
  EvaluationCompareRequest: {
    type: 'object',
    required: ['type', 'parameters'],
    properties: { type: { const: 'compare' }, parameters: ref('EvaluationCompareParameters') },
  },
  EvaluationClassifyParameters: {
    description: 'The judge picks one of `labels` for each row; rows whose label is in `pass_labels` pass.',
    type: 'object',
    required: ['judge', 'input_data_file_path', 'model_to_evaluate', 'labels', 'pass_labels'],
    properties: {
      judge: ref('EvaluationJudgeModelConfig'),
      input_data_file_path: { type: 'string', minLength: 1, description: 'ID of the uploaded dataset file.', examples: ['file-0f8fad5b-d9cb-469f-a165-70867728950e'] },
      model_to_evaluate: ref('EvaluationModelOrString'),
      labels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 2, uniqueItems: true, description: 'The labels the judge chooses from.', examples: [['correct', 'incorrect']] },
      pass_labels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'The labels that count as a pass; each must be one of `labels`.', examples: [['correct']] },
      use_cache: USE_CACHE,
    },
  },
  EvaluationScoreParameters: {
    description: 'The judge gives each row a number in [`min_score`, `max_score`]; scores at or above `pass_threshold` pass.',
    type: 'object',
    required: ['judge', 'input_data_file_path', 'model_to_evaluate', 'min_score', 'max_score', 'pass_threshold'],
    properties: {
      judge: ref('EvaluationJudgeModelConfig'),
      input_data_file_path: { type: 'string', minLength: 1, description: 'ID of the uploaded dataset file.' },
      model_to_evaluate: ref('EvaluationModelOrString'),
      min_score: { type: 'number', description: 'Lowest possible score; less than `max_score`.', examples: [1] },
      max_score: { type: 'number', description: 'Highest possible score.', examples: [10] },
      pass_threshold: { type: 'number', description: 'Scores at or above it pass; within [`min_score`, `max_score`].', examples: [7] },
      use_cache: USE_CACHE,
    },
  },
  EvaluationCompareParameters: {
    description:
      'The judge says which of two responses is better. Each row is judged twice, once in each order, so position bias cannot decide the result; passes that disagree make a tie.',
    type: 'object',
    required: ['judge', 'input_data_file_path', 'model_a', 'model_b'],
    properties: {
      judge: ref('EvaluationJudgeModelConfig'),
      input_data_file_path: { type: 'string', minLength: 1, description: 'ID of the uploaded dataset file.' },
      model_a: ref('EvaluationModelOrString'),
      model_b: ref('EvaluationModelOrString'),
      disable_position_bias_correction: { type: 'boolean', default: false, description: 'Judge each row once, in the original order only.' },
      use_cache: USE_CACHE,
    },
  },
  EvaluationJudgeModelConfig: {
    description: 'The judge model. Together requires `model_source`; assay defaults it to `serverless`.',
    type: 'object',
    required: ['model', 'system_template'],
    properties: {
      ...endpointFields('judge model'),
      system_template: {
        type: 'string',
        description: "The judge's instructions: a Jinja2 template over the dataset's columns. Every variable must name a column.",
        examples: ['Is the answer to "{{question}}" correct?'],
      },
      max_tokens: { type: 'integer', minimum: 1, description: 'Judge `max_tokens`; default from the server (`ASSAY_JUDGE_MAX_TOKENS`, 32768).' },
      temperature: { type: 'number', minimum: 0, maximum: 2, description: 'Judge temperature; default from the server (`ASSAY_JUDGE_TEMPERATURE`, 0.05).' },
    },
  },
  EvaluationModelOrString: {
    description: 'Where the judged responses come from: the name of a dataset column that holds them, or a model that generates them.',
    oneOf: [{ type: 'string', minLength: 1, description: 'A dataset column holding the responses.', examples: ['answer'] }, ref('EvaluationModelRequest')],
  },
  EvaluationModelRequest: {
    description:
      'A model that generates the responses to judge. Together requires every field but `external_*` and `num_workers`; assay fills in `model_source`, `system_template`, `max_tokens` and `temperature` when they are left out.',
    type: 'object',
    required: ['model', 'input_template'],
    properties: {
      ...endpointFields('model under test'),
      system_template: { type: 'string', default: '', description: 'System message: a Jinja2 template over the dataset columns.' },
      input_template: { type: 'string', description: 'The user message: a Jinja2 template over the dataset columns.', examples: ['{{prompt}}'] },
      max_tokens: { type: 'integer', minimum: 1, description: 'Default from the server (`ASSAY_GENERATION_MAX_TOKENS`, 1024).' },
      temperature: { type: 'number', minimum: 0, maximum: 2, description: 'Default from the server (`ASSAY_GENERATION_TEMPERATURE`, 0.05).' },
    },
  },
  EvaluationResponse: {
    type: 'object',
    required: ['workflow_id', 'status'],
    properties: {
      workflow_id: { type: 'string', description: 'ID of the new job.', examples: ['eval-1a2b-1760000000'] },
      status: { const: 'pending' },
    },
  },
  RetryFailedRequest: {
    description:
      'Optional. assay forgets tokens when a job ends, so a job that used `external_api_token`s needs them again, under the same keys as at creation.',
    type: 'object',
    properties: {
      include_invalid: { type: 'boolean', default: false, description: 'Also run again the rows whose verdict was invalid.' },
      judge: ref('TokenRefill'),
      model_to_evaluate: ref('TokenRefill'),
      model_a: ref('TokenRefill'),
      model_b: ref('TokenRefill'),
    },
  },
  TokenRefill: {
    type: 'object',
    required: ['external_api_token'],
    properties: { external_api_token: { type: 'string', writeOnly: true } },
  },
  TemplateRenderRequest: {
    type: 'object',
    required: ['template'],
    properties: {
      template: {
        type: 'string',
        description: `A Jinja2 template, of at most \`ASSAY_MAX_TEMPLATE_CHARS\` characters (default ${DEFAULT_LIMITS.maxTemplateChars}).`,
        examples: ['Is the answer to "{{question}}" correct?'],
      },
      row: { type: 'object', additionalProperties: true, description: 'Column values to render it with; variables not given render empty.', examples: [{ question: '2+2?' }] },
    },
  },
  TemplateRenderResponse: {
    type: 'object',
    required: ['rendered', 'variables'],
    properties: {
      rendered: { type: 'string' },
      variables: { type: 'array', items: { type: 'string' }, description: 'The top-level variables the template reads: the dataset columns it needs.' },
    },
  },
};

/** Result fields every evaluation type has. */
const commonResults: Record<string, Schema> = {
  generation_fail_count: count('Failed calls to the model under test, after their retries (compare: both models).'),
  judge_fail_count: count('Failed judge calls, after their retries (compare: both passes).'),
  result_file_id: { type: 'string', description: 'The per-row result file (JSONL), with the audit fields: `judge_prompt`, `judge_raw_output`, `invalid_reason`, `error`.' },
  usage: ref('TokenUsage'),
  cache: ref('CacheUse'),
  cost: ref('Cost'),
  error: { type: 'string', description: 'Why a job ended in `error` or `user_error`; the figures beside it are kept.' },
  cancelled: { const: true, description: 'Present when the job was cancelled (status `user_error`); the figures cover the rows that finished.' },
};

/** Fields every finished job's results carry (`cache`, `cost`, `error` and `cancelled` only sometimes). */
const RESULT_FIELDS = ['generation_fail_count', 'judge_fail_count', 'result_file_id', 'usage'] as const;

const resultSchemas: Record<string, Schema> = {
  Interval: {
    description: 'A 95% confidence interval (see docs/statistics.md).',
    type: 'object',
    required: ['low', 'high'],
    properties: { low: { type: 'number' }, high: { type: 'number' } },
  },
  LabelProportion: {
    description: "One label's share of the valid verdicts with its Wilson interval, on the 0–1 scale.",
    type: 'object',
    required: ['proportion', 'low', 'high'],
    properties: { proportion: { type: 'number', minimum: 0, maximum: 1 }, low: { type: 'number' }, high: { type: 'number' } },
  },
  TokenUsage: {
    description: 'assay addition: tokens the job spent, split into generation (the model under test) and judging.',
    type: 'object',
    required: ['generation', 'judge', 'total_tokens'],
    properties: {
      generation: ref('TokenCount'),
      judge: ref('TokenCount'),
      total_tokens: { type: 'integer', minimum: 0 },
    },
  },
  TokenCount: {
    type: 'object',
    required: ['prompt_tokens', 'completion_tokens'],
    properties: { prompt_tokens: { type: 'integer', minimum: 0 }, completion_tokens: { type: 'integer', minimum: 0 } },
  },
  CacheUse: {
    description: 'assay addition: model calls the shared call cache answered, and calls that went to a model.',
    type: 'object',
    required: ['hits', 'misses'],
    properties: { hits: { type: 'integer', minimum: 0 }, misses: { type: 'integer', minimum: 0 } },
  },
  Cost: {
    description: 'assay addition: the cost of those tokens, in the currency of `ASSAY_PRICES`. Present only when every model that spent tokens has a price.',
    type: 'object',
    required: ['generation', 'judge', 'total'],
    properties: { generation: { type: 'number' }, judge: { type: 'number' }, total: { type: 'number' } },
  },
  EvaluationClassifyResults: {
    description: 'Results of a classify job. Invalid and failed rows are left out of every denominator.',
    type: 'object',
    required: [...RESULT_FIELDS, 'pass_percentage', 'label_counts', 'invalid_label_count', 'pass_percentage_ci', 'label_proportions'],
    properties: {
      pass_percentage: percent('100 × rows whose label is in `pass_labels` / rows with a valid label; 0 when none is valid.'),
      label_counts: {
        description:
          'Rows per label over valid verdicts, every label present. An object by default, as the live API returns it; a JSON-encoded string, as Together\'s schema says, when the server runs with `ASSAY_LABEL_COUNTS_AS_STRING=true`.',
        oneOf: [
          { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, examples: [{ correct: 8, incorrect: 2 }] },
          { type: 'string', contentMediaType: 'application/json', examples: ['{"correct": 8, "incorrect": 2}'] },
        ],
      },
      invalid_label_count: count('Rows whose judge reply was not a usable label, even after a repair turn.'),
      ...commonResults,
      pass_percentage_ci: { ...orNull(ref('Interval')), description: 'assay addition: Wilson interval for `pass_percentage`, in percent; null when no row is valid.' },
      label_proportions: {
        type: 'object',
        description: "assay addition: each label's share with its interval; null for a label when no row is valid.",
        additionalProperties: orNull(ref('LabelProportion')),
      },
    },
  },
  EvaluationScoreResults: {
    description: 'Results of a score job.',
    type: 'object',
    required: [...RESULT_FIELDS, 'aggregated_scores', 'invalid_score_count', 'failed_samples'],
    properties: {
      aggregated_scores: {
        type: 'object',
        required: ['mean_score', 'std_score', 'pass_percentage'],
        properties: {
          mean_score: { type: 'number', description: 'Mean of the valid scores; 0 when there are none.' },
          std_score: { type: 'number', minimum: 0, description: 'Sample standard deviation (n − 1) of the valid scores; 0 for fewer than two.' },
          pass_percentage: percent('100 × valid scores ≥ `pass_threshold` / valid scores.'),
          mean_score_stderr: { type: ['number', 'null'], description: 'assay addition: standard error of the mean; null for fewer than two scores.' },
          mean_score_ci: { ...orNull(ref('Interval')), description: "assay addition: Student's t interval for the mean, clamped to the score scale." },
          pass_percentage_ci: { ...orNull(ref('Interval')), description: 'assay addition: Wilson interval for `pass_percentage`, in percent.' },
        },
      },
      invalid_score_count: count('Rows whose judge reply was not a usable score.'),
      failed_samples: count('Rows with no usable score: failed rows plus invalid ones.'),
      ...commonResults,
    },
  },
  EvaluationCompareResults: {
    description: 'Results of a compare job. `A` always means model A, whichever order a pass showed it in.',
    type: 'object',
    required: [...RESULT_FIELDS, 'A_wins', 'B_wins', 'Ties', 'invalid_judge_count', 'win_rate_a', 'win_rate_a_ci', 'sign_test_p_value', 'flip_rate', 'first_position_preference_rate'],
    properties: {
      A_wins: count('Rows model A won.'),
      B_wins: count('Rows model B won.'),
      Ties: count('Rows with a tie, including rows whose two passes disagreed.'),
      invalid_judge_count: count('assay addition: rows with no valid pass.'),
      ...commonResults,
      win_rate_a: rate("assay addition: model A's win rate over decided rows, a tie counting ½; null when no row was decided."),
      win_rate_a_ci: { ...orNull(ref('Interval')), description: "assay addition: Tango's score interval for `win_rate_a`." },
      sign_test_p_value: { type: 'number', minimum: 0, maximum: 1, description: 'assay addition: exact two-sided sign test of A against B over rows someone won.' },
      flip_rate: rate('assay addition: share of rows with two valid passes whose passes disagreed; null with position-bias correction disabled.'),
      first_position_preference_rate: rate('assay addition: share of valid passes that chose the response shown first (0.5 is unbiased); null with one pass.'),
    },
  },
  EvaluationErrorResults: {
    description: 'Results of a job that ended before any row was judged.',
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' } },
  },
};

const jobSchemas: Record<string, Schema> = {
  EvaluationStatus: {
    type: 'string',
    enum: JOB_STATUSES,
    description:
      '`pending` (created), `queued`, `running`, then one of `completed`; `error` (more failed rows than the server allows, 30% by default, or an internal failure); ' +
      "`user_error` (the caller's doing: the dataset was deleted, a model endpoint refused the credentials or does not know the model, or the job was cancelled — then `results.cancelled` is true). " +
      "There is no `cancelled` status: released SDKs validate this enum and would reject a seventh value.",
  },
  EvaluationJob: {
    type: 'object',
    required: ['workflow_id', 'type', 'owner_id', 'status', 'status_updates', 'parameters', 'created_at', 'updated_at', 'results'],
    properties: {
      workflow_id: { type: 'string', examples: ['eval-1a2b-1760000000'] },
      type: ref('EvaluationType'),
      owner_id: { type: 'string', description: 'Who the job belongs to.' },
      status: ref('EvaluationStatus'),
      status_updates: { type: 'array', items: ref('EvaluationJobStatusUpdate'), description: 'Every status the job went through, oldest first.' },
      parameters: { type: 'object', additionalProperties: true, description: 'The request\'s `parameters` as sent, every `external_api_token` removed.' },
      created_at: { type: 'string', format: 'date-time', examples: ['2025-07-23T17:10:04.837888Z'] },
      updated_at: { type: 'string', format: 'date-time' },
      results: {
        description: 'null until the job ends; then the results of its `type`, or only `error` when it ended before any row was judged.',
        anyOf: [ref('EvaluationClassifyResults'), ref('EvaluationScoreResults'), ref('EvaluationCompareResults'), ref('EvaluationErrorResults'), { type: 'null' }],
      },
      progress: ref('EvaluationProgress'),
    },
  },
  EvaluationJobStatusUpdate: {
    type: 'object',
    required: ['status', 'message', 'timestamp'],
    properties: {
      status: ref('EvaluationStatus'),
      message: { type: 'string', examples: ['Job created and pending for processing'] },
      timestamp: { type: 'string', format: 'date-time' },
    },
  },
  EvaluationStatusResponse: {
    type: 'object',
    required: ['status'],
    properties: {
      status: ref('EvaluationStatus'),
      results: {
        description: "Left out until the job has results (Together's schema does not allow null here).",
        anyOf: [ref('EvaluationClassifyResults'), ref('EvaluationScoreResults'), ref('EvaluationCompareResults'), ref('EvaluationErrorResults')],
      },
      progress: ref('EvaluationProgress'),
    },
  },
  EvaluationProgress: {
    description: 'assay addition, present while the job is `pending`, `queued` or `running`.',
    type: 'object',
    required: ['rows_total', 'rows_done', 'rows_failed', 'rows_per_second', 'eta_seconds', 'waiting_on_rate_limit'],
    properties: {
      rows_total: { type: 'integer', minimum: 0 },
      rows_done: { type: 'integer', minimum: 0 },
      rows_failed: { type: 'integer', minimum: 0 },
      rows_per_second: { type: ['number', 'null'], description: 'Rows finished by this server process since it started on the job; null until the first.' },
      eta_seconds: { type: ['number', 'null'] },
      waiting_on_rate_limit: { type: 'boolean', description: 'True while a model endpoint of the job holds requests back after a 429 or for its budget.' },
    },
  },
  ModelList: {
    type: 'object',
    required: ['model_list'],
    properties: { model_list: { type: 'array', items: { type: 'string' }, description: 'The serverless models (`ASSAY_MODELS`).' } },
  },
  RowOutcome: {
    type: 'string',
    enum: ['ok', 'invalid', 'generation_failed', 'judge_failed'],
    description: '`ok`: a usable verdict; `invalid`: the judge answered but not with a usable verdict; `generation_failed` / `judge_failed`: a call failed after its retries.',
  },
  EvaluationRow: {
    type: 'object',
    required: ['row_index', 'outcome', 'input', 'result'],
    properties: {
      row_index: { type: 'integer', minimum: 0 },
      outcome: ref('RowOutcome'),
      input: { type: ['object', 'null'], additionalProperties: true, description: 'The dataset row.' },
      result: { type: 'object', additionalProperties: true, description: 'The fields the row adds to the result file: generations, verdict, feedback, audit fields.' },
    },
  },
  EvaluationRowPage: {
    type: 'object',
    required: ['object', 'total', 'offset', 'limit', 'data'],
    properties: {
      object: { const: 'list' },
      total: { type: 'integer', minimum: 0, description: 'Rows matching the filters.' },
      offset: { type: 'integer', minimum: 0 },
      limit: { type: 'integer', minimum: 1 },
      data: { type: 'array', items: ref('EvaluationRow'), description: 'In row order.' },
    },
  },
};

const operationSchemas: Record<string, Schema> = {
  Health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
  Readiness: {
    type: 'object',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ready', 'closing', 'unavailable'] },
      reason: { type: 'string', description: 'Why the store cannot be reached (with `unavailable`).' },
    },
  },
};

export const schemas: Record<string, Schema> = {
  ...errorSchemas,
  ...fileSchemas,
  ...requestSchemas,
  ...resultSchemas,
  ...jobSchemas,
  ...operationSchemas,
};
