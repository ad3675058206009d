import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_BYTES } from '../datasets/ingest.js';
import { REQUEST_LIMITS } from '../domain/job-request.js';
import { DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_MAX_STEPS } from '../templates/compile.js';
import { DEFAULT_LIMITS, loadConfig } from './config.js';

describe('security settings', () => {
  it('default to the limits the modules apply on their own', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ ...REQUEST_LIMITS, maxLineBytes: DEFAULT_MAX_LINE_BYTES, maxRenderSteps: DEFAULT_MAX_STEPS, maxRenderChars: DEFAULT_MAX_OUTPUT_CHARS });
    const config = loadConfig({});
    expect(config).toMatchObject({ insecureNoAuth: false, apiKeyCacheMs: 10_000, allowedHosts: [], rateLimitRpm: 600, rateLimitBurst: 100, requestLog: 'errors' });
    expect(config.limits).toEqual(DEFAULT_LIMITS);
  });

  it('reads them from the environment', () => {
    const config = loadConfig({
      ASSAY_INSECURE_NO_AUTH: 'true',
      ASSAY_API_KEY_CACHE_SECONDS: '0',
      ASSAY_ALLOWED_HOSTS: ' vLLM.internal , 10.1.2.0/24,::1,fd00::/8 ',
      ASSAY_RATE_LIMIT_RPM: '0',
      ASSAY_REQUEST_LOG: 'all',
      ASSAY_MAX_UPLOAD_BYTES: '1000',
      ASSAY_MAX_JSON_DEPTH: '8',
    });
    expect(config).toMatchObject({ insecureNoAuth: true, apiKeyCacheMs: 0, rateLimitRpm: 0, requestLog: 'all' });
    expect(config.allowedHosts).toEqual(['vllm.internal', '10.1.2.0/24', '::1', 'fd00::/8']);
    expect(config.limits).toMatchObject({ maxUploadBytes: 1000, maxJsonDepth: 8, maxRows: DEFAULT_LIMITS.maxRows });
  });

  it('refuses values that make no sense, naming the variable', () => {
    expect(() => loadConfig({ ASSAY_ALLOWED_HOSTS: '10.0.0.0/33' })).toThrow(/ASSAY_ALLOWED_HOSTS: "10.0.0.0\/33"/);
    expect(() => loadConfig({ ASSAY_ALLOWED_HOSTS: 'http://x/' })).toThrow(/ASSAY_ALLOWED_HOSTS/);
    expect(() => loadConfig({ ASSAY_REQUEST_LOG: 'verbose' })).toThrow(/ASSAY_REQUEST_LOG must be off, errors or all/);
    expect(() => loadConfig({ ASSAY_LOG_LEVEL: 'loud' })).toThrow('ASSAY_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
    expect(loadConfig({ ASSAY_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(() => loadConfig({ ASSAY_RATE_LIMIT_RPM: '-1' })).toThrow(/ASSAY_RATE_LIMIT_RPM/);
    expect(() => loadConfig({ ASSAY_MAX_BODY_BYTES: '10' })).toThrow(/ASSAY_MAX_BODY_BYTES must be an integer >= 1024/);
    expect(() => loadConfig({ PORT: '99999' })).toThrow('PORT must be a port number from 0 to 65535, got "99999"');
    expect(() => loadConfig({ PORT: 'http' })).toThrow('PORT must be an integer >= 0, got "http"');
    expect(loadConfig({ PORT: '65535' }).port).toBe(65_535);
  });
});
