/**
 * The plot kinds of the paper's figures and tables (experiments/): quantities measured over seeds, drawn as their
 * mean with the standard deviation as error bars. Values arrive in the unit shown (e.g. percent).
 */
import type { Figure } from './index';

/** One named series: a mean and a standard deviation per category or x. */
export interface MeanStdSeries {
  name: string;
  mean: number[];
  std: number[];
}

const errorBars = (std: number[]) => ({ type: 'data', array: std, visible: true });

/** Grouped bars, one group per category, one bar per series. */
export function meanStdBarsFigure(o: {
  title: string;
  categories: string[];
  series: MeanStdSeries[];
  yTitle: string;
  /** Value-axis range; default Plotly's. */
  yRange?: [number, number];
  yLog?: boolean;
}): Figure {
  return {
    data: o.series.map((s) => ({
      type: 'bar',
      name: s.name,
      x: o.categories,
      y: s.mean,
      error_y: errorBars(s.std),
    })),
    layout: {
      title: { text: o.title },
      barmode: 'group',
      yaxis: {
        title: { text: o.yTitle },
        ...(o.yRange ? { range: o.yRange } : {}),
        ...(o.yLog ? { type: 'log' } : {}),
      },
    },
  };
}

/**
 * Lines with markers over `xs`, one per series. Numeric xs get a tick at each point (not Plotly's 1.5, 2.5, … between
 * K = 1 … 4); `legendBelow` puts the legend under the plot (many series, long category labels).
 */
export function meanStdLinesFigure(o: {
  title: string;
  xTitle: string;
  yTitle: string;
  xs: (number | string)[];
  series: MeanStdSeries[];
  legendBelow?: boolean;
}): Figure {
  return {
    data: o.series.map((s) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: s.name,
      x: o.xs,
      y: s.mean,
      error_y: errorBars(s.std),
    })),
    layout: {
      title: { text: o.title },
      xaxis: {
        title: { text: o.xTitle },
        ...(o.xs.every((x) => typeof x === 'number') ? { tickmode: 'array', tickvals: o.xs } : {}),
      },
      yaxis: { title: { text: o.yTitle } },
      ...(o.legendBelow ? { legend: { orientation: 'h', y: -0.25 } } : {}),
    },
  };
}

/**
 * Training images per class of several long-tailed sets with different numbers of classes (Fig. 1): each set's
 * counts as a line over its class rank / (C − 1), on a log axis, with the paper's many (> 100), medium (20-100) and
 * few (< 20) bands behind.
 */
export function classProfilesFigure(title: string, sets: { name: string; counts: number[] }[]): Figure {
  const band = (y0: number, y1: number, fillcolor: string) => ({
    type: 'rect',
    xref: 'paper',
    x0: 0,
    x1: 1,
    y0,
    y1,
    fillcolor,
    line: { width: 0 },
  });
  const label = (y: number, text: string) => ({
    xref: 'paper',
    x: 1,
    y: Math.log10(y),
    text,
    showarrow: false,
    xanchor: 'right',
  });
  return {
    data: sets.map((s) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: `${s.name}: ${s.counts.reduce((a, b) => a + b, 0)} images`,
      x: s.counts.map((_, i) => i / Math.max(1, s.counts.length - 1)),
      y: s.counts,
    })),
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'class rank / (C − 1)' } },
      yaxis: { type: 'log', title: { text: 'training images' } },
      shapes: [
        band(100, 10000, 'rgba(0,128,0,0.06)'),
        band(20, 100, 'rgba(255,165,0,0.08)'),
        band(1, 20, 'rgba(255,0,0,0.06)'),
      ],
      annotations: [label(3000, 'many (> 100)'), label(45, 'medium (20–100)'), label(5, 'few (< 20)')],
      legend: { orientation: 'h', y: -0.25 },
    },
  };
}
