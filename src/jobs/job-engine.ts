import type { FileJobContext } from './mirror-files.js';
import type { ChartJobEngine } from './mirror-chart.js';
import type { PluginJobEngine } from './register-plugins.js';

/**
 * What the processors together take from the engine, for the runner and the queue that call them
 * all. The composition root (src/app/engine.ts) builds one object that provides it.
 */
export type JobEngine = ChartJobEngine & FileJobContext['engine'] & PluginJobEngine;
