export { buildJudgeMessages, formatInstruction, neutraliseSectionTags } from './messages.js';
export type { JudgeMessages, JudgeMessagesOptions } from './messages.js';
export { parseVerdict } from './parse.js';
export { repairRequest } from './repair.js';
export { responseFormatFor, verdictJsonSchema } from './schema.js';
export type { JsonSchema, ResponseFormat } from './schema.js';
export { verdictKey } from './types.js';
export type {
  ClassifyOptions,
  CompareOptions,
  EvalType,
  ScoreOptions,
  Verdict,
  VerdictOptions,
  VerdictResult,
} from './types.js';
