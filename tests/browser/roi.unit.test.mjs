// Unit tests of the ROI arithmetic (web/src/roi.ts), compiled on the fly with esbuild.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const { outputFiles } = buildSync({
  entryPoints: [join(here, '../../web/src/roi.ts')],
  bundle: true,
  format: 'esm',
  write: false,
  platform: 'neutral',
});
const file = join(mkdtempSync(join(tmpdir(), 'mirrord-usage-roi-')), 'roi.mjs');
writeFileSync(file, outputFiles[0].text);
const roi = await import(pathToFileURL(file).href);

const base = {
  developers: 10,
  costMode: 'salary',
  annualSalary: 150_000,
  hourlyRate: 0,
  cyclesPerDay: 4,
  minutesSavedPerCycle: 15,
  stagingEnvironments: 2,
  stagingCost: 1_500,
  stagingCostPeriod: 'monthly',
  annualLicenseCost: 12_000,
};

test('the documented example: 10 developers, 4 cycles of 15 minutes, 2 staging environments', () => {
  const r = roi.computeRoi(base);
  assert.equal(r.hourlyRate, 150_000 / 1_920);
  assert.equal(r.hoursSavedPerDeveloperPerWeek, 5);
  assert.equal(r.fasterDeliveryPercent, 12.5);
  assert.equal(r.annualTeamHoursSaved, 2_400);
  assert.equal(r.annualProductivitySavings, 187_500);
  assert.equal(r.annualInfrastructureSavings, 36_000);
  assert.equal(r.totalAnnualSavings, 223_500);
  assert.equal(r.netAnnualRoi, 211_500);
  assert.equal(r.returnMultiple, 223_500 / 12_000);
  assert.equal(r.capped, false);
});

test('an hourly rate is used as typed, and salary and rate convert both ways', () => {
  const r = roi.computeRoi({ ...base, costMode: 'hourly', hourlyRate: 100, annualSalary: 1 });
  assert.equal(r.hourlyRate, 100);
  assert.equal(r.annualProductivitySavings, 240_000);
  assert.equal(roi.salaryFromHourly(100), 192_000);
  assert.equal(roi.hourlyFromSalary(192_000), 100);
});

test('annual staging cost is not multiplied by twelve', () => {
  const r = roi.computeRoi({ ...base, stagingCostPeriod: 'annual', stagingCost: 20_000, stagingEnvironments: 3 });
  assert.equal(r.annualInfrastructureSavings, 60_000);
});

test('saved time is capped at a working week', () => {
  const r = roi.computeRoi({ ...base, cyclesPerDay: 40, minutesSavedPerCycle: 60 });
  assert.equal(r.hoursSavedPerDeveloperPerWeek, 40);
  assert.equal(r.fasterDeliveryPercent, 100);
  assert.equal(r.capped, true);
});

test('no license cost: net ROI is the savings and there is no multiple', () => {
  const r = roi.computeRoi({ ...base, annualLicenseCost: 0 });
  assert.equal(r.netAnnualRoi, r.totalAnnualSavings);
  assert.equal(r.returnMultiple, null);
});

test('negative or missing numbers count as zero', () => {
  const r = roi.computeRoi({ ...base, developers: -5, cyclesPerDay: Number.NaN, stagingEnvironments: -1, annualLicenseCost: -10 });
  assert.equal(r.annualTeamHoursSaved, 0);
  assert.equal(r.hoursSavedPerDeveloperPerWeek, 0);
  assert.equal(r.annualInfrastructureSavings, 0);
  assert.equal(r.netAnnualRoi, 0);
});

test('measured inputs: active users, and the median daily sessions rounded to a half', () => {
  assert.deepEqual(roi.measuredInputs(14, [1.2, 3.9, 2.6]), { developers: 14, cyclesPerDay: 2.5 });
  assert.deepEqual(roi.measuredInputs(3, [1, 2, 3, 4]), { developers: 3, cyclesPerDay: 2.5 });
  assert.deepEqual(roi.measuredInputs(2, [0.2]), { developers: 2, cyclesPerDay: 1 });
  assert.deepEqual(roi.measuredInputs(0, []), { developers: null, cyclesPerDay: null });
});
