/**
 * `npm run bench -- tracker`: our tracker against a real `mlflow server` (SQLite backend, its
 * default 4 workers) on this machine, side by side in one run, with the same client calls (our
 * RestStore over keep-alive HTTP) against both:
 *   - log-batch throughput, 1000 metrics per call, 4 concurrent callers
 *   - single log-metric throughput, 4 concurrent callers
 *   - p50/p99 latency of each, one caller at a time
 * Each server runs in its own process. ratio = our throughput / MLflow's (target: 10x on both).
 * Options: --seconds N per measurement (default 8), --workers N for mlflow server (default 4, its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RestStore, type Metric } from '../src/track';
import { ROOT, startMlflowServer, temporaryFolder } from '../test/track/helpers';
import type { BenchResult } from './run';

interface Figures {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  calls: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    : NaN;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Calls `call` from `concurrency` loops for `seconds`; each loop gets its own run. */
async function measure(
  client: RestStore,
  experimentId: string,
  concurrency: number,
  seconds: number,
  call: (runId: string, i: number) => Promise<void>
): Promise<Figures> {
  const runs = await Promise.all(
    Array.from({ length: concurrency }, () => client.createRun(experimentId))
  );
  for (const run of runs) for (let i = 0; i < 3; i++) await call(run.info.run_id, -1 - i); // warm-up
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    runs.map(async run => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        await call(run.info.run_id, i);
        latencies.push(performance.now() - t);
      }
    })
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    callsPerSecond: round(latencies.length / elapsed),
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    calls: latencies.length
  };
}

const batch = (i: number): Metric[] =>
  Array.from({ length: 1000 }, (_, j) => ({
    key: `m${j % 10}`,
    value: Math.random(),
    step: i * 100 + Math.floor(j / 10),
    timestamp: Date.now()
  }));

async function workloads(url: string, seconds: number): Promise<Record<string, Figures | number>> {
  const client = new RestStore(url);
  try {
    const experimentId = await client.createExperiment(`bench-${Date.now()}`);
    const logBatch = (runId: string, i: number): Promise<void> =>
      client.logBatch(runId, { metrics: batch(i) });
    const logMetric = (runId: string, i: number): Promise<void> =>
      client.logMetric(runId, {
        key: 'loss',
        value: Math.random(),
        step: i,
        timestamp: Date.now()
      });
    const batchThroughput = await measure(client, experimentId, 4, seconds, logBatch);
    const metricThroughput = await measure(client, experimentId, 4, seconds, logMetric);
    const batchLatency = await measure(client, experimentId, 1, seconds / 2, logBatch);
    const metricLatency = await measure(client, experimentId, 1, seconds / 2, logMetric);
    return {
      logBatchCallsPerSecond: batchThroughput.callsPerSecond,
      logBatchMetricsPerSecond: round(batchThroughput.callsPerSecond * 1000, 0),
      logMetricCallsPerSecond: metricThroughput.callsPerSecond,
      logBatchLatency: batchLatency,
      logMetricLatency: metricLatency,
      logBatchUnderLoad: batchThroughput,
      logMetricUnderLoad: metricThroughput
    };
  } finally {
    client.close();
  }
}

/** Our `scanflow tracker` in its own process, from the sources. */
async function startOurs(store: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `require('./src/cli/main').main(['tracker', '--port', '0', '--store', ${JSON.stringify(store)}])`
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.once('exit', code => reject(new Error(`scanflow tracker exited with ${code}`)));
  });
  return { url, child };
}

export default async function tracker(args: string[]): Promise<BenchResult> {
  const at = args.indexOf('--seconds');
  const seconds = at >= 0 ? Number(args[at + 1]) : 8;
  const workersAt = args.indexOf('--workers');
  const workers = workersAt >= 0 ? Number(args[workersAt + 1]) : 4;
  const folder = temporaryFolder('bench-tracker');
  try {
    console.log(
      'starting mlflow server (SQLite backend; its first start creates the schema, about a minute)'
    );
    const mlflowFolder = join(folder.path, 'mlflow');
    mkdirSync(mlflowFolder);
    const mlflow = await startMlflowServer(mlflowFolder, workers);
    let anchor;
    try {
      console.log('measuring mlflow server');
      anchor = await workloads(mlflow.url, seconds);
    } finally {
      await mlflow.stop();
    }
    const ours = await startOurs(join(folder.path, 'ours', 'tracker.db'));
    let measured;
    try {
      console.log('measuring scanflow tracker');
      measured = await workloads(ours.url, seconds);
    } finally {
      ours.child.kill('SIGTERM');
    }
    return {
      anchor: { server: `mlflow server (sqlite backend, ${workers} workers)`, ...anchor },
      ours: { server: 'scanflow tracker (sqlite WAL, 1 process)', ...measured },
      ratio: {
        logBatchThroughput: round(
          (measured.logBatchCallsPerSecond as number) / (anchor.logBatchCallsPerSecond as number),
          1
        ),
        logMetricThroughput: round(
          (measured.logMetricCallsPerSecond as number) / (anchor.logMetricCallsPerSecond as number),
          1
        )
      },
      client: 'scanflow RestStore (node:http keep-alive), same calls against both servers',
      secondsPerMeasurement: seconds,
      machine: '2 cores, shared with other work'
    };
  } finally {
    folder.remove();
  }
}
