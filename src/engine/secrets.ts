/**
 * Tokens a job needs to run again. assay forgets a job's tokens when it ends, so running its failed
 * rows again asks for them anew: `{"judge": {"external_api_token": "…"}, "model_a": {…}}`.
 */
import { ValidationError } from '../domain/errors.js';
import type { JobSpec, ModelCall } from '../domain/types.js';

/** The model calls of a job, each with the request field it came from (`judge`, `model_a`, …). */
export function callsOf(spec: JobSpec): Array<[string, ModelCall]> {
  const calls: Array<[string, ModelCall]> = [['judge', spec.judge]];
  if (spec.type === 'compare') {
    if (spec.a.kind === 'generate') calls.push(['model_a', spec.a.generator]);
    if (spec.b.kind === 'generate') calls.push(['model_b', spec.b.generator]);
  } else if (spec.target.kind === 'generate') calls.push(['model_to_evaluate', spec.target.generator]);
  return calls;
}

export function neededSecrets(spec: JobSpec, body: Record<string, unknown>): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [param, call] of callsOf(spec)) {
    if (call.secretRef === null) continue;
    const token = (body[param] as { external_api_token?: unknown } | undefined)?.external_api_token;
    if (typeof token !== 'string' || token === '') {
      throw new ValidationError(
        `${param}.external_api_token is needed again: assay forgets tokens when a job ends. Send {"${param}": {"external_api_token": "…"}}`,
        `${param}.external_api_token`,
        'token_required',
      );
    }
    secrets[call.secretRef] = token;
  }
  return secrets;
}
