/**
 * The MNIST workflow of the seed's use case: prepare the digits, train a classifier, then evaluate
 * it and predict on the production stream side by side. Every step runs the bundled step program
 * (steps.ts, see bundle.ts) in an image built from `scanflow/node:20` plus the bundle's folder: no
 * npm inside images, and one image for all four steps (the same build context, built once).
 */
import { parallel, step, workflow, type WorkflowSpec } from '../../workflow';
import type { SizeName } from './data';

export interface MnistWorkflowOptions {
  size?: SizeName;
  /** The folder holding the bundle, relative to the run's baseDir (default: where bundle.ts puts
   *  it, relative to examples/mnist). */
  context?: string;
  /** The image the bundle is copied onto (default 'scanflow/node:20'). */
  base?: string;
}

export function mnistWorkflow(options: MnistWorkflowOptions = {}): WorkflowSpec {
  const program = (command: string) => ({
    base: options.base ?? 'scanflow/node:20',
    context: options.context ?? '../../lib/demo-build/mnist',
    command: ['node', 'steps.js', command],
    parameters: { size: options.size ?? 'standard' }
  });
  return workflow(
    'mnist',
    [
      step('prepare', { ...program('prepare'), outputs: ['data'] }),
      step('train', {
        ...program('train'),
        inputs: ['data'],
        outputs: ['model'],
        resources: { memory: '2g' }
      }),
      parallel('use', [
        step('evaluate', { ...program('evaluate'), inputs: ['data', 'model'] }),
        step('predict', {
          ...program('predict'),
          inputs: ['data', 'model'],
          outputs: ['predictions']
        })
      ])
    ],
    {
      description:
        'MNIST debugging (the seed use case): prepare digits, train, then evaluate and predict on a production stream.'
    }
  );
}
