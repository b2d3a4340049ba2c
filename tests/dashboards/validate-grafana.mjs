// Validates generated Grafana dashboards offline, against schemas derived from Grafana's own
// published types, and writes their PromQL into a Prometheus rules file for `promtool`.
//
//   node validate-grafana.mjs [--promql-rules OUT.json] DASHBOARD.json...
//
// 1. `@grafana/schema` (npm) TypeScript types → JSON Schema with ts-json-schema-generator:
//    `Dashboard`, `Panel`, `RowPanel`, and each panel plugin's `Options` / `FieldConfig`.
// 2. ajv validates the whole dashboard, then every panel on its own, its options and its
//    custom field config against the panel plugin's schema.
//    The dashboard and each panel are also checked against Grafana 12's cog-generated schema
//    (`grafana-jsonschema/dashboard.jsonschema.json`).
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

function panelPluginValidator(type, typeName) {
  return validator(`${type}/${typeName}`, () =>
    derive(join(rawTypes, `composable/${type}/panelcfg/x/types.gen.d.ts`), typeName));
}

function cogSchema(name) {
  return JSON.parse(readFileSync(join(here, `grafana-jsonschema/${name}.jsonschema.json`), 'utf8'));
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

function checkPanel(panel, where, variables, rules) {
  const isRow = panel.type === 'row';
  check(validator(isRow ? 'RowPanel' : 'Panel', () => (isRow ? rowPanelSchema : panelSchema)), panel, where);
  if (isRow) return;
  check(validator('cog/Panel', () => withRoot(cogSchema('dashboard'), 'Panel')), panel, `${where} (Grafana 12 schema)`);
  checkDatasource(panel.datasource, `${where} datasource`);
  const options = panelPluginValidator(panel.type, 'Options');
  if (options === null) fail(where, `no published schema for panel type ${panel.type}`);
  else check(options, panel.options ?? {}, `${where} options`);
  const custom = panel.fieldConfig?.defaults?.custom;
  if (custom !== undefined) {
    const fieldConfig = panelPluginValidator(panel.type, 'FieldConfig');
    if (fieldConfig === null) fail(where, `panel type ${panel.type} has no custom field config`);
    else check(fieldConfig, custom, `${where} fieldConfig.defaults.custom`);
  }
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
    const where = `${file} panel ${panel.id} "${panel.title}"`;
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
