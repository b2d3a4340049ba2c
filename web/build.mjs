// Builds the dashboard into web/dist/, the folder the binary embeds.
//
// One esbuild pass: src/main.ts -> dist/app.js (with ECharts tree-shaken in),
// styles/app.css -> dist/app.css (with the Inter font file copied beside it), and the
// static files (index.html, favicon, theme boot script) copied as they are. Licences of the
// bundled third-party code land in dist/licenses.txt, so the binary carries them.
//
//   node build.mjs            production build (minified)
//   node build.mjs --dev      readable output with source maps
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const dev = process.argv.includes('--dev');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: { app: 'src/main.ts', 'app-style': 'styles/app.css' },
  outdir: out,
  bundle: true,
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: !dev,
  sourcemap: dev,
  legalComments: 'none',
  loader: { '.woff2': 'file' },
  assetNames: 'assets/[name]-[hash]',
  logLevel: 'warning',
});
// esbuild names the CSS bundle after its entry; give it the name index.html links.
cpSync(join(out, 'app-style.css'), join(out, 'app.css'));
rmSync(join(out, 'app-style.css'));
rmSync(join(out, 'app-style.js'), { force: true });

for (const file of ['index.html', 'favicon.svg', 'theme-boot.js']) {
  cpSync(join(root, 'static', file), join(out, file));
}

// The binary ships third-party code (ECharts, ZRender, tslib, Inter): carry their licences.
const bundled = ['echarts', 'zrender', 'tslib', '@fontsource-variable/inter'];
const licences = bundled.map((name) => {
  const dir = join(root, 'node_modules', name);
  const text = ['LICENSE', 'LICENSE.txt', 'NOTICE']
    .filter((file) => existsSync(join(dir, file)))
    .map((file) => readFileSync(join(dir, file), 'utf8').trim())
    .join('\n\n');
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return `${'='.repeat(72)}\n${name} ${version}\n${'='.repeat(72)}\n\n${text}\n`;
});
writeFileSync(join(out, 'licenses.txt'), licences.join('\n'));
