// `npm run config-doc`: writes docs/CONFIG.md from config/schema.ts (see config/reference.ts). Imports config/reference.ts and node builtins.
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../config/reference.ts';

const file = new URL('../docs/CONFIG.md', import.meta.url);
writeFileSync(file, renderConfigReference());
process.stdout.write(`wrote ${file.pathname}\n`);
