/**
 * The API reference page: Scalar's API reference (`@scalar/api-reference`, its standalone browser bundle from
 * node_modules), served by the API itself with the document it renders, so the page works offline and behind
 * a firewall – no CDN, no web fonts, no proxy, nothing fetched beyond this origin.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Where the page loads the bundle from (a route of this API). */
export const REFERENCE_SCRIPT_PATH = '/v1/reference/scalar.js';

/** Scalar's settings: the document of this origin, its own fonts and outside services off. */
const CONFIGURATION = {
  url: '/v1/openapi.json',
  withDefaultFonts: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
};

let bundle: string | null = null;

/** The standalone bundle (about 5 MB), read once. */
export function referenceScript(): string {
  if (bundle === null) {
    const entry = require.resolve('@scalar/api-reference'); // …/dist/index.js
    bundle = fs.readFileSync(path.join(path.dirname(entry), 'browser', 'standalone.js'), 'utf8');
  }
  return bundle;
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/</g, '&lt;');

export function referencePage(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${attr(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<script id="api-reference" data-configuration='${attr(JSON.stringify(CONFIGURATION))}'></script>
<script src="${REFERENCE_SCRIPT_PATH}"></script>
</body></html>`;
}
