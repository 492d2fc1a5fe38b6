// `npm run docs:settings`: each service README's settings table, made again from its config.ts.
import { writeSettingsReadmes } from '../cli/settings-docs.ts';

const written = writeSettingsReadmes();
console.log(written.length ? `wrote ${written.join(', ')}` : 'settings tables are up to date');
