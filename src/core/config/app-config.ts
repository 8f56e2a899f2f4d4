import { EnvironmentVariables, validateEnvironment } from './env.schema';

/** The validated configuration, injectable everywhere as `AppConfig`. */
export abstract class AppConfig extends EnvironmentVariables {}

let loaded: EnvironmentVariables | undefined;

/**
 * Validates `process.env` once per process. Module definitions that depend on
 * the role (which processors exist) call this at import time.
 */
export function loadConfig(): EnvironmentVariables {
  loaded ??= validateEnvironment(process.env);
  return loaded;
}

/** Tests that change the environment between app instances reload explicitly. */
export function reloadConfig(): EnvironmentVariables {
  loaded = undefined;
  return loadConfig();
}

export const isWorkerRole = (config: EnvironmentVariables) => config.APP_ROLE !== 'api';
export const isApiRole = (config: EnvironmentVariables) => config.APP_ROLE !== 'worker';
