// Builds the dashboard into ../pkg/dashboard/dist (embedded by bin/mpmd):
// src/main.jsx (Preact components, JSX compiled by esbuild) bundled with its
// npm dependencies into one hashed script, src/style.css (with uPlot's CSS)
// into one hashed stylesheet, and src/index.html naming both. Prints the
// size of each file and its gzip size (what mpmd serves to browsers).
// Usage: node build.mjs [--dev]   (--dev: no minification, with source maps)
import * as esbuild from 'esbuild';
import { readFile, writeFile, readdir, rm, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../pkg/dashboard/dist');
const dev = process.argv.includes('--dev');

await mkdir(outdir, { recursive: true });
// Stale hashed files would be embedded too: clear everything but .keep.
for (const f of await readdir(outdir)) {
  if (f !== '.keep') await rm(path.join(outdir, f), { recursive: true, force: true });
}

const version = JSON.parse(await readFile(path.join(here, 'node_modules/socket.io-client/package.json'), 'utf8')).version;

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.jsx'), style: path.join(here, 'src/style.css') },
  jsx: 'automatic',
  jsxImportSource: 'preact',
  bundle: true,
  minify: !dev && !process.env.NOMINIFY,
  sourcemap: dev ? 'linked' : false,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  entryNames: '[name]-[hash]',
  outdir,
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"', SIO_VERSION: JSON.stringify(version) },
});

const outputs = Object.entries(result.metafile.outputs);
const find = (entry) => {
  const hit = outputs.find(([, o]) => o.entryPoint && o.entryPoint.endsWith(entry));
  if (!hit) throw new Error(`build: no output for ${entry}`);
  return path.basename(hit[0]);
};
const js = find('src/main.jsx');
const css = find('src/style.css');
let html = await readFile(path.join(here, 'src/index.html'), 'utf8');
html = html.replaceAll('{{APP_JS}}', js).replaceAll('{{STYLE_CSS}}', css);
await writeFile(path.join(outdir, 'index.html'), html);

let total = 0, totalGz = 0;
const sizes = [];
for (const f of (await readdir(outdir)).sort()) {
  if (f === '.keep') continue;
  const body = await readFile(path.join(outdir, f));
  const gz = gzipSync(body, { level: 9 }).length;
  total += body.length;
  totalGz += gz;
  sizes.push(`${f} ${(body.length / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzip)`);
}
console.log(`web: built into pkg/dashboard/dist: ${sizes.join(', ')}; ${(total / 1024).toFixed(0)} KiB, ${(totalGz / 1024).toFixed(0)} KiB gzip`);
