#!/usr/bin/env node
// Bundles the tracker image's entry (src/deploy/tracker-service.ts) into one file,
// lib/tracker-image/scanflow-tracker.js: the image copies it with better-sqlite3 (native, kept
// external) and needs no npm. Run by `npm run build:lib`; the output is deterministic, so the
// image's content hash only changes with the code.
import { buildSync } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
buildSync({
  entryPoints: [`${root}src/deploy/tracker-service.ts`],
  outfile: `${root}lib/tracker-image/scanflow-tracker.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
  external: ['better-sqlite3']
});
