import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { openapiYaml } from './document.ts';

export const openapiPath = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));

await writeFile(openapiPath, await openapiYaml());
console.log(`wrote ${openapiPath}`);
