/**
 * Validation and flattening of large definitions: `parseWorkflow` + `flatten` + `stages` (ours)
 * against validating the same definition with its JSON schema alone in ajv (the anchor: the least
 * work any validator does). Sizes 50, 500 and 5,000 steps in nested workflows and parallel groups.
 */
import Ajv from 'ajv';
import { performance } from 'node:perf_hooks';
import type { BenchResult } from './run';
import {
  WORKFLOW_SCHEMA,
  flatten,
  parallel,
  parseWorkflow,
  stages,
  step,
  workflow,
  type NodeSpec,
  type WorkflowSpec
} from '../src/workflow';

/** `groups` sub-workflows, each a chain of a parallel group of `width` steps and a join step. */
function wide(steps: number): WorkflowSpec {
  const width = 9;
  const groups = Math.max(1, Math.round(steps / (width + 1)));
  const nodes: NodeSpec[] = [];
  for (let g = 0; g < groups; g++) {
    nodes.push(
      workflow(`stage-${g}`, [
        parallel(
          'fan',
          Array.from({ length: width }, (_, i) =>
            step(`s${i}`, {
              image: 'scanflow/node:20',
              command: ['node', 'x.js'],
              after: i > 0 && i % 3 === 0 ? [`s${i - 1}`] : undefined
            })
          )
        ),
        step('join', { image: 'scanflow/node:20', command: ['node', 'join.js'] })
      ])
    );
  }
  return workflow('big', nodes);
}

function timeIt(repeat: number, body: () => void): number {
  body(); // warm up
  const start = performance.now();
  for (let i = 0; i < repeat; i++) {
    body();
  }
  return (performance.now() - start) / repeat;
}

export default async function bench(): Promise<BenchResult> {
  const validateSchema = new Ajv({ allErrors: true, strict: false }).compile(WORKFLOW_SCHEMA);
  const anchor: Record<string, number> = {};
  const ours: Record<string, number> = {};
  const ratio: Record<string, number> = {};
  for (const size of [50, 500, 5000]) {
    const data = JSON.parse(JSON.stringify(wide(size))) as unknown;
    const repeat = size >= 5000 ? 5 : 50;
    const schemaOnly = timeIt(repeat, () => {
      if (!validateSchema(data)) throw new Error('the benchmark workflow is invalid');
    });
    const full = timeIt(repeat, () => {
      stages(flatten(parseWorkflow(data)));
    });
    anchor[`ms_${size}_steps`] = Number(schemaOnly.toFixed(3));
    ours[`ms_${size}_steps`] = Number(full.toFixed(3));
    ratio[`${size}_steps`] = Number((full / schemaOnly).toFixed(2));
  }
  return {
    anchor: { what: 'ajv schema validation alone', ...anchor },
    ours: { what: 'parseWorkflow + flatten + stages', ...ours },
    ratio
  };
}
