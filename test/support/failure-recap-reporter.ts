/**
 * Repeats what failed, a few short lines each, as the very last lines of a test run. A CI log is
 * often read from its tail only, where the default reporter leaves its counts ("Errors 1 error")
 * but not the error itself, which it printed far above. Prints nothing when the run passed.
 */
import path from 'node:path';
import type { Reporter, SerializedError, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

/** Stack frames shown per error: enough to find the throwing line, few enough for a log's tail. */
const FRAMES = 3;
/** Failures listed one by one; the rest are counted. */
const LISTED = 8;

export default class FailureRecapReporter implements Reporter {
  /** Paths are shown relative to the run's root, as the default reporter shows them. */
  private root = process.cwd();

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    if (reason === 'passed' && unhandled.length === 0) return;
    const lines: string[] = [];
    for (const error of unhandled) {
      // Where vitest saw it: the file that was running, and the test if one was.
      const file = typeof error.VITEST_TEST_PATH === 'string' ? this.relative(error.VITEST_TEST_PATH) : null;
      const test = typeof error.VITEST_TEST_NAME === 'string' ? `, after "${error.VITEST_TEST_NAME}"` : '';
      lines.push(`unhandled${file ? ` (while ${file} ran${test})` : ''}: ${this.describe(error)}`);
    }
    for (const module of modules) {
      const file = this.relative(module.moduleId);
      for (const error of module.errors()) lines.push(`${file}: ${this.describe(error)}`);
      for (const test of module.children.allTests('failed')) {
        const first = test.result().errors?.[0];
        lines.push(`failed ${file} > ${test.fullName}${first ? `: ${this.describe(first)}` : ''}`);
      }
    }
    if (lines.length === 0) return;
    const shown = lines.slice(0, LISTED);
    if (lines.length > LISTED) shown.push(`… and ${lines.length - LISTED} more above`);
    process.stdout.write(`\nrecap of what failed:\n${shown.map((l) => `  ${l}`).join('\n')}\n`);
  }

  /** The error's first line, then its first frames in the project's own code. */
  private describe(error: SerializedError): string {
    const head = `${error.name ?? 'Error'}: ${firstLine(error.message)}`;
    const all = (error.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .map((l) => l.trim().replace(/^at /, '').replace('file://', '').replace(`${this.root}${path.sep}`, ''));
    // The project's own frames say the most; Node's and the libraries' only when there are no others.
    const own = all.filter((l) => !l.includes('node_modules/') && !l.includes('node:') && !l.includes('<anonymous>'));
    const frames = (own.length > 0 ? own : all).slice(0, FRAMES);
    const cause = error.cause && typeof error.cause === 'object' && 'message' in error.cause ? ` ⟵ caused by ${firstLine(String(error.cause.message))}` : '';
    return `${head}${frames.length > 0 ? ` [${frames.join(' ← ')}]` : ''}${cause}`;
  }

  private relative(file: string): string {
    return path.relative(this.root, file);
  }
}

const firstLine = (text: string | undefined): string => (text ?? '').split('\n')[0]!.slice(0, 300);
