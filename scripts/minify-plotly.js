#!/usr/bin/env node
// Part of `npm run build`: writes lib/dist/plotly.min.js, the plotly.js-dist bundle minified by esbuild (11 MB →
// about 4.9 MB), which the figures' HTML, their PNG export and the notebooks load (viz.plotlyBundlePath). Skipped
// when plotly.min.js.id names the same plotly.js-dist version and bundle size (npm's files all carry one fixed
// mtime, so dates cannot tell). Without esbuild, the lib uses the full bundle.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const src = require.resolve('plotly.js-dist');
const out = path.join(__dirname, '..', 'lib', 'dist', 'plotly.min.js');
const version = JSON.parse(fs.readFileSync(path.join(path.dirname(src), 'package.json'), 'utf8')).version;
const id = `plotly.js-dist ${version} ${fs.statSync(src).size}`;
const idFile = `${out}.id`;
if (fs.existsSync(out) && fs.existsSync(idFile) && fs.readFileSync(idFile, 'utf8').trim() === id) process.exit(0);
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.error('minify-plotly: esbuild not installed; the lib will use the full plotly.js-dist bundle');
  process.exit(0);
}
const { code } = esbuild.transformSync(fs.readFileSync(src, 'utf8'), { minify: true, legalComments: 'inline' });
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(`${out}.tmp`, code);
fs.renameSync(`${out}.tmp`, out);
fs.writeFileSync(idFile, id + '\n');
console.error(`minify-plotly: ${path.relative(process.cwd(), out)} (${(code.length / 1e6).toFixed(1)} MB)`);
