// Validates generated Grafana dashboards offline, against schemas derived from Grafana's own
// published types, and writes their PromQL into a Prometheus rules file for `promtool`.
//
//   node validate-grafana.mjs [--promql-rules OUT.json] DASHBOARD.json...
//
// 1. `@grafana/schema` (npm) TypeScript types → JSON Schema with ts-json-schema-generator:
//    `Dashboard`, `Panel`, `RowPanel`. ajv validates the whole dashboard, then every panel on
//    its own. The dashboard and each panel are also checked against Grafana 12's cog-generated
//    schema (`grafana-jsonschema/dashboard.jsonschema.json`).
// 2. Every panel's plugin part against its type's own Grafana 12 schema,
//    `grafana-jsonschema/<type>.jsonschema.json` (cog-generated, see its README): `options`
//    against `Options`, and `fieldConfig.defaults.custom` and every `custom.*` override
//    property against `FieldConfig`. A panel type without a schema file fails, so a new type
//    can't pass unchecked; a schema without `FieldConfig` (stat, bargauge, logs) allows no
//    custom field config. Grafana 12 is the target (`@grafana/schema` on npm is Grafana 13's,
//    whose types differ: its piechart requires `sort`, which Grafana 12's schema does not have).
//    Unknown keys fail: the published schemas close their objects (`additionalProperties:
//    false`), and the validator closes any object schema that lists `properties` but leaves
//    `additionalProperties` unsaid, where draft-07 would let any key through. A stale key such as
//    `options.sort` on a piechart is named with its path.
// 3. Every query target is validated against the data source's query schema
//    (`grafana-jsonschema/{prometheus,loki}.jsonschema.json`, Grafana's cog-generated schemas,
//    since `@grafana/schema` does not publish those two).
// 4. Every LogQL expression is parsed with Grafana's own LogQL grammar (@grafana/lezer-logql).
// 5. Data sources only through `${datasource}`; every `$variable` used is defined; the
//    namespace / target type / target controls exist.
// Exits 1 and prints every problem when anything fails.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import Ajv from 'ajv';
import { parser as logqlParser } from '@grafana/lezer-logql';

const require = createRequire(import.meta.url);
const { createGenerator } = require('ts-json-schema-generator');

const here = dirname(fileURLToPath(import.meta.url));
const rawTypes = join(here, 'node_modules/@grafana/schema/dist/types/raw');
const REQUIRED_VARIABLES = ['datasource', 'namespace', 'target_type', 'target'];
// Values Grafana substitutes before a query reaches the data source.
const MACROS = { __range: '1h', __interval: '1m', __rate_interval: '5m', __auto: '1m' };

const problems = [];
const fail = (where, message) => problems.push(`${where}: ${message}`);

function derive(typesFile, typeName) {
  if (!existsSync(typesFile)) return null;
  const config = { path: typesFile, type: typeName, skipTypeCheck: true, expose: 'export', topRef: true };
  return createGenerator(config).createSchema(typeName);
}

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
const validators = new Map();

function validator(key, build) {
  if (!validators.has(key)) {
    const schema = build();
    validators.set(key, schema ? ajv.compile(schema) : null);
  }
  return validators.get(key);
}

function withRoot(schema, definition) {
  return { ...schema, $id: `${schema.$id ?? 'schema'}#${definition}`, $ref: `#/definitions/${definition}` };
}

const dashboardSchema = derive(join(rawTypes, 'dashboard/x/types.gen.d.ts'), 'Dashboard');
const dashboardTypes = join(rawTypes, 'dashboard/x/types.gen.d.ts');
const panelSchema = derive(dashboardTypes, 'Panel');
const rowPanelSchema = derive(dashboardTypes, 'RowPanel');

function cogSchema(name) {
  const file = join(here, `grafana-jsonschema/${name}.jsonschema.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

// Keywords whose values are maps of subschemas, and keywords whose values are data.
const SCHEMA_MAPS = new Set(['definitions', '$defs', 'properties', 'patternProperties']);
const DATA_KEYWORDS = new Set(['default', 'const', 'enum', 'examples']);

// The schema with every object that lists `properties` closed to other keys. `allOf` branches
// stay as published: closing each would reject the properties of its siblings.
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = {};
  for (const [key, value] of Object.entries(schema)) {
    if (SCHEMA_MAPS.has(key)) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, closed(sub)]));
    } else {
      copy[key] = DATA_KEYWORDS.has(key) || key === 'allOf' ? value : closed(value);
    }
  }
  if (copy.properties && !('additionalProperties' in copy)) copy.additionalProperties = false;
  return copy;
}

const panelTypes = new Map();

// `Options` and `FieldConfig` of a panel type's Grafana 12 schema, closed; a schema without
// `FieldConfig` allows only an empty custom field config. Null when the type has no schema file
// (or the file has no `Options`, so is not a panel type's).
function panelTypeValidators(type) {
  if (!panelTypes.has(type)) {
    const schema = cogSchema(type);
    const strict = schema?.definitions?.Options ? closed(schema) : null;
    const part = (name) => ajv.compile(strict.definitions?.[name]
      ? { ...strict, $ref: `#/definitions/${name}` }
      : { type: 'object', additionalProperties: false });
    panelTypes.set(type, strict && { options: part('Options'), fieldConfig: part('FieldConfig') });
  }
  return panelTypes.get(type);
}

function querySchema(plugin) {
  return validator(`query/${plugin}`, () => cogSchema(plugin));
}

function check(validate, value, where) {
  if (!validate(value)) {
    for (const error of validate.errors) {
      fail(where, `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
    }
  }
}

function substitute(expr) {
  return expr
    .replace(/\$\{?(__\w+)\}?/g, (_, name) => MACROS[name] ?? '1m')
    .replace(/\$\{?(\w+)\}?/g, '.*');
}

function variablesUsed(text) {
  return [...text.matchAll(/\$\{?([A-Za-z_]\w*)/g)].map((match) => match[1]).filter((name) => !name.startsWith('__'));
}

function checkLogql(expr, where) {
  const query = substitute(expr);
  const tree = logqlParser.parse(query);
  const errors = [];
  tree.iterate({ enter: (node) => { if (node.type.isError) errors.push(node.from); } });
  if (errors.length > 0) {
    fail(where, `LogQL does not parse at ${errors[0]}: …${query.slice(Math.max(0, errors[0] - 30), errors[0] + 30)}…`);
  }
}

function checkDatasource(ref, where) {
  if (!ref || ref.uid !== '${datasource}') {
    fail(where, `data source must be picked through the datasource variable, got ${JSON.stringify(ref)}`);
  }
}

// Reports a part of a panel that fails its type's schema, at the dotted path under `base`;
// `wrappers` are the paths of objects built only to reach an override's value, whose missing
// required properties are not the panel's.
function checkPart(validate, value, where, base, wrappers = []) {
  if (validate(value)) return;
  for (const error of validate.errors) {
    if (error.keyword === 'required' && wrappers.includes(error.instancePath)) continue;
    const unknown = error.keyword === 'additionalProperties';
    const key = unknown ? `/${error.params.additionalProperty}` : '';
    const path = base + `${error.instancePath}${key}`.replaceAll('/', '.');
    const detail = unknown ? 'unknown key' : JSON.stringify(error.params);
    fail(where, `${path} ${error.message} (${detail})`);
  }
}

// The panel's `options`, custom field config and `custom.*` overrides against its type's schema.
function checkPanelType(panel, where) {
  const schemas = panelTypeValidators(panel.type);
  if (!schemas) {
    fail(where, `no schema for panel type ${panel.type}: copy Grafana 12's ${panel.type}.jsonschema.json into tests/dashboards/grafana-jsonschema/`);
    return;
  }
  const against = `${where} against ${panel.type}.jsonschema.json`;
  checkPart(schemas.options, panel.options ?? {}, against, 'options');
  const custom = panel.fieldConfig?.defaults?.custom;
  if (custom !== undefined) checkPart(schemas.fieldConfig, custom, against, 'fieldConfig.defaults.custom');
  (panel.fieldConfig?.overrides ?? []).forEach((override, index) => {
    for (const property of override.properties ?? []) {
      if (!property.id?.startsWith('custom.')) continue;
      const names = property.id.split('.').slice(1);
      const value = names.reduceRight((inner, name) => ({ [name]: inner }), property.value);
      const wrappers = names.map((_, depth) => names.slice(0, depth).map((name) => `/${name}`).join(''));
      checkPart(schemas.fieldConfig, value, against, `fieldConfig.overrides[${index}].custom`, wrappers);
    }
  });
}

function checkPanel(panel, where, variables, rules) {
  const isRow = panel.type === 'row';
  check(validator(isRow ? 'RowPanel' : 'Panel', () => (isRow ? rowPanelSchema : panelSchema)), panel, where);
  if (isRow) return;
  check(validator('cog/Panel', () => withRoot(cogSchema('dashboard'), 'Panel')), panel, `${where} (Grafana 12 schema)`);
  checkDatasource(panel.datasource, `${where} datasource`);
  checkPanelType(panel, where);
  if (!panel.targets?.length) fail(where, 'no query targets');
  for (const target of panel.targets ?? []) {
    const at = `${where} target ${target.refId}`;
    const plugin = target.datasource?.type;
    checkDatasource(target.datasource, at);
    const schema = querySchema(plugin);
    if (!schema) { fail(at, `unknown data source type ${plugin}`); continue; }
    check(schema, target, at);
    for (const name of variablesUsed(target.expr ?? '')) {
      if (!variables.has(name)) fail(at, `uses undefined variable $${name}`);
    }
    if (plugin === 'loki') checkLogql(target.expr, at);
    if (plugin === 'prometheus') {
      rules.push({ record: `dashboard:panel${panel.id}_${target.refId}:expr`, expr: substitute(target.expr) });
    }
  }
}

function checkDashboard(file, rules) {
  let dashboard;
  try {
    dashboard = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    fail(file, `not JSON: ${error.message}`);
    return;
  }
  check(validator('Dashboard', () => dashboardSchema), dashboard, file);
  check(validator('cog/Dashboard', () => cogSchema('dashboard')), dashboard, `${file} (Grafana 12 schema)`);
  const variables = new Set((dashboard.templating?.list ?? []).map((variable) => variable.name));
  for (const name of REQUIRED_VARIABLES) {
    if (!variables.has(name)) fail(file, `missing template variable ${name}`);
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.datasource) checkDatasource(variable.datasource, `${file} variable ${variable.name}`);
  }
  const ids = new Set();
  for (const panel of dashboard.panels ?? []) {
    const where = `${file} panel ${panel.id} "${panel.title}" (${panel.type})`;
    if (ids.has(panel.id)) fail(where, 'duplicate panel id');
    ids.add(panel.id);
    const { x, w } = panel.gridPos ?? {};
    if (!(x >= 0 && w > 0 && x + w <= 24)) fail(where, `gridPos outside the 24 columns: ${JSON.stringify(panel.gridPos)}`);
    checkPanel(panel, where, variables, rules);
  }
  console.log(`${file}: ${dashboard.panels?.length ?? 0} panels checked`);
}

const args = process.argv.slice(2);
let rulesFile = null;
const files = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--promql-rules') rulesFile = args[(i += 1)];
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error('usage: node validate-grafana.mjs [--promql-rules OUT.json] DASHBOARD.json...');
  process.exit(2);
}
const rules = [];
for (const file of files) checkDashboard(file, rules);
if (rulesFile) {
  writeFileSync(rulesFile, JSON.stringify({ groups: [{ name: 'mirrord-usage-dashboards', rules }] }, null, 2));
  console.log(`${rulesFile}: ${rules.length} PromQL expressions for promtool`);
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log('Grafana dashboards valid');
