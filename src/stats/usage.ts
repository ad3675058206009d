/** Token totals per job, split into generation and judging, and their cost from a price table. */
import type { RowUsage, TokenCount, UsageRole } from '../domain/types.js';

/** Price of a model in currency units per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const round = (x: number): number => Number(x.toFixed(6));
const ROLES: readonly UsageRole[] = ['judge', 'target', 'a', 'b'];

/** A usage counter's counts as plain data. */
export interface UsageState {
  totals: Record<UsageRole, TokenCount>;
  cacheHits: number;
  cacheMisses: number;
}

export function createUsageCounter(models: Partial<Record<UsageRole, string>>, prices: PriceTable) {
  const totals: Record<UsageRole, TokenCount> = {
    judge: { prompt: 0, completion: 0 },
    target: { prompt: 0, completion: 0 },
    a: { prompt: 0, completion: 0 },
    b: { prompt: 0, completion: 0 },
  };
  let cacheHits = 0;
  let cacheMisses = 0;
  return {
    /** The counts so far, as plain data (a result segment keeps them; see `merge`). */
    state(): UsageState {
      return { totals: structuredClone(totals), cacheHits, cacheMisses };
    },
    /** Adds counts another counter took (`state`), as if its rows had been added here. */
    merge(other: UsageState): void {
      for (const role of ROLES) {
        totals[role].prompt += other.totals[role].prompt;
        totals[role].completion += other.totals[role].completion;
      }
      cacheHits += other.cacheHits;
      cacheMisses += other.cacheMisses;
    },
    add(usage: RowUsage): void {
      for (const role of ROLES) {
        const count = usage[role];
        if (!count) continue;
        totals[role].prompt += count.prompt;
        totals[role].completion += count.completion;
      }
      cacheHits += usage.cacheHits ?? 0;
      cacheMisses += usage.cacheMisses ?? 0;
    },
    /** `usage` always; `cost` only when every model that spent tokens has a price. */
    finish(): Record<string, unknown> {
      const generation = {
        prompt_tokens: totals.target.prompt + totals.a.prompt + totals.b.prompt,
        completion_tokens: totals.target.completion + totals.a.completion + totals.b.completion,
      };
      const judge = { prompt_tokens: totals.judge.prompt, completion_tokens: totals.judge.completion };
      const out: Record<string, unknown> = {
        usage: {
          generation,
          judge,
          total_tokens: generation.prompt_tokens + generation.completion_tokens + judge.prompt_tokens + judge.completion_tokens,
        },
        // Model calls answered by the shared call cache, and calls that went to a model.
        cache: { hits: cacheHits, misses: cacheMisses },
      };
      const costOf = (roles: UsageRole[]): number | null => {
        let sum = 0;
        for (const role of roles) {
          const count = totals[role];
          if (count.prompt + count.completion === 0) continue;
          const price = models[role] === undefined ? undefined : prices[models[role]];
          if (!price) return null;
          sum += (count.prompt * price.input + count.completion * price.output) / 1_000_000;
        }
        return sum;
      };
      const generationCost = costOf(['target', 'a', 'b']);
      const judgeCost = costOf(['judge']);
      if (generationCost !== null && judgeCost !== null && Object.keys(prices).length > 0) {
        out.cost = { generation: round(generationCost), judge: round(judgeCost), total: round(generationCost + judgeCost) };
      }
      return out;
    },
  };
}
