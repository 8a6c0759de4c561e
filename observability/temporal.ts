/**
 * The Temporal SDK's runtime logs through pino at WARN (LW_TEMPORAL_LOG_LEVEL),
 * core (Rust) logs forwarded to the same logger. Call before anything connects
 * to Temporal or creates a worker: the runtime is installed once per process.
 */
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';

import { setting } from '../lib/config';
import { logger, PinoTemporalLogger, temporalLogLevel } from './logger';

let installed = false;

export function installTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  const level = temporalLogLevel();
  const metricsAddress = setting('LW_TEMPORAL_SDK_METRICS_ADDRESS');
  Runtime.install({
    logger: new PinoTemporalLogger(logger.child({ component: 'temporal' }), level),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} },
      // The SDK's own worker metrics (slots, poll latency, schedule-to-start) when asked for.
      ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress } } } : {}),
    },
  });
}
