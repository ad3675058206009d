/**
 * The web UI in a real browser (Debian's chromium through playwright-core) against the real server
 * in-process with a scripted judge: create an evaluation by uploading a file, watch it finish,
 * read its charts, browse, filter and search its rows, open one; cancel a running job; and check
 * the layout on a phone and the keyboard path through the main actions.
 *
 * chromium must be installed (`scripts/ensure-chromium.sh`); without it these tests fail.
 * A failing test leaves a screenshot in test-artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeChatRequest, FakeReply } from '../../src/testing/fake-provider.js';
import { GOOD, scriptedJudge, startHarness, type Harness } from '../integration/harness.js';
import { REPO_ROOT } from '../support/server-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const QA_ROWS = [
  { question: 'What is 2+2?', answer: `4 ${GOOD}` },
  { question: 'Capital of France?', answer: `Paris ${GOOD}` },
  { question: 'Largest planet?', answer: `Jupiter ${GOOD}` },
  { question: 'Author of Hamlet?', answer: 'Dickens' },
  { question: 'Boiling point of water?', answer: `100 °C ${GOOD}` },
  { question: 'Chemical symbol for gold?', answer: 'Ag' },
];

/** The scripted judge; rows marked [hang] never get an answer, so their job keeps running. */
function judge(req: FakeChatRequest): FakeReply {
  if (req.text.includes('[hang]')) return { hang: true };
  return scriptedJudge(req);
}

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium. Install it with scripts/ensure-chromium.sh (apt-get install chromium).`);
  }
  // Compile the client, so the page under test is the current source.
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'src', 'web', 'tsconfig.json')], { stdio: 'inherit' });
  h = await startHarness({ fake: { reply: judge, latencyMs: 40 } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** Runs `fn` on a fresh page; on failure saves a screenshot named after the test, then rethrows. */
async function withPage(name: string, viewport: { width: number; height: number }, fn: (page: Page) => Promise<void>): Promise<void> {
  const context: BrowserContext = await browser.newContext({ viewport, baseURL: h.url });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.setDefaultTimeout(15_000);
  try {
    await fn(page);
    expect(errors, 'errors thrown in the page').toEqual([]);
  } catch (err) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `ui-${name}.png`), fullPage: true }).catch(() => undefined);
    throw err;
  } finally {
    await context.close();
  }
}

/** How far the page is wider than the window (0 when nothing scrolls sideways). */
async function horizontalOverflow(page: Page): Promise<number> {
  return (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
}

/** Creates a finished classify job through the API, for the tests that start from one. */
async function finishedJob(): Promise<string> {
  const file = await h.uploadJsonl(QA_ROWS, 'qa.jsonl');
  const id = await h.createJob({
    type: 'classify',
    parameters: {
      judge: { model: 'judge-model', model_source: 'serverless', system_template: 'Is the answer to {{question}} correct?' },
      input_data_file_path: file.id,
      model_to_evaluate: 'answer',
      labels: ['correct', 'incorrect'],
      pass_labels: ['correct'],
    },
  });
  await h.waitForJob(id);
  return id;
}

describe('web UI', () => {
  it('creates an evaluation from an uploaded file, shows its results, and browses its rows', async () => {
    await withPage('create-and-browse', DESKTOP, async (page) => {
      await page.goto('/#/new');
      await page.getByRole('heading', { name: 'New evaluation' }).waitFor();

      // Dataset: upload through the file input, then see its columns and first rows.
      await page.getByLabel('Upload a JSONL or CSV file').setInputFiles({
        name: 'capitals.jsonl',
        mimeType: 'application/jsonl',
        buffer: Buffer.from(QA_ROWS.map((r) => `${JSON.stringify(r)}\n`).join('')),
      });
      const summary = page.locator('.dataset-summary');
      await expect.poll(() => summary.textContent()).toContain('capitals.jsonl');
      expect(await summary.textContent()).toContain('6 rows');
      expect(await page.locator('.preview-table tbody tr').count()).toBe(5);

      // Type, judge, template with a column inserted, and its preview for the first row.
      await page.getByLabel('Classify').check();
      await page.getByLabel('Model', { exact: true }).fill('judge-model');
      const template = page.getByLabel('Judge instructions (system template)', { exact: true });
      await template.fill('Is the answer to ');
      await page.getByRole('button', { name: 'Insert column question' }).click();
      await expect.poll(() => template.inputValue()).toBe('Is the answer to {{ question }}');
      await expect.poll(() => page.locator('#judge-template-preview').textContent()).toBe('Is the answer to What is 2+2?');

      // Labels and pass labels, and the response column (guessed from its name).
      expect(await page.getByLabel('Labels', { exact: true }).inputValue()).toBe('correct, incorrect');
      expect(await page.getByRole('checkbox', { name: 'correct', exact: true }).isChecked()).toBe(true);
      expect(await page.getByLabel('Response column').inputValue()).toBe('answer');

      await page.getByRole('button', { name: 'Start evaluation' }).click();
      await page.waitForURL(/#\/jobs\/eval-/);
      const jobId = decodeURIComponent(page.url().split('#/jobs/')[1]!);

      // The job page follows the job to the end and draws its summary.
      await expect.poll(() => page.locator('.title-row .badge').textContent(), { timeout: 20_000 }).toBe('completed');
      await page.locator('.bar-svg').first().waitFor();
      expect(await page.locator('.bar-svg').count()).toBe(2);
      expect(await page.locator('.bar-svg').first().getAttribute('aria-label')).toMatch(/^correct: 66\.7%, 95% CI/);
      expect(await page.locator('.stat', { hasText: 'Pass rate' }).textContent()).toContain('66.7%');
      expect(await page.getByRole('link', { name: 'Download results' }).getAttribute('href')).toMatch(/^\/v1\/files\/file-[^/]+\/content$/);
      expect(await page.getByRole('button', { name: 'Cancel job' }).count()).toBe(0);

      // The row browser: all rows, then filtered, then searched.
      await page.getByRole('link', { name: 'Browse rows' }).click();
      await page.waitForURL(new RegExp(`#/jobs/${jobId}/rows`));
      const count = page.locator('.result-count');
      await expect.poll(() => count.textContent()).toBe('Rows 1–6 of 6');
      await page.getByLabel('Show').selectOption({ label: 'Not passing' });
      await expect.poll(() => count.textContent()).toBe('Rows 1–2 of 2');
      expect(await page.locator('.row-item .verdict').allTextContents()).toEqual(['incorrect', 'incorrect']);
      expect(page.url()).toContain('show=fail');

      await page.getByLabel('Show').selectOption({ label: 'All rows' });
      await page.getByLabel('Search').fill('france');
      await page.getByLabel('Search').press('Enter');
      await expect.poll(() => count.textContent()).toBe('Rows 1–1 of 1');

      // A row in full: inputs, verdict, the judge's reply and prompt.
      await page.locator('.row-item').first().click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.locator('h2').textContent()).toBe('Row 2');
      const text = (await dialog.textContent()) ?? '';
      expect(text).toContain('Label: correct');
      expect(text).toContain('"feedback":"looks right"');
      expect(text).toContain('Capital of France?');
      await dialog.getByText('Judge prompt').click();
      expect(await dialog.locator('.message .role').allTextContents()).toEqual(['system', 'user']);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await page.evaluate('document.activeElement && document.activeElement.className')).toBe('row-item');
    });
  });

  it('shows a running job’s progress and cancels it', async () => {
    const file = await h.uploadJsonl([...QA_ROWS, { question: 'Never answered', answer: 'x [hang]' }], 'hangs.jsonl');
    const id = await h.createJob({
      type: 'score',
      parameters: {
        judge: { model: 'judge-model', model_source: 'serverless', system_template: 'Rate {{question}}' },
        input_data_file_path: file.id,
        model_to_evaluate: 'answer',
        min_score: 1,
        max_score: 5,
        pass_threshold: 4,
      },
    });
    await withPage('cancel', DESKTOP, async (page) => {
      await page.goto(`/#/jobs/${id}`);
      await expect.poll(() => page.locator('.progress-label').textContent()).toMatch(/^6 of 7 rows/);
      expect(await page.locator('#job-progress').getAttribute('max')).toBe('7');

      await page.goto('/#/jobs');
      const row = page.locator('tr', { hasText: id });
      await expect.poll(() => row.locator('.badge.status-running').count()).toBe(1);
      expect(await row.locator('.mini-progress').textContent()).toContain('6/7');

      await page.goto(`/#/jobs/${id}`);
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await expect.poll(() => page.locator('.title-row .badge').textContent()).toBe('stopped');
      expect(await page.locator('.notice').first().textContent()).toMatch(/cancelled by the user after 6 of 7 rows/);
      await page.getByRole('button', { name: 'Retry failed rows' }).waitFor();
      // Score summary: the mean on the score range, with the pass threshold marked.
      expect(await page.locator('.scale-svg').getAttribute('aria-label')).toMatch(/^Mean score [\d.]+ on 1–5/);
      expect(await page.locator('.marker-label').textContent()).toBe('pass ≥ 4');
    });
  });

  it('fits a phone screen without sideways scrolling', async () => {
    const id = await finishedJob();
    await withPage('phone', PHONE, async (page) => {
      for (const hash of ['#/jobs', '#/new', `#/jobs/${id}`, `#/jobs/${id}/rows`]) {
        await page.goto(`/${hash}`);
        await page.locator('h1').waitFor();
        await page.waitForLoadState('networkidle');
        expect(await horizontalOverflow(page), `sideways overflow on ${hash}`).toBe(0);
      }
      await page.locator('.row-item').first().click();
      await page.getByRole('dialog').waitFor();
      expect(await horizontalOverflow(page), 'sideways overflow with a row open').toBe(0);
    });
  });

  it('reaches the main actions with the keyboard', async () => {
    const id = await finishedJob();
    await withPage('keyboard', DESKTOP, async (page) => {
      /** Presses Tab until the focused element (its text, label or #id) matches; returns the number of presses. */
      const tabTo = async (name: RegExp, max = 40): Promise<number> => {
        for (let i = 1; i <= max; i++) {
          await page.keyboard.press('Tab');
          const focused = (await page.evaluate(
            '(() => { const el = document.activeElement; if (!el) return ""; return (el.textContent || "").trim() || el.getAttribute("aria-label") || "#" + el.id; })()',
          )) as string;
          if (name.test(focused)) return i;
        }
        throw new Error(`Tab never reached ${name}`);
      };
      await page.goto(`/#/jobs/${id}`);
      await page.locator('.bar-svg').first().waitFor();
      expect(await tabTo(/^New evaluation$/)).toBe(3);
      expect(await tabTo(/^API reference$/)).toBe(1);
      expect(await page.getByRole('link', { name: 'API reference' }).getAttribute('href')).toBe('/docs');
      expect(await tabTo(/^Browse rows$/)).toBeLessThanOrEqual(3);
      expect(await tabTo(/^Download results$/)).toBe(1);

      // Enter follows the focused link; a row opens with Enter and closes with Escape.
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/rows/);
      await page.locator('.row-item').first().waitFor();
      await tabTo(/^#1/);
      await page.keyboard.press('Enter');
      await page.getByRole('dialog').waitFor();
      expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Close');
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'hidden' });

      await page.goto('/#/new');
      await page.getByRole('heading', { name: 'New evaluation' }).waitFor();
      await tabTo(/^#dataset-upload$/);
      await tabTo(/^Start evaluation$/, 80);
    });
  });
});
