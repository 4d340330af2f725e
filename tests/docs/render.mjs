// Renders Mermaid diagrams as a reader's browser does: the mermaid npm package in headless Chromium (Debian
// package), driven by playwright-core; no network.
//
//   node tests/docs/render.mjs diagrams.json out/
//
// diagrams.json: [{"name": "default", "text": "flowchart LR\n  ..."}, ...]. For each diagram it writes
// out/<name>.svg and out/<name>.png and prints one JSON line per diagram:
//   {"name", "error": parse or render error or null,
//    "nodes": {id: [x, y, width, height]},                      // node and subgraph title boxes, in page pixels
//    "edges": [{"id": "L_<from>_<to>_<n>", "points": [[x, y], ...]}],   // points along each edge's path
//    "labels": [{"text", "box": [x, y, width, height]}]}        // edge labels that have text
// The Python test (test_diagrams.py) judges the geometry.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const [input, out] = process.argv.slice(2);
const diagrams = JSON.parse(readFileSync(input, 'utf8'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
  await page.setContent('<!doctype html><html><body style="margin:0;background:white"><div id="root"></div></body></html>');
  await page.addScriptTag({ path: join(here, 'node_modules', 'mermaid', 'dist', 'mermaid.min.js') });
  await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
  for (const [index, diagram] of diagrams.entries()) {
    const result = await page.evaluate(
      async ({ text, id }) => {
        const root = document.getElementById('root');
        root.innerHTML = '';
        try {
          const { svg } = await window.mermaid.render(id, text);
          root.innerHTML = svg;
        } catch (err) {
          return { error: String(err && err.message ? err.message : err) };
        }
        const box = (el) => {
          const r = el.getBoundingClientRect();
          return [r.x, r.y, r.width, r.height];
        };
        const nodes = {};
        for (const el of root.querySelectorAll('g.node')) {
          const match = /^(?:[\w]+-)?flowchart-(.+)-\d+$/.exec(el.id);
          if (match) nodes[match[1]] = box(el);
        }
        // A subgraph's title is text a reader must read too: measured like a node, as "title:<subgraph id>".
        for (const el of root.querySelectorAll('g.cluster')) {
          const title = el.querySelector('.cluster-label');
          if (title) nodes[`title:${el.id.replace(/^[\w]+-/, '')}`] = box(title);
        }
        const edges = [];
        for (const path of root.querySelectorAll('path.flowchart-link')) {
          const id = path.getAttribute('data-id') || path.id;
          const matrix = path.getScreenCTM();
          const length = path.getTotalLength();
          const points = [];
          for (let d = 0; d <= length; d += 2) {
            const p = path.getPointAtLength(d);
            points.push([matrix.a * p.x + matrix.c * p.y + matrix.e, matrix.b * p.x + matrix.d * p.y + matrix.f]);
          }
          edges.push({ id, points });
        }
        const labels = [];
        for (const el of root.querySelectorAll('g.edgeLabel')) {
          const text = el.textContent.trim();
          if (text) labels.push({ text, box: box(el) });
        }
        const svgBox = box(root.querySelector('svg'));
        return { error: null, nodes, edges, labels, width: svgBox[2], height: svgBox[3] };
      },
      { text: diagram.text, id: `diagram${index}` },
    );
    if (!result.error) {
      const svg = await page.locator('#root svg');
      await svg.screenshot({ path: join(out, `${diagram.name}.png`) });
      const markup = await page.evaluate(() => document.querySelector('#root').innerHTML);
      (await import('node:fs')).writeFileSync(join(out, `${diagram.name}.svg`), markup);
    }
    process.stdout.write(JSON.stringify({ name: diagram.name, ...result }) + '\n');
  }
} finally {
  await browser.close();
}
