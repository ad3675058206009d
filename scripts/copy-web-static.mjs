// Copies the web UI's static files (index.html, styles.css) next to the compiled client in dist/.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../src/web/static/', import.meta.url);
const to = new URL('../dist/web/static/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
