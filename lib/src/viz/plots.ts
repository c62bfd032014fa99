/**
 * Figures the tutorial notebooks draw from what they compute (notebook 01: class sizes and images; notebook 03: the
 * loss terms over training and per-class accuracy). Each returns a Plotly spec with its size in the layout, for
 * `showFigure(fig)`. The paper's figures are built in experiments/ (figures.ts, sweeps.ts).
 */
import { splitOf } from '../data/longtail';
import type { Image } from '../data/augment';
import type { Figure } from './index';

/**
 * Fig. 1: training images per class, sorted by size, one bar series per imbalance factor, on a log axis with the
 * paper's many (> 100) / medium (20-100) / few (< 20) bands behind the bars.
 */
export function classSizesFigure(
  title: string,
  series: { imbalanceFactor: number; counts: number[] }[],
  size: { width?: number; height?: number } = {},
): Figure {
  const C = Math.max(...series.map((s) => s.counts.length));
  const yTop = Math.max(...series.flatMap((s) => s.counts)) * 2;
  const band = (lo: number, hi: number, color: string, label: string) => ({
    type: 'scatter',
    mode: 'lines+text',
    x: [-0.5, C - 0.5, C - 0.5, -0.5, -0.5],
    y: [lo, lo, hi, hi, lo],
    fill: 'toself',
    fillcolor: color,
    line: { width: 0 },
    hoverinfo: 'skip',
    showlegend: false,
    text: ['', '', label, '', ''],
    textposition: 'bottom left',
    textfont: { size: 12 },
  });
  const shades = ['#1f77b4', '#7fb2d9', '#c6dbef'];
  return {
    data: [
      band(1, 20, 'rgba(214,39,40,0.12)', 'few'),
      band(20, 100.5, 'rgba(255,160,0,0.15)', 'medium'),
      band(100.5, yTop, 'rgba(44,160,44,0.10)', 'many'),
      ...series.map((s, k) => ({
        type: 'bar',
        name: `IF ${s.imbalanceFactor} (${s.counts.reduce((a, b) => a + b, 0).toLocaleString('en')} images)`,
        x: s.counts.map((_, i) => i),
        y: [...s.counts].sort((a, b) => b - a),
        marker: { color: shades[k % shades.length] },
      })),
    ],
    layout: {
      title: { text: title },
      barmode: 'group',
      bargap: 0.15,
      xaxis: { title: { text: 'class rank (sorted by size)' }, range: [-0.5, C - 0.5] },
      yaxis: { title: { text: 'training images' }, type: 'log', range: [0, Math.log10(yTop)] },
      width: size.width ?? 800,
      height: size.height ?? 360,
    },
  };
}

/** How many classes of `counts` fall in each of the paper's splits. */
export function splitSizes(counts: number[]): { many: number; medium: number; few: number } {
  const split = { many: 0, medium: 0, few: 0 };
  for (const c of counts) split[splitOf(c)]++;
  return split;
}

/**
 * An image (e.g. a grid from `data.tileImages`) as a figure at its aspect ratio, `width` pixels wide, with optional
 * labels for equal-height rows (a grid's rows of classes or augmentations).
 */
export function imageFigure(im: Image, title: string, rowLabels: string[] = [], width = 900): Figure {
  let trace: Record<string, unknown>;
  if (im.channels === 1) {
    const z = Array.from({ length: im.height }, (_, y) =>
      Array.from(im.data.subarray(y * im.width, (y + 1) * im.width)),
    );
    trace = {
      type: 'heatmap',
      z,
      zmin: 0,
      zmax: 255,
      colorscale: [
        [0, 'black'],
        [1, 'white'],
      ],
      showscale: false,
      hoverinfo: 'skip',
    };
  } else {
    const px = (y: number, x: number) => (y * im.width + x) * 3;
    const z = Array.from({ length: im.height }, (_, y) =>
      Array.from({ length: im.width }, (_, x) => Array.from(im.data.subarray(px(y, x), px(y, x) + 3))),
    );
    trace = { type: 'image', z, hoverinfo: 'skip' };
  }
  const labelled = rowLabels.length > 0;
  const rowH = labelled ? (im.height - 2) / rowLabels.length : 0;
  return {
    data: [trace],
    layout: {
      title: { text: title },
      xaxis: { visible: false, scaleanchor: 'y' },
      yaxis: {
        autorange: 'reversed',
        tickvals: rowLabels.map((_, r) => 2 + rowH * (r + 0.5)),
        ticktext: rowLabels,
        showgrid: false,
        zeroline: false,
        showticklabels: labelled,
      },
      margin: { l: labelled ? 140 : 20, r: 20, t: 40, b: 20 },
      width,
      height: Math.round((width - (labelled ? 160 : 40)) * (im.height / im.width)) + 60,
    },
  };
}

/** One optimiser step of a run, as `train.trainRun`'s `onStep` reports it. */
export interface StepTerms {
  globalStep: number;
  lr: number;
  terms: Record<string, number>;
}

const TERM_ORDER = [
  'ce',
  'bsce',
  'bil',
  'bilPartial',
  'intra',
  'intraPartial',
  'inter',
  'interPartial',
  'total',
];
const TERM_COLOR: Record<string, string> = {
  ce: '#7f7f7f',
  bsce: '#1f77b4',
  bil: '#1f77b4',
  bilPartial: '#17becf',
  intra: '#2ca02c',
  intraPartial: '#98df8a',
  inter: '#d62728',
  interPartial: '#ff9896',
  total: '#000000',
};

/** The trailing moving average of `y` over `w` points (fewer at the start). */
export function movingAverage(y: number[], w: number): number[] {
  return y.map((_, i) => {
    const part = y.slice(Math.max(0, i - w + 1), i + 1);
    return part.reduce((s, v) => s + v, 0) / part.length;
  });
}

/**
 * The loss terms of a run over its steps, each smoothed by a moving average of about 1/60 of the run (the raw values
 * faint behind it), with the learning rate on a second axis. `total` is left out when it is the only term.
 */
export function lossTermsFigure(title: string, steps: StepTerms[]): Figure {
  const x = steps.map((p) => p.globalStep);
  const keys = Object.keys(steps[0]?.terms ?? {});
  const names = TERM_ORDER.filter((k) => keys.includes(k) && !(k === 'total' && keys.length === 2));
  const w = Math.max(1, Math.round(steps.length / 60));
  const traces: Record<string, unknown>[] = [];
  for (const k of names) {
    const y = steps.map((p) => p.terms[k]);
    const color = TERM_COLOR[k];
    if (w > 1)
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x,
        y,
        line: { color, width: 1 },
        opacity: 0.25,
        legendgroup: k,
        showlegend: false,
        hoverinfo: 'skip',
      });
    traces.push({
      type: 'scatter',
      mode: w > 1 ? 'lines' : 'lines+markers',
      name: k,
      x,
      y: movingAverage(y, w),
      line: { color, width: k === 'total' ? 3 : 2 },
      legendgroup: k,
    });
  }
  traces.push({
    type: 'scatter',
    mode: 'lines',
    name: 'learning rate',
    x,
    y: steps.map((p) => p.lr),
    yaxis: 'y2',
    line: { color: '#bbbbbb', dash: 'dot' },
  });
  return {
    data: traces,
    layout: {
      title: { text: `${title}${w > 1 ? ` (moving average of ${w} steps)` : ''}` },
      xaxis: { title: { text: 'optimiser step' } },
      yaxis: { title: { text: 'loss (batch mean, summed over experts)' } },
      yaxis2: {
        title: { text: 'learning rate' },
        overlaying: 'y',
        side: 'right',
        showgrid: false,
        rangemode: 'tozero',
      },
      legend: { orientation: 'h', y: -0.2 },
      width: 900,
      height: 430,
    },
  };
}

/**
 * Test accuracy per class (%), classes sorted by training images (head on the left), one line per predictor, with
 * the training images per class as faint bars on a log axis. A predictor's `dash` draws it dashed (e.g. an ensemble).
 */
export function perClassAccuracyFigure(
  title: string,
  classNames: string[],
  classCounts: number[],
  predictors: { name: string; perClass: number[]; color?: string; dash?: boolean }[],
): Figure {
  const order = classCounts.map((_, j) => j).sort((a, b) => classCounts[b] - classCounts[a] || a - b);
  const xs = order.map((j) => `${classNames[j]} (${classCounts[j]})`);
  return {
    data: [
      {
        type: 'bar',
        name: 'training images',
        x: xs,
        y: order.map((j) => classCounts[j]),
        yaxis: 'y2',
        marker: { color: 'rgba(0,0,0,0.08)' },
        hoverinfo: 'y',
      },
      ...predictors.map((p) => ({
        type: 'scatter',
        mode: p.dash ? 'lines' : 'lines+markers',
        name: p.name,
        x: xs,
        y: order.map((j) => 100 * p.perClass[j]),
        line: { ...(p.color ? { color: p.color } : {}), ...(p.dash ? { dash: 'dash' } : {}) },
      })),
    ],
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'class (training images)' } },
      yaxis: { title: { text: 'accuracy (%)' }, range: [0, 102] },
      yaxis2: {
        title: { text: 'training images' },
        type: 'log',
        overlaying: 'y',
        side: 'right',
        showgrid: false,
      },
      legend: { orientation: 'h', y: -0.3 },
      width: 950,
      height: 480,
    },
  };
}
