/**
 * The entry point of the tracker image (scanflow/tracker): `scanflow tracker` and nothing else,
 * bundled into one file at build time (scripts/bundle-programs.mjs) so that the image needs no npm.
 *
 *   node scanflow-tracker.js tracker --host 0.0.0.0 --store /scanflow/tracker/tracker.db --deployment
 */
import { runStandalone } from '../cli/standalone';
import { registerTrackerCommands } from '../cli/tracker';

runStandalone(registerTrackerCommands);
