#!/usr/bin/env node
// Runs the test suites with Node's own test runner (TypeScript through tsx).
//   node scripts/test.mjs            every suite
//   node scripts/test.mjs unit cli   only these suites (folders under test/)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const suites = process.argv.slice(2);

function testFiles(dir) {
  return readdirSync(dir).flatMap(entry => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return /\.test\.[cm]?ts$/.test(entry) ? [path] : [];
  });
}

const folders = suites.length ? suites.map(s => join(root, 'test', s)) : [join(root, 'test')];
const files = folders.flatMap(testFiles).sort();
if (files.length === 0) {
  console.error(`no test files under ${folders.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.SCANFLOW_TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...files
  ],
  {
    stdio: 'inherit',
    cwd: root,
    // MLflow 3's telemetry thread sets and unsets an environment variable while the client's
    // requests iterate os.environ (KeyError '_MLFLOW_TELEMETRY_SESSION_ID', now and then); it would
    // only try to reach an address this machine cannot anyway.
    env: { ...process.env, MLFLOW_DISABLE_TELEMETRY: 'true' }
  }
);
process.exit(result.status ?? 1);
