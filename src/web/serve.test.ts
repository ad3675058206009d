import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateWebAssets, registerWebRoutes, resolveAsset } from './serve.js';

let root: string;
let app: FastifyInstance;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'assay-web-'));
  await mkdir(join(root, 'static'), { recursive: true });
  await mkdir(join(root, 'client'), { recursive: true });
  await writeFile(join(root, 'static', 'index.html'), '<!doctype html><title>assay</title>');
  await writeFile(join(root, 'static', 'styles.css'), 'body{}');
  await writeFile(join(root, 'static', 'notes.txt'), 'not an asset type');
  await writeFile(join(root, 'client', 'main.js'), 'export {};');
  await writeFile(join(root, 'secret.js'), 'outside the asset folders');
  app = Fastify();
  registerWebRoutes(app, { staticDir: join(root, 'static'), clientDir: join(root, 'client') });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await rm(root, { recursive: true, force: true });
});

describe('web routes', () => {
  it('serves the page at / with a strict content security policy', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<title>assay</title>');
  });

  it('serves assets with their content type and answers 304 to a matching ETag', async () => {
    const css = await app.inject({ method: 'GET', url: '/ui/styles.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    const js = await app.inject({ method: 'GET', url: '/ui/client/main.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const again = await app.inject({ method: 'GET', url: '/ui/styles.css', headers: { 'if-none-match': String(css.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it.each([
    '/ui/../secret.js',
    '/ui/%2e%2e/secret.js',
    '/ui/client/..%2fsecret.js',
    '/ui/client/%2e%2e/%2e%2e/secret.js',
    '/ui/..%5csecret.js',
    '/ui/.hidden.js',
    '/ui/notes.txt',
    '/ui/missing.css',
    '/ui/client/',
    '/ui/static%00.css',
  ])('refuses %s with a 404', async (url) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('outside the asset folders');
  });

  it('explains that the UI is not built when the client is missing', async () => {
    const bare = Fastify();
    registerWebRoutes(bare, { staticDir: join(root, 'static'), clientDir: join(root, 'nowhere') });
    const res = await bare.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await bare.close();
  });
});

describe('resolveAsset', () => {
  it('keeps paths inside the folder', () => {
    expect(resolveAsset('/srv/ui', 'styles.css')).toBe('/srv/ui/styles.css');
    expect(resolveAsset('/srv/ui', 'img/logo.svg')).toBe('/srv/ui/img/logo.svg');
    expect(resolveAsset('/srv/ui', '../etc/passwd.css')).toBeNull();
    expect(resolveAsset('/srv/ui', '/etc/x.css')).toBeNull();
    expect(resolveAsset('/srv/ui', 'a//b.css')).toBeNull();
    expect(resolveAsset('/srv/ui', 'noext')).toBeNull();
  });
});

describe('locateWebAssets', () => {
  it('uses the compiled client beside the module, or the one under dist/ when running from source', async () => {
    const built = join(root, 'dist-like', 'web');
    await mkdir(join(built, 'client'), { recursive: true });
    await mkdir(join(built, 'static'), { recursive: true });
    await writeFile(join(built, 'client', 'main.js'), '');
    expect(locateWebAssets(built)).toEqual({ staticDir: join(built, 'static'), clientDir: join(built, 'client') });
    expect(locateWebAssets('/repo/src/web').clientDir).toBe('/repo/dist/web/client');
  });

  it('uses the assets in dist/web when the module is the bundled command in dist/bundle', async () => {
    const bundle = join(root, 'dist-with-bundle', 'bundle');
    const web = join(root, 'dist-with-bundle', 'web');
    await mkdir(bundle, { recursive: true });
    await mkdir(join(web, 'static'), { recursive: true });
    await mkdir(join(web, 'client'), { recursive: true });
    await writeFile(join(web, 'client', 'main.js'), '');
    expect(locateWebAssets(bundle)).toEqual({ staticDir: join(web, 'static'), clientDir: join(web, 'client') });
  });
});
