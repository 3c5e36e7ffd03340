/**
 * The run engine's overhead, side by side with plain `docker run`: a 12-step workflow (4 stages
 * of 3 parallel steps, each a container that sleeps 1 s) run by scanflow on Docker, and the same
 * containers started by a shell script (stages one after another, `&` + `wait` within a stage).
 * "The same containers": the script gives them the network, volume mounts and init process that
 * scanflow gives its own; a bare `docker run` is measured as well, for reference.
 *
 * ratio = scanflow's wall-clock time / the script's (target: at most 1.10). Per step, the extra
 * time scanflow's steps take beyond a `docker run` of the same container (target: under 50 ms).
 * Medians of `rounds` alternating runs, after one warm-up of each.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWorkflow } from '../src/run';
import type { WorkflowSpec } from '../src/workflow';
import type { BenchResult } from './run';

const IMAGE = 'scanflow/debian:bookworm';
const STAGES = 4;
const WIDTH = 3;
const SLEEP = 1;

export const RUNTIME_WORKFLOW: WorkflowSpec = {
  kind: 'workflow',
  name: 'bench',
  steps: Array.from({ length: STAGES }, (_, s) => ({
    kind: 'parallel' as const,
    name: `stage${s + 1}`,
    steps: Array.from({ length: WIDTH }, (_, i) => ({
      kind: 'step' as const,
      name: `step${i + 1}`,
      image: IMAGE,
      command: ['sleep', String(SLEEP)]
    }))
  }))
};

interface Measure {
  wallMs: number;
  /** Start-to-end time of each step (container created to container removed). */
  stepMs: number[];
}

async function scanflowRun(): Promise<Measure> {
  const started = performance.now();
  const run = runWorkflow(RUNTIME_WORKFLOW, {
    executor: 'docker',
    concurrency: WIDTH,
    handleSignals: false
  });
  const result = await run.done;
  const wallMs = performance.now() - started;
  if (result.status !== 'succeeded') {
    throw new Error(`the scanflow run failed: ${result.error?.message}`);
  }
  return { wallMs, stepMs: result.steps.map(s => s.durationMs ?? NaN) };
}

/**
 * The shell script. `same` gives its containers what scanflow gives its own (a network and an
 * outputs volume of the run, mounted read-write and read-only, an init process), created and
 * removed by the script; otherwise each step is a bare `docker run --rm IMAGE sleep 1`.
 */
function scriptRun(dir: string, same: boolean): Measure {
  const times = join(dir, 'times');
  const name = `scanflow-bench-anchor-${process.pid}`;
  const options = same
    ? `--init --network ${name} -v ${name}:/scanflow/outputs -v ${name}:/scanflow/inputs:ro`
    : '';
  const lines = ['#!/usr/bin/env bash', 'set -e', `: > ${times}`];
  if (same) {
    lines.push(
      `docker network create ${name} >/dev/null`,
      `docker volume create ${name} >/dev/null`
    );
  }
  for (let s = 0; s < STAGES; s++) {
    for (let i = 0; i < WIDTH; i++) {
      lines.push(
        `( t=$(date +%s%N); docker run --rm ${options} ${IMAGE} sleep ${SLEEP}; ` +
          `echo $(( ($(date +%s%N) - t) / 1000 )) >> ${times} ) &`
      );
    }
    lines.push('wait');
  }
  if (same) {
    lines.push(`docker network rm ${name} >/dev/null`, `docker volume rm ${name} >/dev/null`);
  }
  const script = join(dir, 'anchor.sh');
  writeFileSync(script, `${lines.join('\n')}\n`);
  const started = performance.now();
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const wallMs = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`the anchor script failed: ${result.stderr.toString()}`);
  }
  const stepMs = readFileSync(times, 'utf8')
    .trim()
    .split('\n')
    .map(us => Number(us) / 1000);
  return { wallMs, stepMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

export default async function runtime(args: string[]): Promise<BenchResult> {
  const rounds = Number(args[0] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-bench-'));
  try {
    scriptRun(dir, true);
    await scanflowRun();
    const ours: Measure[] = [];
    const anchor: Measure[] = [];
    const bare: Measure[] = [];
    for (let i = 0; i < rounds; i++) {
      anchor.push(scriptRun(dir, true));
      ours.push(await scanflowRun());
      bare.push(scriptRun(dir, false));
    }
    const oursWall = median(ours.map(m => m.wallMs));
    const anchorWall = median(anchor.map(m => m.wallMs));
    const oursStep = median(ours.flatMap(m => m.stepMs));
    const anchorStep = median(anchor.flatMap(m => m.stepMs));
    return {
      anchor: {
        what:
          'bash script: docker run --rm --init --network N -v V:/scanflow/outputs ' +
          '-v V:/scanflow/inputs:ro per step, & + wait per stage, network and volume made by the script',
        wallMs: round1(anchorWall),
        stepMedianMs: round1(anchorStep),
        dockerOwnStartMs: round1(anchorStep - SLEEP * 1000)
      },
      ours: {
        what: 'runWorkflow(..., { executor: "docker", concurrency: 3 })',
        wallMs: round1(oursWall),
        stepMedianMs: round1(oursStep)
      },
      bareDockerRun: {
        what: 'the same script with a bare docker run --rm IMAGE sleep 1 (no network, volume, init)',
        wallMs: round1(median(bare.map(m => m.wallMs))),
        stepMedianMs: round1(median(bare.flatMap(m => m.stepMs)))
      },
      ratio: Math.round((oursWall / anchorWall) * 1000) / 1000,
      overheadPerStepMs: round1(oursStep - anchorStep),
      overheadPerStageMs: round1((oursWall - anchorWall) / STAGES),
      steps: STAGES * WIDTH,
      rounds,
      targets: { ratio: 1.1, overheadPerStepMs: 50 }
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
