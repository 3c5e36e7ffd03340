import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

/**
 * Dismisses every browser dialog (alert, confirm) the page opens and collects their messages: a
 * spec expects none, as one would mean that script injected through a rendered name ran.
 */
export function dismissedDialogs(page: IJupyterLabPageFixture): string[] {
  const messages: string[] = [];
  page.on('dialog', dialog => {
    messages.push(dialog.message());
    void dialog.dismiss();
  });
  return messages;
}
