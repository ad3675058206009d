import { describe, expect, it } from 'vitest';
import { checkBind, InsecureBindError, isLoopbackHost } from './bind.js';

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'app.localhost', '::ffff:127.0.0.1'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', 'localhost.example.com', ''])('%s is not', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('checkBind', () => {
  it('refuses a non-loopback address without keys unless told it is fine', () => {
    expect(() => checkBind({ host: '0.0.0.0', keysExist: false, insecureNoAuth: false })).toThrow(InsecureBindError);
    expect(() => checkBind({ host: '0.0.0.0', keysExist: false, insecureNoAuth: false })).toThrow(/--insecure-no-auth/);
    expect(() => checkBind({ host: '0.0.0.0', keysExist: true, insecureNoAuth: false })).not.toThrow();
    expect(() => checkBind({ host: '0.0.0.0', keysExist: false, insecureNoAuth: true })).not.toThrow();
    expect(() => checkBind({ host: '127.0.0.1', keysExist: false, insecureNoAuth: false })).not.toThrow();
  });
});
