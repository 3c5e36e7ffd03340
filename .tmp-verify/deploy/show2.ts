import { stringify } from 'yaml';
import { loadWorkflow } from '../../src/cli/load';
import { planDeployment } from '../../src/deploy/plan';
import { renderKubernetes } from '../../src/deploy/k8s';
const spec = loadWorkflow('examples/hello/workflow.ts');
const plan = planDeployment(spec, { target: 'k8s', baseDir: 'examples/hello', trackerImage: 'scanflow/tracker:test', name: 'sim' });
console.log(renderKubernetes(plan, { token: 't', flavor: 'jobs' }).map(m => stringify(m)).join('---\n'));
