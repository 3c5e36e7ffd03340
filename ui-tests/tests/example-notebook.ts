import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { join } from 'node:path';

/** Uploads one of examples/notebooks into the test's folder, opens it and makes it current. */
export async function openExampleNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string
): Promise<void> {
  await page.contents.uploadFile(
    join(__dirname, '..', '..', 'examples', 'notebooks', name),
    `${tmpPath}/${name}`
  );
  await page.notebook.openByPath(`${tmpPath}/${name}`);
  await page.notebook.activate(name);
}
