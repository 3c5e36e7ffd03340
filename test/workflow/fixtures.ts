import { parallel, step, workflow, type StepOptions } from '../../src/workflow';

export const image: StepOptions = { image: 'scanflow/node:20', command: ['node', '-e', '0'] };

/** Three levels: root > train (workflow) > models (parallel) > ensemble (workflow). */
export const nested = workflow('ml', [
  step('fetch', image),
  workflow('train', [
    step('prep', image),
    parallel('models', [
      step('cnn', image),
      workflow('ensemble', [step('trees', image), step('boost', image)]),
      step('mlp', image)
    ]),
    step('pick', image)
  ]),
  parallel('publish', [step('report', image), step('deploy', { ...image, after: ['report'] })])
]);
