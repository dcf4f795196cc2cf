// Bundle the compiled daemon and CLI (dist/**/*.js from tsc) into dist/bin/berthd.mjs and
// dist/bin/berth.mjs: node loads a few files instead of hundreds, which is most of a short
// command's time after node's own start (and half of berthd's start). Commands the CLI loads on
// demand stay separate chunks. Native addons stay outside the bundle.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

// Chunks are named by content hash: drop the previous build's, or they pile up.
rmSync('dist/bin/chunks', { recursive: true, force: true });
await build({
  entryPoints: { berthd: 'dist/daemon/main.js', berth: 'dist/client/main.js', 'berthd-cleanup': 'dist/daemon/cleanup.js', 'layer-worker': 'dist/daemon/images/registry/layer-worker.js' },
  outdir: 'dist/bin',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['node-unix-socket'],
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages inside an ES module bundle still call require() for node's modules.
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  logLevel: 'warning',
});
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  /* not a git checkout */
}
writeFileSync('dist/COMMIT', commit + '\n');
