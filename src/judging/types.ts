/** The vocabulary of judging: what a verdict looks like for each evaluation type. */
export type { EvalType } from '../domain/types.js';

export interface ClassifyOptions {
  type: 'classify';
  /** The allowed labels, in the order the job gave them. */
  labels: readonly string[];
}

export interface ScoreOptions {
  type: 'score';
  minScore: number;
  maxScore: number;
}

export interface CompareOptions {
  type: 'compare';
}

/** What the judge must answer, per evaluation type. */
export type VerdictOptions = ClassifyOptions | ScoreOptions | CompareOptions;

/** A parsed judge reply. Exactly the key of the job's type is set. */
export interface Verdict {
  feedback: string;
  label?: string;
  score?: number;
  /** In the order the responses were shown: A is the first shown. */
  choice?: 'A' | 'B';
}

/** A usable verdict, or why the reply is invalid (counted as invalid, not as a judge failure). */
export type VerdictResult = { ok: true; verdict: Verdict } | { ok: false; reason: string };

/** The reply key that carries the verdict for each type. */
export function verdictKey(opts: VerdictOptions): 'label' | 'score' | 'choice' {
  switch (opts.type) {
    case 'classify':
      return 'label';
    case 'score':
      return 'score';
    case 'compare':
      return 'choice';
  }
}
