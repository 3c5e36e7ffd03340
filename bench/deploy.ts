/**
 * Deployments side by side with `scanflow run`: the runtime benchmark's 12-step workflow (4 stages
 * of 3 parallel steps, each a container that sleeps 1 s) through `scanflow run -j 3` (the anchor),
 * through `docker-compose up` of its export, and through `scanflow deploy --to swarm`, in the same
 * run on the same machine, each as a user types it (the CLI of lib/: `npm run build:lib` first),
 * each with its tracker, as a user gets it by default.
 *
 * ratio = wall-clock time / `scanflow run`'s (targets: compose at most 1.2, Swarm at most 2).
 * Per step, the container's own run time (the engine's StartedAt to FinishedAt) is reported beside
 * the wall-clock times: what is left is starting containers, the tracker and the ordering.
 * Medians of `rounds` alternating runs (default 2), after one warm-up of each.
 */
import Docker from 'dockerode';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { undeploy } from '../src/deploy/deploy';
import { runCommand, runCompose } from '../src/deploy/docker-cli';
import { exportWorkflow } from '../src/deploy/export';
import type { BenchResult } from './run';
import { RUNTIME_WORKFLOW } from './runtime';

const docker = new Docker();

interface Measure {
  wallMs: number;
  /** Per step: the engine's container run time (start to end). */
  containerMs: number[];
}

/** Run times of the containers that carry `label`, from the engine's own timestamps. */
async function containerTimes(label: string): Promise<number[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: [label] })
  });
  return Promise.all(
    containers.map(async c => {
      const state = (await docker.getContainer(c.Id).inspect()).State;
      return Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
    })
  );
}

const CLI = join(__dirname, '..', 'bin', 'scanflow.js');

/** The workflow as a definition file in a fresh folder, as a user would have it. */
function definition(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-bench-deploy-'));
  const file = join(dir, 'workflow.json');
  writeFileSync(file, JSON.stringify(RUNTIME_WORKFLOW));
  return { dir, file };
}

/** Runs the scanflow CLI; returns its wall-clock time. */
async function cli(args: string[]): Promise<number> {
  const started = performance.now();
  const result = await runCommand(process.execPath, [CLI, ...args]);
  if (result.code !== 0) throw new Error(`scanflow ${args[0]} failed: ${result.stderr}`);
  return performance.now() - started;
}

async function scanflowRun(): Promise<Measure> {
  const { dir, file } = definition();
  try {
    const wallMs = await cli(['run', file, '-e', 'docker', '-j', '3', '-q']);
    return { wallMs, containerMs: [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function composeUp(round: number): Promise<Measure> {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-bench-compose-'));
  const name = `bench-compose-${process.pid}-${round}`;
  try {
    const exported = await exportWorkflow(RUNTIME_WORKFLOW, {
      target: 'compose',
      outDir: dir,
      baseDir: dir,
      name
    });
    const started = performance.now();
    const up = await runCompose(['-p', name, '-f', exported.main, 'up', '-d']);
    if (up.code !== 0) throw new Error(`docker-compose up failed: ${up.stderr}`);
    const filters = JSON.stringify({ label: [`scanflow.deployment=${name}`, 'scanflow.step'] });
    for (;;) {
      const steps = await docker.listContainers({ all: true, filters });
      if (steps.length === 12 && steps.every(c => c.State === 'exited')) break;
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    const wallMs = performance.now() - started;
    const containerMs = await containerTimes(`scanflow.deployment=${name}`);
    return { wallMs, containerMs: containerMs.filter(ms => ms < 60_000) };
  } finally {
    await undeploy(name).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function swarmDeploy(): Promise<Measure> {
  const { dir, file } = definition();
  // The deployment is named after the workflow.
  const name = RUNTIME_WORKFLOW.name;
  try {
    const wallMs = await cli(['deploy', file, '--to', 'swarm', '-q']);
    const containerMs = await containerTimes(`scanflow.deployment=${name}`);
    return { wallMs, containerMs: containerMs.filter(ms => ms < 60_000) };
  } finally {
    await undeploy(name).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

export default async function deploy(args: string[]): Promise<BenchResult> {
  const rounds = Number(args[0] ?? 2);
  // Warm-up: images, the tracker image, Docker's caches.
  await scanflowRun();
  await composeUp(-1);
  await swarmDeploy();
  const run: Measure[] = [];
  const compose: Measure[] = [];
  const swarm: Measure[] = [];
  for (let i = 0; i < rounds; i++) {
    run.push(await scanflowRun());
    compose.push(await composeUp(i));
    swarm.push(await swarmDeploy());
  }
  const wall = (m: Measure[]) => round1(median(m.map(x => x.wallMs)));
  const runWall = wall(run);
  return {
    anchor: { tool: 'scanflow run (docker)', wallMs: runWall },
    ours: {
      compose: {
        wallMs: wall(compose),
        containerMedianMs: round1(median(compose.flatMap(m => m.containerMs)))
      },
      swarm: {
        wallMs: wall(swarm),
        containerMedianMs: round1(median(swarm.flatMap(m => m.containerMs)))
      }
    },
    ratio: {
      compose: Math.round((wall(compose) / runWall) * 100) / 100,
      swarm: Math.round((wall(swarm) / runWall) * 100) / 100
    },
    targets: { compose: 1.2, swarm: 2 },
    rounds,
    steps: 12
  };
}
