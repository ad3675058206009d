/**
 * Hand-drawn SVG charts. Horizontal positions are percentages of the chart's width, so charts
 * stretch to any screen while text and strokes keep their size.
 */
import { h, s, type Child } from './dom.js';
import { count, pct } from './format.js';

export type Tone = 'pass' | 'fail' | 'error' | 'neutral' | 'a' | 'b' | 'tie' | 'warn' | 'muted';

const clamp = (v: number) => Math.min(1, Math.max(0, v));
const at = (share: number) => `${(clamp(share) * 100).toFixed(3)}%`;
/** Text near an end is anchored inward so it stays inside the chart. */
const anchor = (share: number) => (share < 0.12 ? 'start' : share > 0.88 ? 'end' : 'middle');

export interface IntervalBar {
  label: string;
  /** Share in 0..1 and its interval. */
  value: number;
  low: number | null;
  high: number | null;
  tone: Tone;
  /** Shown after the value, e.g. the row count. */
  note?: string;
  /** A reference share drawn across the bar, e.g. 0.5 for "no preference". */
  reference?: number;
}

function whisker(low: number, high: number, y: number, cap: number): SVGElement[] {
  return [
    s('line', { class: 'whisker', x1: at(low), x2: at(high), y1: y, y2: y }),
    s('line', { class: 'whisker', x1: at(low), x2: at(low), y1: y - cap, y2: y + cap }),
    s('line', { class: 'whisker', x1: at(high), x2: at(high), y1: y - cap, y2: y + cap }),
  ];
}

function ciText(low: number | null, high: number | null): string | null {
  return low !== null && high !== null ? `95% CI ${pct(low)}–${pct(high)}` : null;
}

/** One bar per item on a 0–100% scale, with its 95% interval as a whisker. */
export function intervalBars(items: readonly IntervalBar[], caption: string, opts: { axis?: boolean } = {}): HTMLElement {
  const rows = items.map((item) => {
    const label = [`${item.label}: ${pct(item.value)}`, ciText(item.low, item.high), item.note].filter(Boolean).join(', ');
    return h(
      'div',
      { class: 'bar-row' },
      h('span', { class: 'bar-label' }, item.label),
      s(
        'svg',
        { class: `bar-svg tone-${item.tone}`, role: 'img', 'aria-label': label, height: 24, width: '100%' },
        s('title', null, label),
        s('rect', { class: 'track', x: 0, y: 6, width: '100%', height: 12, rx: 6 }),
        s('rect', { class: 'fill', x: 0, y: 6, width: at(item.value), height: 12, rx: 6 }),
        item.low !== null && item.high !== null ? whisker(item.low, item.high, 12, 6) : null,
        item.reference !== undefined ? s('line', { class: 'reference', x1: at(item.reference), x2: at(item.reference), y1: 2, y2: 22 }) : null,
      ),
      h('span', { class: 'bar-value' }, h('strong', null, pct(item.value)), item.note ? h('span', { class: 'muted' }, ` ${item.note}`) : null),
    );
  });
  const axis = h('div', { class: 'bar-row bar-axis', 'aria-hidden': 'true' }, h('span'), h('span', { class: 'axis-ticks' }, ...['0%', '25%', '50%', '75%', '100%'].map((t) => h('span', null, t))), h('span'));
  return h('figure', { class: 'chart' }, h('div', { class: 'bars' }, ...rows, opts.axis === false ? null : axis), h('figcaption', null, caption));
}

export interface Scale {
  min: number;
  max: number;
  /** Point estimate, on the scale. */
  value: number | null;
  low: number | null;
  high: number | null;
  /** A marked position, e.g. the pass threshold. */
  marker?: { at: number; label: string };
  /** Labels under the two ends. */
  ends?: [string, string];
  /** A reference line, e.g. 0.5 for "no difference". */
  reference?: { at: number; label: string };
  valueLabel: string;
  /** Short text printed at the point, e.g. "5.38". */
  valueText?: string;
  tone: Tone;
}

/** A point and its interval on a horizontal scale. */
export function scaleChart(scale: Scale, caption: Child): HTMLElement {
  const span = scale.max - scale.min || 1;
  const pos = (v: number) => at((v - scale.min) / span);
  const parts: Child[] = [
    s('line', { class: 'axis', x1: '0%', x2: '100%', y1: 34, y2: 34 }),
    s('line', { class: 'tick', x1: '0%', x2: '0%', y1: 29, y2: 39 }),
    s('line', { class: 'tick', x1: '100%', x2: '100%', y1: 29, y2: 39 }),
    s('text', { class: 'tick-label', x: '0%', y: 56, 'text-anchor': 'start' }, scale.ends?.[0] ?? String(scale.min)),
    s('text', { class: 'tick-label', x: '100%', y: 56, 'text-anchor': 'end' }, scale.ends?.[1] ?? String(scale.max)),
  ];
  if (scale.reference) {
    parts.push(
      s('line', { class: 'reference', x1: pos(scale.reference.at), x2: pos(scale.reference.at), y1: 14, y2: 42 }),
      s('text', { class: 'tick-label', x: pos(scale.reference.at), y: 56, 'text-anchor': anchor((scale.reference.at - scale.min) / span) }, scale.reference.label),
    );
  }
  if (scale.marker) {
    parts.push(
      s('line', { class: 'marker', x1: pos(scale.marker.at), x2: pos(scale.marker.at), y1: 10, y2: 42 }),
      s('text', { class: 'marker-label', x: pos(scale.marker.at), y: 8, 'text-anchor': anchor((scale.marker.at - scale.min) / span) }, scale.marker.label),
    );
  }
  if (scale.low !== null && scale.high !== null) {
    parts.push(s('rect', { class: 'band', x: pos(scale.low), y: 27, width: at((scale.high - scale.low) / span), height: 14, rx: 4 }));
  }
  if (scale.value !== null) {
    parts.push(s('circle', { class: 'dot', cx: pos(scale.value), cy: 34, r: 7 }));
    if (scale.valueText) {
      const share = (scale.value - scale.min) / span;
      parts.push(s('text', { class: 'value-label', x: pos(scale.value), y: scale.marker ? 56 : 18, 'text-anchor': anchor(share) }, scale.valueText));
    }
  }
  return h(
    'figure',
    { class: 'chart' },
    s('svg', { class: `scale-svg tone-${scale.tone}`, role: 'img', 'aria-label': scale.valueLabel, height: 62, width: '100%' }, s('title', null, scale.valueLabel), ...parts),
    h('figcaption', null, caption),
  );
}

export interface Segment {
  label: string;
  count: number;
  tone: Tone;
}

/** Shares of a whole as one stacked bar, with a legend. */
export function stackedBar(segments: readonly Segment[], caption: string): HTMLElement {
  const total = segments.reduce((sum, seg) => sum + seg.count, 0);
  let start = 0;
  const rects = segments.map((seg) => {
    const share = total === 0 ? 0 : seg.count / total;
    const rect = s('rect', { class: `seg tone-${seg.tone}`, x: at(start), y: 0, width: at(share), height: 28 }, s('title', null, `${seg.label}: ${count(seg.count)} (${pct(share)})`));
    start += share;
    return rect;
  });
  const summary = segments.map((seg) => `${seg.label} ${count(seg.count)}`).join(', ');
  return h(
    'figure',
    { class: 'chart' },
    s('svg', { class: 'stack-svg', role: 'img', 'aria-label': `${caption}: ${summary}`, height: 28, width: '100%' }, total === 0 ? s('rect', { class: 'track', x: 0, y: 0, width: '100%', height: 28 }) : rects),
    h(
      'ul',
      { class: 'legend' },
      ...segments.map((seg) =>
        h('li', null, h('span', { class: `swatch tone-${seg.tone}`, 'aria-hidden': 'true' }), `${seg.label} `, h('strong', null, count(seg.count)), h('span', { class: 'muted' }, ` ${pct(total === 0 ? null : seg.count / total)}`)),
      ),
    ),
    h('figcaption', null, caption),
  );
}

/** A big figure with a label and an optional line under it. */
export function stat(label: string, value: string, detail?: Child, tone: Tone = 'neutral'): HTMLElement {
  return h('div', { class: `stat tone-${tone}` }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value' }, value), detail ? h('span', { class: 'stat-detail' }, detail) : null);
}
