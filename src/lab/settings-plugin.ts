/** Loads the Scanflow settings (schema/settings.json), applies them, and publishes them. */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { trackerServices } from './tracker-renderer';
import { IScanflowSettings, type Executor } from './tokens';
import { graphSettings } from './workflow-renderer';

const EXECUTORS: readonly Executor[] = ['auto', 'docker', 'local'];

/** The current values; the defaults are the schema's, for when the registry cannot load. */
class Settings implements IScanflowSettings {
  trackerUrl = 'http://127.0.0.1:5000';
  trackerToken = '';
  chartTheme = 'auto';
  defaultExecutor: Executor = 'auto';

  apply(loaded: ISettingRegistry.ISettings): void {
    const value = (key: string): unknown => loaded.get(key).composite;
    graphSettings.maxHeight = Number(value('maxGraphHeight')) || 560;
    graphSettings.collapseAbove = Number(value('collapseAbove')) || 0;
    this.trackerUrl = String(value('trackerUrl') ?? this.trackerUrl);
    this.trackerToken = String(value('trackerToken') ?? '');
    this.chartTheme = String(value('chartTheme') ?? 'auto');
    const executor = value('defaultExecutor') as Executor;
    this.defaultExecutor = EXECUTORS.includes(executor) ? executor : 'auto';
    trackerServices.chartTheme = this.chartTheme;
  }
}

export const settings: JupyterFrontEndPlugin<IScanflowSettings> = {
  id: 'scanflow:settings',
  description:
    'Loads the Scanflow settings: graphs, tracker URL and token, chart theme, default executor.',
  autoStart: true,
  requires: [ISettingRegistry],
  provides: IScanflowSettings,
  activate: async (
    _app: JupyterFrontEnd,
    registry: ISettingRegistry
  ): Promise<IScanflowSettings> => {
    const current = new Settings();
    try {
      const loaded = await registry.load('scanflow:settings');
      current.apply(loaded);
      loaded.changed.connect(() => current.apply(loaded));
    } catch (error) {
      console.warn('scanflow: settings could not be loaded; using the defaults', error);
    }
    return current;
  }
};
