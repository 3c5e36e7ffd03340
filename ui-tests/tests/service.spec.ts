/**
 * A workflow with a service, from notebook cells in a real JupyterLab with the tslab kernel: the
 * live graph shows the service running and healthy (with its port) while the steps around it
 * succeed, and stopping the run stops the service; the run has succeeded.
 */
import { expect, test } from '@jupyterlab/galata';

const DEFINE = `import { runWorkflow, service, step, workflow, WorkflowView } from 'scanflow';
const node = (code: string) => ({ image: 'scanflow/node:20', command: ['node', '-e', code] });
const api = workflow('api-demo', [
  step('prepare', node("console.log('data ready')")),
  service('api', {
    ...node("require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.SCANFLOW_SERVICE_PORT), '127.0.0.1')"),
    port: 18321,
    healthcheck: { path: '/health' }
  }),
  step('call', node("fetch(process.env.SCANFLOW_SERVICE_API_URL + '/health').then(r => r.text()).then(t => { if (t !== 'ok') process.exit(1); console.log('the api answered', t) })"))
]);`;

const RUN = `const view = new WorkflowView(api);
const run = runWorkflow(api, { executor: 'local' });
view.follow(run);`;

const STOP = `run.cancel();
const result = await run.done;
console.log(\`run \${result.id}: \${result.status}\`);`;

test('a service is drawn running and healthy between its steps, and stops with the run', async ({
  page
}) => {
  await page.notebook.createNew('service.ipynb', { kernel: 'tslab' });
  await page.notebook.setCell(0, 'code', DEFINE);
  await page.notebook.addCell('code', RUN);
  await page.notebook.addCell('code', STOP);
  await page.notebook.runCell(0);
  await page.notebook.runCell(1);

  const graph = page.locator('.jp-OutputArea-output.jp-ScanflowWorkflow').first();
  const api = graph.locator('g[data-id="api-demo.api"]');
  await expect(api).toHaveClass(/sf-status-ready/);
  await expect(graph.locator('g.sf-step.sf-status-succeeded')).toHaveCount(2);
  await expect(api).toContainText(':18321');
  await graph.screenshot({ path: 'test-results/service-running.png' });

  await page.notebook.runCell(2);
  const printed = page.locator(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stdout"]'
  );
  await expect(printed.filter({ hasText: /run \S+: succeeded/ })).toHaveCount(1);
  await expect(api).toHaveClass(/sf-status-stopped/);
  await graph.screenshot({ path: 'test-results/service-stopped.png' });
});
