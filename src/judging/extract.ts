/**
 * Finding the JSON object in a judge's reply. Judges wrap their answer in many ways: code fences,
 * a sentence before or after, `<think>` blocks from reasoning models. This strips what it can
 * recognise and then takes the first balanced `{...}` that parses as JSON.
 */

const LEADING_THINK = /^<(think|thinking)>/i;
const CLOSING_THINK = /<\/(?:think|thinking)>/gi;
const THINK_BLOCK = /<(think|thinking)>[\s\S]*?<\/\1>/gi;
const WHOLE_FENCE = /^```[\w-]*[ \t]*\r?\n?([\s\S]*?)\r?\n?```$/;

/**
 * Drop `<think>...</think>` blocks at the start of a reply. Null when the reply ends inside one
 * (cut off while thinking): whatever JSON it holds is a draft, not the verdict.
 */
export function dropLeadingThinking(text: string): string | null {
  let out = text.trimStart();
  for (let open = LEADING_THINK.exec(out); open; open = LEADING_THINK.exec(out)) {
    const closeTag = `</${open[1] ?? 'think'}>`;
    const close = out.toLowerCase().indexOf(closeTag.toLowerCase());
    if (close < 0) return null;
    out = out.slice(close + closeTag.length).trimStart();
  }
  return out;
}

/**
 * The text after the last `</think>` when the reply has one without its opening tag (some servers
 * put `<think>` in the prompt, so the reply starts mid-thought); else null.
 */
export function afterStrayThinking(text: string): string | null {
  let end = -1;
  for (const match of text.matchAll(CLOSING_THINK)) end = match.index + match[0].length;
  return end < 0 ? null : text.slice(end);
}

/** The content of a reply that is one fenced block (```json ... ```), else the text unchanged. */
export function stripFence(text: string): string {
  const match = WHOLE_FENCE.exec(text);
  return match ? (match[1] ?? '') : text;
}

/**
 * The index of the `}` that closes the `{` at `start`, or -1. Braces inside JSON strings (with
 * their escapes) do not count.
 */
export function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '{') {
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * The first balanced top-level `{...}` in `text` that parses as a JSON object, or null. A candidate
 * that does not parse is skipped whole (its inner braces are not tried), so a verdict is never taken
 * from inside a broken object.
 */
export function firstJsonObject(text: string): Record<string, unknown> | null {
  let from = 0;
  for (;;) {
    const start = text.indexOf('{', from);
    if (start < 0) return null;
    const end = matchingBrace(text, start);
    if (end < 0) {
      from = start + 1;
      continue;
    }
    const parsed = tryParse(text.slice(start, end + 1));
    if (parsed !== null) return parsed;
    from = end + 1;
  }
}

/**
 * Everything above: trim, drop leading reasoning, then try in turn the text after a stray
 * `</think>`, the text without any other `<think>` blocks, and the text as it is (a tag may only be
 * quoted inside the feedback); in each, unwrap a fence and find the first object.
 */
export function extractJsonObject(raw: string): Record<string, unknown> | null {
  const text = dropLeadingThinking(raw.trim());
  if (text === null) return null;
  const candidates = new Set<string>();
  const afterStray = afterStrayThinking(text);
  if (afterStray !== null) candidates.add(afterStray);
  candidates.add(text.replace(THINK_BLOCK, ''));
  candidates.add(text);
  for (const candidate of candidates) {
    const found = firstJsonObject(stripFence(candidate.trim()).trim());
    if (found !== null) return found;
  }
  return null;
}

function tryParse(candidate: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(candidate);
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    return isObject ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
