// Charts, drawn by Apache ECharts (SVG renderer). Each builder takes plain numbers and returns
// an option in the page's palette; the registry re-applies options when the theme changes and
// resizes charts with their containers. The engine itself (./echarts) is a separate chunk,
// loaded in parallel with the first reports.

import type { ECharts, EChartsCoreOption } from 'echarts/core';
import { token } from './theme';

type Engine = typeof import('./echarts');
let engine: Promise<Engine> | null = null;

/** Starts loading the chart engine; charts asked for before it arrives are drawn when it does. */
export function loadChartEngine(): Promise<Engine> {
  engine ??= import('./echarts');
  return engine;
}

interface LiveChart {
  chart: ECharts;
  element: HTMLElement;
  build: () => EChartsCoreOption;
  observer: ResizeObserver;
}

const live = new Set<LiveChart>();

/** Draws a chart into `element` (which must have a size) and keeps it current. */
function mountChart({ init }: Engine, element: HTMLElement, label: string, build: () => EChartsCoreOption): void {
  element.setAttribute('role', 'img');
  element.setAttribute('aria-label', label);
  const chart = init(element, null, { renderer: 'svg' });
  chart.setOption(build());
  element.dataset.drawn = 'true';
  const observer = new ResizeObserver(() => {
    if (!chart.isDisposed()) chart.resize();
  });
  observer.observe(element);
  live.add({ chart, element, build, observer });
}

const pending: Array<{ element: HTMLElement; label: string; build: () => EChartsCoreOption }> = [];

/** Asks for a chart once `element` is on the page: views build detached DOM first. */
export function deferChart(element: HTMLElement, label: string, build: () => EChartsCoreOption): void {
  element.setAttribute('role', 'img');
  element.setAttribute('aria-label', label);
  pending.push({ element, label, build });
}

export function mountPendingCharts(): void {
  const batch = pending.splice(0);
  if (batch.length === 0) return;
  void loadChartEngine().then((loaded) => {
    for (const { element, label, build } of batch) {
      if (element.isConnected) mountChart(loaded, element, label, build);
    }
  });
}

/** Releases charts whose elements have left the page (after a view re-renders). */
export function releaseDetachedCharts(): void {
  for (const entry of live) {
    if (entry.element.isConnected) continue;
    entry.observer.disconnect();
    entry.chart.dispose();
    live.delete(entry);
  }
}

export function repaintCharts(): void {
  for (const entry of live) entry.chart.setOption(entry.build(), { notMerge: true });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function reducedMotion(): boolean {
  return window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
}

function palette() {
  return {
    text: token('text'),
    muted: token('text-muted'),
    grid: token('chart-grid'),
    axis: token('border-strong'),
    surface: token('surface-raised'),
    page: token('surface'),
    border: token('border'),
    accent: token('accent'),
    accentSoft: token('accent-soft'),
    series: [token('chart-1'), token('chart-2'), token('chart-3'), token('chart-4')],
  };
}

function base(): EChartsCoreOption {
  const p = palette();
  return {
    animation: !reducedMotion(),
    animationDuration: 350,
    textStyle: { fontFamily: 'Inter Variable, Inter, system-ui, sans-serif', color: p.muted },
    tooltip: {
      backgroundColor: p.surface,
      borderColor: p.border,
      borderWidth: 1,
      padding: [8, 12],
      textStyle: { color: p.text, fontSize: 12 },
      extraCssText: 'border-radius:10px;box-shadow:0 8px 24px rgba(0,0,0,.18);',
      confine: true,
    },
  };
}

function valueAxis(name: string, format: (v: number) => string, extra: Record<string, unknown> = {}) {
  const p = palette();
  return {
    type: 'value',
    name,
    nameLocation: 'middle',
    nameGap: 38,
    nameTextStyle: { color: p.muted, fontSize: 11 },
    axisLabel: { color: p.muted, fontSize: 11, formatter: format },
    splitLine: { lineStyle: { color: p.grid, type: 'dashed' } },
    axisLine: { show: false },
    axisTick: { show: false },
    ...extra,
  };
}

export interface SparklineSpec {
  dates: string[];
  values: number[];
  format: (v: number) => string;
  color?: string;
}

export function sparkline(spec: SparklineSpec): EChartsCoreOption {
  const p = palette();
  const color = spec.color ?? p.accent;
  return {
    ...base(),
    grid: { left: 0, right: 0, top: 4, bottom: 0 },
    xAxis: { type: 'category', show: false, data: spec.dates, boundaryGap: false },
    yAxis: { type: 'value', show: false, min: 0 },
    tooltip: {
      ...(base().tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: p.axis } },
      formatter: (items: Array<{ dataIndex: number }>) => {
        const i = items[0]?.dataIndex ?? 0;
        return `${escapeHtml(spec.dates[i] ?? '')}<br><b>${escapeHtml(spec.format(spec.values[i] ?? 0))}</b>`;
      },
    },
    series: [
      {
        type: 'line',
        data: spec.values,
        smooth: 0.4,
        smoothMonotone: 'x',
        symbol: 'none',
        lineStyle: { width: 2, color },
        areaStyle: {
          color: {
            type: 'linear', x: 0, y: 0, x2: 0, y2: 1,
            colorStops: [{ offset: 0, color: withAlpha(color, 0.28) }, { offset: 1, color: withAlpha(color, 0) }],
          },
        },
      },
    ],
  };
}

export interface BubblePoint {
  x: number;
  y: number;
  size: number;
  label: string;
  detail: string[];
}

export interface BubbleSpec {
  points: BubblePoint[];
  xName: string;
  yName: string;
  formatX: (v: number) => string;
  formatY: (v: number) => string;
}

/** Bubble area grows with `size`: radius ∝ √size, up to 24 px, never under 5 px. */
export function bubbleRadius(size: number, maxSize: number): number {
  if (maxSize <= 0) return 8;
  return Math.max(5, 24 * Math.sqrt(Math.max(0, size) / maxSize));
}

export function bubble(spec: BubbleSpec): EChartsCoreOption {
  const p = palette();
  const maxSize = Math.max(0, ...spec.points.map((pt) => pt.size));
  return {
    ...base(),
    grid: { left: 56, right: 28, top: 20, bottom: 48, containLabel: false },
    xAxis: valueAxis(spec.xName, spec.formatX, { nameGap: 30, min: 0 }),
    yAxis: valueAxis(spec.yName, spec.formatY, { nameGap: 44, min: 0 }),
    tooltip: {
      ...(base().tooltip as object),
      trigger: 'item',
      formatter: (item: { dataIndex: number }) => {
        const pt = spec.points[item.dataIndex];
        if (!pt) return '';
        return `<b>${escapeHtml(pt.label)}</b><br>${pt.detail.map(escapeHtml).join('<br>')}`;
      },
    },
    series: [
      {
        type: 'scatter',
        data: spec.points.map((pt) => [pt.x, pt.y, pt.size]),
        symbolSize: (value: number[]) => 2 * bubbleRadius(value[2] ?? 0, maxSize),
        itemStyle: { color: withAlpha(p.accent, 0.55), borderColor: p.accent, borderWidth: 1.2 },
        emphasis: { focus: 'self', itemStyle: { color: withAlpha(p.accent, 0.85) } },
      },
    ],
  };
}

export interface BarsSpec {
  categories: string[];
  values: number[];
  format: (v: number) => string;
  details?: string[];
}

export function horizontalBars(spec: BarsSpec): EChartsCoreOption {
  const p = palette();
  return {
    ...base(),
    grid: { left: 8, right: 48, top: 8, bottom: 24, containLabel: true },
    xAxis: valueAxis('', spec.format, { min: 0 }),
    yAxis: {
      type: 'category',
      inverse: true,
      data: spec.categories,
      axisLabel: { color: p.text, fontSize: 12, width: 130, overflow: 'truncate' },
      axisLine: { show: false },
      axisTick: { show: false },
    },
    tooltip: {
      ...(base().tooltip as object),
      trigger: 'item',
      formatter: (item: { dataIndex: number }) => {
        const i = item.dataIndex;
        const detail = spec.details?.[i];
        return `<b>${escapeHtml(spec.categories[i] ?? '')}</b><br>${escapeHtml(spec.format(spec.values[i] ?? 0))} sessions${
          detail ? `<br>${escapeHtml(detail)}` : ''
        }`;
      },
    },
    series: [
      {
        type: 'bar',
        data: spec.values,
        barMaxWidth: 22,
        itemStyle: { color: p.accent, borderRadius: [0, 6, 6, 0] },
        label: { show: true, position: 'right', color: p.muted, fontSize: 11, formatter: (v: { value: number }) => spec.format(v.value) },
      },
    ],
  };
}

export interface SeriesSpec {
  name: string;
  kind: 'bar' | 'line' | 'area';
  values: number[];
  /** 0 (left axis) or 1 (right axis). */
  axis?: 0 | 1;
  colorIndex?: number;
}

export interface TimeSeriesSpec {
  dates: string[];
  series: SeriesSpec[];
  formatLeft: (v: number) => string;
  formatRight?: (v: number) => string;
  /** The tooltip's heading for a date (default: the date as it is). */
  formatDate?: (date: string) => string;
  /** A last tooltip line for the point at an index. */
  detail?: (index: number) => string;
  /** The left axis's top (default: the data's). */
  maxLeft?: number;
}

export function timeSeries(spec: TimeSeriesSpec): EChartsCoreOption {
  const p = palette();
  const formats = [spec.formatLeft, spec.formatRight ?? spec.formatLeft];
  const yAxis = [valueAxis('', spec.formatLeft, { min: 0, minInterval: 1, max: spec.maxLeft })];
  if (spec.formatRight) yAxis.push(valueAxis('', spec.formatRight, { min: 0, splitLine: { show: false } }));
  return {
    ...base(),
    legend: spec.series.length > 1 ? { top: 0, right: 0, textStyle: { color: p.muted, fontSize: 11 }, itemWidth: 12, itemHeight: 8 } : undefined,
    grid: { left: 8, right: 8, top: spec.series.length > 1 ? 30 : 12, bottom: 8, containLabel: true },
    xAxis: {
      type: 'category',
      data: spec.dates,
      axisLabel: { color: p.muted, fontSize: 11, formatter: (d: string) => shortDay(d), hideOverlap: true },
      axisLine: { lineStyle: { color: p.axis } },
      axisTick: { show: false },
    },
    yAxis,
    tooltip: {
      ...(base().tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'shadow', shadowStyle: { color: withAlpha(p.accent, 0.08) } },
      formatter: (items: Array<{ dataIndex: number; seriesIndex: number; marker: string }>) => {
        const i = items[0]?.dataIndex ?? 0;
        const lines = items.map((item) => {
          const s = spec.series[item.seriesIndex]!;
          return `${item.marker}${escapeHtml(s.name)}: <b>${escapeHtml(formats[s.axis ?? 0]!(s.values[i] ?? 0))}</b>`;
        });
        const date = spec.dates[i] ?? '';
        const detail = spec.detail ? `<br>${escapeHtml(spec.detail(i))}` : '';
        return `${escapeHtml(spec.formatDate ? spec.formatDate(date) : date)}<br>${lines.join('<br>')}${detail}`;
      },
    },
    series: spec.series.map((s) => {
      const color = p.series[s.colorIndex ?? 0] ?? p.accent;
      const common = { name: s.name, data: s.values, yAxisIndex: s.axis ?? 0, itemStyle: { color } };
      if (s.kind === 'bar') return { ...common, type: 'bar', barMaxWidth: 14, itemStyle: { color, borderRadius: [3, 3, 0, 0] } };
      return {
        ...common,
        type: 'line',
        smooth: 0.3,
        smoothMonotone: 'x',
        symbol: 'none',
        lineStyle: { width: 2, color },
        areaStyle: s.kind === 'area' ? { color: withAlpha(color, 0.16) } : undefined,
      };
    }),
  };
}

export interface HeatmapSpec {
  /** Column labels (dates, `YYYY-MM-DD`). */
  columns: string[];
  rows: string[];
  /** values[row][column], from 0 to `max`. */
  values: number[][];
  max: number;
  /** The tooltip's lines for a cell. */
  describe: (row: number, column: number) => string[];
}

/** A grid of cells coloured from the chart grid's colour (0) to the accent (`max`). */
export function heatmap(spec: HeatmapSpec): EChartsCoreOption {
  const p = palette();
  const data = spec.values.flatMap((row, y) => row.map((value, x) => [x, y, value]));
  return {
    ...base(),
    grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
    xAxis: {
      type: 'category',
      data: spec.columns,
      axisLabel: { color: p.muted, fontSize: 11, formatter: (d: string) => shortDay(d), hideOverlap: true },
      axisLine: { show: false },
      axisTick: { show: false },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      inverse: true,
      data: spec.rows,
      axisLabel: { color: p.text, fontSize: 12, width: 150, overflow: 'truncate' },
      axisLine: { show: false },
      axisTick: { show: false },
    },
    visualMap: { show: false, min: 0, max: Math.max(1, spec.max), dimension: 2, inRange: { color: [p.grid, p.accent] } },
    tooltip: {
      ...(base().tooltip as object),
      trigger: 'item',
      formatter: (item: { value: number[] }) => {
        const [x = 0, y = 0] = item.value;
        const [title = '', ...lines] = spec.describe(y, x);
        return `<b>${escapeHtml(title)}</b>${lines.map((l) => `<br>${escapeHtml(l)}`).join('')}`;
      },
    },
    series: [
      {
        type: 'heatmap',
        data,
        itemStyle: { borderColor: p.page, borderWidth: 2, borderRadius: 4 },
        emphasis: { itemStyle: { borderColor: p.text, borderWidth: 1 } },
      },
    ],
  };
}

const dayFormat = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
function shortDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? date : dayFormat.format(d);
}

/** `#rrggbb` plus an alpha, as `rgba()`; other colour syntaxes pass through. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return color;
  const n = parseInt(m[1]!, 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}
