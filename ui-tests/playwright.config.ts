/**
 * Galata (Playwright) against the JupyterLab that test/ui/ui.test.ts starts (SCANFLOW_UI_URL),
 * driving Debian's Chromium (Playwright's own browsers cannot be downloaded here). Video off: it
 * needs Playwright's ffmpeg.
 */
import galata from '@jupyterlab/galata/lib/playwright-config';
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';

const base = galata as unknown as PlaywrightTestConfig;

export default defineConfig({
  ...base,
  testDir: './tests',
  outputDir: './test-results',
  reporter: [['list']],
  workers: 1,
  retries: 0,
  timeout: 240_000,
  expect: { timeout: 60_000 },
  use: {
    ...base.use,
    baseURL: process.env.SCANFLOW_UI_URL ?? 'http://127.0.0.1:8888',
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.SCANFLOW_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  }
});
