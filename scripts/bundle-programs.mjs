#!/usr/bin/env node
// Bundles the programs of scanflow's own images into one file each, so the images need no npm:
//   lib/tracker-image/scanflow-tracker.js  `scanflow tracker` (src/deploy/tracker-service.ts)
//   lib/serve-image/scanflow-serve.js      `scanflow serve` and its gateway (src/serve/service-main.ts)
// better-sqlite3 (native) stays external: the images copy it. The model server bundles
// TensorFlow.js with its pure JavaScript cpu backend (the wasm backend needs files beside the
// bundle). Run by `npm run build:lib`; the output is deterministic, so an image's content hash
// only changes with the code.
import { buildSync } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const programs = {
  'tracker-image/scanflow-tracker.js': 'src/deploy/tracker-service.ts',
  'serve-image/scanflow-serve.js': 'src/serve/service-main.ts'
};
for (const [out, entry] of Object.entries(programs)) {
  buildSync({
    entryPoints: [`${root}${entry}`],
    outfile: `${root}lib/${out}`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    // Docker's client is for deploying, which these programs never do from inside an image.
    external: [
      'better-sqlite3',
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-backend-wasm',
      'dockerode',
      'tar-fs',
      'tsx'
    ]
  });
}
