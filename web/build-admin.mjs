// Copies the Socket.IO Admin UI (npm @socket.io/admin-ui, its prebuilt
// ui/dist: a Vue app with a hash router and relative asset paths) into
// ../pkg/adminui/dist, which bin/mpmd embeds and serves at /admin/, made to
// work offline and against the mpmd that serves it:
//  * index.html loads the Material Design Icons from a CDN and Roboto from
//    Google Fonts: the icons come from npm's @mdi/font instead (its CSS and
//    the woff2 font, which every browser the UI supports reads), and Roboto
//    is dropped (the UI's CSS falls back to the system's sans-serif);
//  * the connection form's server URL starts as the page's own origin
//    (the UI's default path /socket.io and namespace /admin are mpmd's).
// Each edit must match exactly once, so a different version of the UI
// fails the build here instead of shipping a page that half works.
// Source maps are left out. Usage: node build-admin.mjs
import { readFile, writeFile, readdir, rm, mkdir, cp, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../pkg/adminui/dist');
const ui = path.join(here, 'node_modules/@socket.io/admin-ui/ui/dist');
const mdi = path.join(here, 'node_modules/@mdi/font');
const version = JSON.parse(await readFile(path.join(here, 'node_modules/@socket.io/admin-ui/package.json'), 'utf8')).version;
const mdiVersion = JSON.parse(await readFile(path.join(mdi, 'package.json'), 'utf8')).version;

await mkdir(outdir, { recursive: true });
for (const f of await readdir(outdir)) {
  if (f !== '.keep') await rm(path.join(outdir, f), { recursive: true, force: true });
}
await cp(ui, outdir, { recursive: true, filter: (src) => !src.endsWith('.map') });
await mkdir(path.join(outdir, 'mdi/css'), { recursive: true });
await mkdir(path.join(outdir, 'mdi/fonts'), { recursive: true });
await cp(path.join(mdi, 'css/materialdesignicons.min.css'), path.join(outdir, 'mdi/css/materialdesignicons.min.css'));
await cp(path.join(mdi, 'fonts/materialdesignicons-webfont.woff2'), path.join(outdir, 'mdi/fonts/materialdesignicons-webfont.woff2'));
await cp(path.join(mdi, 'LICENSE'), path.join(outdir, 'mdi/LICENSE'));
await cp(path.join(here, 'node_modules/@socket.io/admin-ui/LICENSE'), path.join(outdir, 'LICENSE'));

function replaceOnce(text, file, from, to) {
  const n = text.split(from).length - 1;
  if (n !== 1) {
    throw new Error(`build-admin: expected ${JSON.stringify(from)} once in ${file} of @socket.io/admin-ui ${version}, found it ${n} times`);
  }
  return text.replace(from, to);
}

const indexPath = path.join(outdir, 'index.html');
let html = await readFile(indexPath, 'utf8');
html = html.replace(/<link rel="stylesheet" href="https:\/\/fonts\.googleapis\.com\/[^"]*">/, () => '');
html = replaceOnce(html, 'index.html', 'https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css', 'mdi/css/materialdesignicons.min.css');
if (/https?:\/\//.test(html)) throw new Error('build-admin: index.html still loads something remote: ' + html.match(/https?:\/\/[^"]*/)[0]);
await writeFile(indexPath, html);

const jsDir = path.join(outdir, 'js');
const app = (await readdir(jsDir)).find((f) => /^app\.[0-9a-f]+\.js$/.test(f));
if (!app) throw new Error('build-admin: no js/app.*.js in @socket.io/admin-ui ' + version);
let js = await readFile(path.join(jsDir, app), 'utf8');
js = replaceOnce(js, app, 'serverUrl:this.initialServerUrl,', 'serverUrl:this.initialServerUrl||location.origin,');
await writeFile(path.join(jsDir, app), js);

let total = 0, files = 0;
async function walk(d) {
  for (const f of await readdir(d)) {
    const p = path.join(d, f);
    const st = await stat(p);
    if (st.isDirectory()) await walk(p);
    else if (f !== '.keep') { total += st.size; files++; }
  }
}
await walk(outdir);
console.log(`admin-ui: @socket.io/admin-ui ${version} with @mdi/font ${mdiVersion} into pkg/adminui/dist: ${files} files, ${(total / 1024).toFixed(0)} KiB`);
