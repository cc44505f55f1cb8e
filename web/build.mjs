// Builds the dashboard into ../pkg/dashboard/dist (embedded by bin/mpmd):
// src/main.js bundled with socket.io-client into one hashed script, src/style.css
// into one hashed stylesheet, and src/index.html naming both.
// Usage: node build.mjs [--dev]   (--dev: no minification, with source maps)
import * as esbuild from 'esbuild';
import { readFile, writeFile, readdir, rm, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../pkg/dashboard/dist');
const dev = process.argv.includes('--dev');

await mkdir(outdir, { recursive: true });
// Stale hashed files would be embedded too: clear everything but .keep.
for (const f of await readdir(outdir)) {
  if (f !== '.keep') await rm(path.join(outdir, f), { recursive: true, force: true });
}

const result = await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js'), style: path.join(here, 'src/style.css') },
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
  define: { 'process.env.NODE_ENV': '"production"' },
});

const outputs = Object.entries(result.metafile.outputs);
const find = (entry) => {
  const hit = outputs.find(([, o]) => o.entryPoint && o.entryPoint.endsWith(entry));
  if (!hit) throw new Error(`build: no output for ${entry}`);
  return path.basename(hit[0]);
};
const js = find('src/main.js');
const css = find('src/style.css');
const version = JSON.parse(await readFile(path.join(here, 'node_modules/socket.io-client/package.json'), 'utf8')).version;

let html = await readFile(path.join(here, 'src/index.html'), 'utf8');
html = html.replaceAll('{{APP_JS}}', js).replaceAll('{{STYLE_CSS}}', css).replaceAll('{{SIO_VERSION}}', version);
await writeFile(path.join(outdir, 'index.html'), html);

let total = 0;
for (const f of await readdir(outdir)) {
  if (f === '.keep') continue;
  const { size } = await (await import('node:fs/promises')).stat(path.join(outdir, f));
  total += size;
}
console.log(`web: built ${js}, ${css}, index.html into pkg/dashboard/dist (${(total / 1024).toFixed(0)} KiB)`);
