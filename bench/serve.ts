/**
 * `npm run bench -- serve [--seconds N]`: the model server (`scanflow serve`) under load, against
 * the same model called in-process, in one run (about 2.5 minutes).
 *
 * The model: a Classifier trained here on 5,000 real MNIST digits (5 epochs), saved to a temporary
 * folder; request bodies are 200 real held-out digits in MLflow's scoring format
 * `{"inputs": [[...784 numbers]]}`, one row per request.
 *   - anchor: `Classifier.predictProbabilities` in this process on one row at a time (latency
 *     p50/p99, calls/s), and on batches of 16..256 rows (rows/s: the limit batching can reach);
 *   - ours: `scanflow serve` in child processes (node --import tsx, the CLI, no tracker), loaded by
 *     autocannon on loopback from this process: micro-batching on (window 0 ms, the default, and
 *     1 ms) and off, at low load (1 connection) and under load (48 connections); then 3 replicas
 *     (3 servers, autocannon's connections spread over their URLs round-robin, as Swarm's ingress
 *     spreads connections) vs 1, with batching on and off.
 * Every configuration runs twice, N seconds (default 4) after a 1 s warm-up, in mirrored order
 * (A B C C B A) so that a machine growing busier favours none. Latency percentiles come from every
 * response's own time (autocannon's histogram rounds to whole ms). Each run also records the CPU
 * the servers used per request (/proc), the cores they and autocannon kept busy, and the rows per
 * model call (the servers' /metrics).
 * Targets (issue #17): p50 overhead over in-process under 2 ms at low load; batching on >= 3x the
 * throughput of off under load; 3 replicas >= 1.6x one.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensorflowBackend } from '../src/check/backend';
import { Classifier } from '../src/improve/classifier';
import { digits } from '../test/check/mnist';
import type { BenchResult } from './run';

const ROOT = join(__dirname, '..');
const CONNECTIONS = 48; // a multiple of 3, so that 3 replicas get as many connections each
const WARM_UP_SECONDS = 1;

interface Latency {
  p50Ms: number;
  p99Ms: number;
}

interface LoadFigures extends Latency {
  requestsPerSecond: number;
  connections: number;
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** CPU time of the server process(es) per answered request (user + system). */
  serverCpuMsPerRequest: number;
  /** Cores the server process(es) kept busy on average, and the bench process (autocannon). */
  serverCores: number;
  loadGeneratorCores: number;
  /** Rows per model call during the run (from the servers' /metrics). */
  meanBatchRows: number;
  /** Each measured run's rate (the configuration ran twice, see `mirrored`). */
  runsRequestsPerSecond: number[];
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

function percentile(sorted: number[], p: number): number {
  return sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    : NaN;
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50Ms: round(percentile(sorted, 50), 3), p99Ms: round(percentile(sorted, 99), 3) };
}

/** Calls `call` back to back for `seconds`; its latency and rate. */
function timeCalls(
  call: (i: number) => void,
  seconds: number
): Latency & { callsPerSecond: number; calls: number } {
  for (let i = 0; i < 50; i++) call(i); // warm-up
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const t = performance.now();
    call(i);
    latencies.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    ...latency(latencies),
    callsPerSecond: round(latencies.length / elapsed, 1),
    calls: latencies.length
  };
}

interface Served {
  url: string;
  backend: string;
  child: ChildProcess;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in ticks of 1/100 s
  } catch {
    return NaN;
  }
}

const serversCpuSeconds = (servers: Served[]): number =>
  servers.reduce((sum, served) => sum + processCpuSeconds(served.child.pid), 0);

const ownCpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** `scanflow serve <dir>` in its own process (from the sources), once it listens. */
async function startServer(modelDir: string, flags: string[]): Promise<Served> {
  const argv = ['serve', modelDir, '--port', '0', '--poll', '0', ...flags];
  const env = { ...process.env };
  delete env.MLFLOW_TRACKING_URI; // no tracker: the bench measures serving, not logging
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', `require('./src/cli/main').main(${JSON.stringify(argv)})`],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let text = '';
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  return new Promise<Served>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`scanflow serve did not start in 120 s: ${errors}`));
    }, 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const url = / on (http:\/\/\S+)/.exec(text);
      if (url) {
        clearTimeout(timer);
        resolve({ url: url[1], backend: /backend '(\w+)'/.exec(text)?.[1] ?? 'unknown', child });
      }
    });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`scanflow serve exited with ${code}: ${errors}`));
    });
  });
}

async function stopServer(served: Served): Promise<void> {
  const { child } = served;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Model calls and the rows they held so far, summed over `servers` (their /metrics). */
async function batchCounts(servers: Served[]): Promise<{ calls: number; rows: number }> {
  let calls = 0;
  let rows = 0;
  for (const served of servers) {
    const text = await (await fetch(`${served.url}/metrics`)).text();
    const value = (name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    calls += value('scanflow_serve_batch_rows_count');
    rows += value('scanflow_serve_batch_rows_sum');
  }
  return { calls, rows };
}

/** One autocannon run, as measured. */
interface Raw {
  connections: number;
  latencies: number[];
  seconds: number;
  failed: { non2xx: number; errors: number; timeouts: number };
  serverCpu: number;
  ownCpu: number;
  calls: number;
  rows: number;
}

/** autocannon against `servers` (connections spread over them round-robin) for `seconds`. */
async function loadRun(
  servers: Served[],
  connections: number,
  seconds: number,
  bodies: string[]
): Promise<Raw> {
  const targets = servers.map(served => `${served.url}/invocations`);
  const batchesBefore = await batchCounts(servers);
  const serverCpuBefore = serversCpuSeconds(servers);
  const ownCpuBefore = ownCpuSeconds();
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        // autocannon takes several URLs (see its README: connection i goes to URL i mod n); its
        // type declarations (@types/autocannon 7) still name one string.
        url: targets.length === 1 ? targets[0] : (targets as unknown as string),
        connections,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: bodies.map(body => ({ body }))
      },
      (error: unknown, finished: autocannon.Result) =>
        error
          ? reject(error instanceof Error ? error : new Error(String(error)))
          : resolve(finished)
    );
    instance.on('response', (_client, status, _bytes, time) => {
      if (status >= 200 && status < 300) latencies.push(time);
    });
  });
  const serverCpu = serversCpuSeconds(servers) - serverCpuBefore;
  const ownCpu = ownCpuSeconds() - ownCpuBefore;
  const batchesAfter = await batchCounts(servers);
  return {
    connections,
    latencies,
    seconds: result.duration,
    failed: { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts },
    serverCpu,
    ownCpu,
    calls: batchesAfter.calls - batchesBefore.calls,
    rows: batchesAfter.rows - batchesBefore.rows
  };
}

/** A short warm-up at the same load, then the measured run. */
async function measure(
  servers: Served[],
  connections: number,
  seconds: number,
  bodies: string[]
): Promise<Raw> {
  await loadRun(servers, connections, WARM_UP_SECONDS, bodies);
  return loadRun(servers, connections, seconds, bodies);
}

/** The figures of one configuration over its runs (merged, as one longer run). */
function summarize(runs: Raw[]): LoadFigures {
  const sum = (f: (run: Raw) => number): number => runs.reduce((total, run) => total + f(run), 0);
  const seconds = sum(run => run.seconds);
  const responses = sum(run => run.latencies.length);
  return {
    requestsPerSecond: round(responses / seconds, 1),
    ...latency(runs.flatMap(run => run.latencies)),
    connections: runs[0].connections,
    responses,
    non2xx: sum(run => run.failed.non2xx),
    errors: sum(run => run.failed.errors),
    timeouts: sum(run => run.failed.timeouts),
    seconds: round(seconds),
    serverCpuMsPerRequest: round((sum(run => run.serverCpu) * 1000) / responses, 3),
    serverCores: round(sum(run => run.serverCpu) / seconds),
    loadGeneratorCores: round(sum(run => run.ownCpu) / seconds),
    meanBatchRows: round(sum(run => run.rows) / sum(run => run.calls), 1),
    runsRequestsPerSecond: runs.map(run => round(run.latencies.length / run.seconds, 1))
  };
}

/**
 * Each configuration measured twice, in the order given and then in reverse (A B C C B A), so that
 * a machine that gets busier or quieter during the benchmark favours none of them.
 */
async function mirrored(
  configurations: Array<[string, Served[]]>,
  connections: number,
  seconds: number,
  bodies: string[]
): Promise<Record<string, LoadFigures>> {
  const runs = new Map<string, Raw[]>(configurations.map(([name]) => [name, []]));
  for (const [name, servers] of [...configurations, ...[...configurations].reverse()]) {
    console.log(`  ${name}: ${connections} connection(s), ${seconds} s`);
    runs.get(name)!.push(await measure(servers, connections, seconds, bodies));
  }
  return Object.fromEntries([...runs].map(([name, raw]) => [name, summarize(raw)]));
}

interface Target {
  target: string;
  value: number;
  met: boolean;
}

export default async function serve(args: string[]): Promise<BenchResult> {
  const at = args.indexOf('--seconds');
  const seconds = at >= 0 ? Number(args[at + 1]) : 4;
  const loadBefore = round(loadavg()[0]);
  const backend = await tensorflowBackend();
  const folder = mkdtempSync(join(tmpdir(), 'scanflow-bench-serve-'));
  const servers: Served[] = [];
  try {
    // The model, trained on real digits.
    const train = digits(0, 5000);
    const started = performance.now();
    const model = await Classifier.train({ x: train.images, y: train.labels }, 10, { epochs: 5 });
    const trainSeconds = round((performance.now() - started) / 1000, 1);
    const test = digits(9000, 10000);
    const accuracy = round(model.accuracy({ x: test.images, y: test.labels }), 3);
    const modelDir = await model.save(join(folder, 'model'));
    console.log(
      `serve bench: backend ${backend}, trained in ${trainSeconds} s, accuracy ${accuracy}`
    );

    // Requests: held-out digits, one per body, with the values the mnist package holds.
    const rows = test.images.slice(0, 200);
    const values = rows.map(row => Array.from(row, v => Math.round(v * 1000) / 1000));
    const bodies = values.map(row => JSON.stringify({ inputs: [row] }));
    const inputRows = values.map(row => Float32Array.from(row));

    // The anchor: the same model in this process.
    console.log('measuring the model in-process');
    const single = timeCalls(i => model.predictProbabilities([inputRows[i % 200]]), 3);
    const batches: Record<string, { rowsPerSecond: number; callMs: number }> = {};
    for (const size of [16, 64, 256]) {
      const batch = Array.from({ length: size }, (_, i) => inputRows[i % 200]);
      const timed = timeCalls(() => model.predictProbabilities(batch), 1);
      batches[`rows${size}`] = {
        rowsPerSecond: round(timed.callsPerSecond * size, 0),
        callMs: timed.p50Ms
      };
    }
    const expected = model.predict(inputRows.slice(0, 50));
    model.dispose();

    console.log('starting 7 servers (scanflow serve, each in its own process)');
    const start = (flags: string[]): Promise<Served> =>
      startServer(modelDir, flags).then(served => {
        servers.push(served);
        return served;
      });
    // All settle before any failure is thrown, so that none is left running behind `finally`.
    const settled = await Promise.allSettled([
      start([]),
      start(['--batch-window', '1']),
      start(['--no-batching']),
      start([]),
      start([]),
      start(['--no-batching']),
      start(['--no-batching'])
    ]);
    const [on, onWindow1, off, onReplica2, onReplica3, offReplica2, offReplica3] = settled.map(
      outcome => {
        if (outcome.status === 'rejected') throw outcome.reason;
        return outcome.value;
      }
    );

    // The server answers what the model in-process answers.
    const response = await fetch(`${on.url}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: values.slice(0, 50) })
    });
    const answer = (await response.json()) as { predictions?: number[] };
    const sameAsInProcess =
      response.ok &&
      answer.predictions?.length === expected.length &&
      answer.predictions.every((p, i) => p === expected[i]);

    console.log('low load');
    const lowLoad = await mirrored(
      [
        ['batchingOn', [on]],
        ['batchingOnWindow1ms', [onWindow1]],
        ['batchingOff', [off]]
      ],
      1,
      seconds,
      bodies
    );
    console.log('under load');
    const underLoad = await mirrored(
      [
        ['batchingOn', [on]],
        ['batchingOnWindow1ms', [onWindow1]],
        ['batchingOff', [off]]
      ],
      CONNECTIONS,
      seconds,
      bodies
    );
    const ours = Object.fromEntries(
      Object.keys(lowLoad).map(name => [
        name,
        { lowLoad: lowLoad[name], underLoad: underLoad[name] }
      ])
    );
    console.log('replicas');
    const replicaRuns = await mirrored(
      [
        ['oneBatchingOn', [on]],
        ['threeBatchingOn', [on, onReplica2, onReplica3]],
        ['oneBatchingOff', [off]],
        ['threeBatchingOff', [off, offReplica2, offReplica3]]
      ],
      CONNECTIONS,
      seconds,
      bodies
    );
    const oneReplica = replicaRuns.oneBatchingOn;
    const threeReplicas = replicaRuns.threeBatchingOn;
    const oneReplicaOff = replicaRuns.oneBatchingOff;
    const threeReplicasOff = replicaRuns.threeBatchingOff;

    const overhead = ours.batchingOn.lowLoad.p50Ms - single.p50Ms;
    const batching =
      ours.batchingOn.underLoad.requestsPerSecond / ours.batchingOff.underLoad.requestsPerSecond;
    const batchingWindow1 =
      ours.batchingOnWindow1ms.underLoad.requestsPerSecond /
      ours.batchingOff.underLoad.requestsPerSecond;
    const replicas = threeReplicas.requestsPerSecond / oneReplica.requestsPerSecond;
    const replicasOff = threeReplicasOff.requestsPerSecond / oneReplicaOff.requestsPerSecond;
    // What batching saves in the server's own CPU per request, whoever else uses the cores.
    const batchingCpu =
      ours.batchingOff.underLoad.serverCpuMsPerRequest /
      ours.batchingOn.underLoad.serverCpuMsPerRequest;
    const targets: Record<string, Target> = {
      lowLoadP50OverheadMs: {
        target: '< 2 ms (server p50 at 1 connection, batching on, minus in-process p50 on one row)',
        value: round(overhead, 3),
        met: overhead < 2
      },
      batchingThroughput: {
        target: `>= 3x (requests/s at ${CONNECTIONS} connections, batching on (window 0) / off)`,
        value: round(batching),
        met: batching >= 3
      },
      replicasThroughput: {
        target: `>= 1.6x (requests/s at ${CONNECTIONS} connections, 3 replicas / 1, batching on)`,
        value: round(replicas),
        met: replicas >= 1.6
      }
    };
    const failed = [
      ...Object.values(lowLoad),
      ...Object.values(underLoad),
      ...Object.values(replicaRuns)
    ].reduce((sum, run) => sum + run.non2xx + run.errors + run.timeouts, 0);
    return {
      anchor: {
        what: 'Classifier.predictProbabilities in the bench process (no HTTP, no JSON)',
        backend,
        oneRow: single,
        batches
      },
      ours: {
        what: `scanflow serve (CLI, one child process per server, no tracker, no checker), autocannon on loopback`,
        backend: on.backend,
        ...ours,
        replicas: {
          ...replicaRuns,
          how: 'three scanflow serve processes; autocannon spreads its connections over their URLs round-robin (per connection, like Swarm ingress), no extra balancer process'
        }
      },
      ratio: {
        lowLoadP50OverheadMs: targets.lowLoadP50OverheadMs.value,
        batchingThroughput: targets.batchingThroughput.value,
        batchingWindow1msThroughput: round(batchingWindow1),
        batchingServerCpuPerRequest: round(batchingCpu),
        replicasThroughput: targets.replicasThroughput.value,
        replicasBatchingOffThroughput: round(replicasOff),
        serverVsInProcessOneRowThroughput: round(
          ours.batchingOn.underLoad.requestsPerSecond / single.callsPerSecond
        )
      },
      targets,
      failedRequests: failed,
      predictionsSameAsInProcess: sameAsInProcess,
      model: {
        kind: 'Classifier (dense 256, dropout 0.2), 784 inputs, 10 classes',
        trainedOn: 5000,
        epochs: 5,
        trainSeconds,
        heldOutAccuracy: accuracy
      },
      requestBody: `{"inputs": [[784 numbers]]}, ${bodies.length} held-out digits, ${Math.round(bodies.reduce((s, b) => s + b.length, 0) / bodies.length)} bytes on average`,
      runs: `every configuration twice, ${seconds} s each after a ${WARM_UP_SECONDS} s warm-up, in mirrored order; figures merge both`,
      machine: {
        cpus: cpus().length,
        loadAverageBefore: loadBefore,
        loadAverageAfter: round(loadavg()[0]),
        note:
          `${cpus().length} cores, shared by autocannon (in this process), the servers and other people's work (see the load averages). ` +
          `Under load one replica kept ${oneReplica.serverCores} cores busy and autocannon ${oneReplica.loadGeneratorCores}; ` +
          `three replicas together ${threeReplicas.serverCores} and ${threeReplicas.loadGeneratorCores}: they share the same cores, ` +
          `with more context switches and batches of ${threeReplicas.meanBatchRows} rows instead of ${oneReplica.meanBatchRows}, ` +
          'so the replica ratio measures this machine, not scaling, which needs a free core per replica plus one for the load generator'
      }
    };
  } finally {
    await Promise.all(servers.map(stopServer));
    rmSync(folder, { recursive: true, force: true });
  }
}
