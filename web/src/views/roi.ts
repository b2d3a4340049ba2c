// ROI Calculator: inputs on the left (pre-filled from measured usage where that makes sense),
// results on the right, and the arithmetic spelled out with the numbers in use.

import { h, replaceChildren, type Child } from '../dom';
import { panel } from '../components';
import { formatDecimal, formatHours, formatInt, formatMoney, formatPercent } from '../format';
import { icon } from '../icons';
import { rangePhrase } from '../range';
import {
  computeRoi,
  DEFAULT_INPUTS,
  HOURS_PER_WEEK,
  hourlyFromSalary,
  measuredInputs,
  salaryFromHourly,
  WORK_DAYS_PER_WEEK,
  WORK_WEEKS_PER_YEAR,
  type RoiInputs,
  type RoiResult,
} from '../roi';
import type { ViewContext } from './context';
import { isCiUser } from '../components';

const STORAGE = 'mirrord-usage.roi';

function loadEdits(): Partial<RoiInputs> {
  try {
    return JSON.parse(localStorage.getItem(STORAGE) ?? '{}') as Partial<RoiInputs>;
  } catch {
    return {};
  }
}

function saveEdits(edits: Partial<RoiInputs>): void {
  try {
    localStorage.setItem(STORAGE, JSON.stringify(edits));
  } catch {
    /* storage disabled */
  }
}

export function renderRoi(ctx: ViewContext): Child {
  const users = ctx.usage.userMetrics.filter((u) => !isCiUser(u));
  const measured = measuredInputs(ctx.usage.periodMetrics.activeUsers, users.map((u) => u.averageDailySessions));
  const defaults: RoiInputs = {
    ...DEFAULT_INPUTS,
    developers: measured.developers ?? DEFAULT_INPUTS.developers,
    cyclesPerDay: measured.cyclesPerDay ?? DEFAULT_INPUTS.cyclesPerDay,
  };
  let edits = loadEdits();
  let inputs: RoiInputs = { ...defaults, ...edits };

  const results = h('div', { class: 'roi-results', 'aria-live': 'polite' });
  const explain = h('ol', { class: 'math' });
  const form = h('form', { class: 'roi-form', onsubmit: (e: Event) => e.preventDefault() });

  const set = <K extends keyof RoiInputs>(key: K, value: RoiInputs[K]) => {
    inputs = { ...inputs, [key]: value };
    edits = { ...edits, [key]: value };
    saveEdits(edits);
    recompute();
  };

  const numberField = (props: { id: string; key: keyof RoiInputs; label: string; hint?: Child; step?: string; prefix?: string; suffix?: string; min?: string }) => {
    const input = h('input', {
      id: props.id,
      class: 'input',
      type: 'number',
      inputmode: 'decimal',
      min: props.min ?? '0',
      step: props.step ?? '1',
      value: String(inputs[props.key]),
      'aria-describedby': props.hint ? `${props.id}-hint` : undefined,
      oninput: (e: Event) => {
        const value = (e.target as HTMLInputElement).valueAsNumber;
        set(props.key, (Number.isFinite(value) ? value : 0) as never);
      },
    });
    return h('div', { class: 'field' },
      h('label', { for: props.id }, props.label),
      h('div', { class: 'input-affix' },
        props.prefix ? h('span', { class: 'affix' }, props.prefix) : null,
        input,
        props.suffix ? h('span', { class: 'affix' }, props.suffix) : null),
      props.hint ? h('p', { class: 'hint', id: `${props.id}-hint` }, props.hint) : null,
    );
  };

  const segmented = <K extends 'costMode' | 'stagingCostPeriod'>(key: K, legend: string, options: Array<[RoiInputs[K], string]>, onChange: (v: RoiInputs[K]) => void) =>
    h('fieldset', { class: 'segmented' },
      h('legend', { class: 'visually-hidden' }, legend),
      options.map(([value, label]) => {
        const id = `roi-${key}-${value}`;
        return [
          h('input', { type: 'radio', id, name: `roi-${key}`, value: String(value), checked: inputs[key] === value, onchange: () => onChange(value) }),
          h('label', { for: id }, label),
        ];
      }),
    );

  const measuredHint = (value: number | null, what: string, key: keyof RoiInputs) =>
    value === null
      ? null
      : h('span', null, `Measured: ${formatDecimal(value)} ${what} (${rangePhrase(ctx.range)}). `,
          inputs[key] !== value
            ? h('button', { type: 'button', class: 'link-button', onclick: () => { set(key, value as never); renderForm(); } }, 'Use measured value')
            : null);

  const renderForm = () => {
    const costField =
      inputs.costMode === 'salary'
        ? numberField({ id: 'roi-cost', key: 'annualSalary', label: 'Annual salary per developer', prefix: '$', step: '1000', hint: `Fully loaded cost. ${formatMoney(hourlyFromSalary(inputs.annualSalary), 2)} per working hour.` })
        : numberField({ id: 'roi-cost', key: 'hourlyRate', label: 'Hourly rate per developer', prefix: '$', step: '1', hint: `${formatMoney(salaryFromHourly(inputs.hourlyRate))} per year.` });
    replaceChildren(form,
      numberField({ id: 'roi-developers', key: 'developers', label: 'Number of developers', hint: measuredHint(measured.developers, 'active developers', 'developers') }),
      h('div', { class: 'field' },
        h('span', { class: 'field-label', id: 'roi-cost-mode-label' }, 'Developer cost'),
        segmented('costMode', 'Developer cost as', [['salary', 'Annual salary'], ['hourly', 'Hourly rate']], (mode) => {
          // Carry the amount across, so switching is a change of unit, not of cost.
          if (mode === 'hourly') set('hourlyRate', Math.round(hourlyFromSalary(inputs.annualSalary) * 100) / 100);
          else set('annualSalary', Math.round(salaryFromHourly(inputs.hourlyRate)));
          set('costMode', mode);
          renderForm();
        })),
      costField,
      numberField({ id: 'roi-cycles', key: 'cyclesPerDay', label: 'Deploy/test cycles per developer per day', step: '0.5', hint: measuredHint(measured.cyclesPerDay, 'sessions per developer per active day', 'cyclesPerDay') }),
      numberField({ id: 'roi-minutes', key: 'minutesSavedPerCycle', label: 'Minutes saved per cycle', suffix: 'min', hint: 'Build, push and roll out to a shared cluster, against running locally with mirrord.' }),
      h('details', { class: 'infra', open: inputs.stagingEnvironments > 0 },
        h('summary', null, 'Infrastructure savings'),
        numberField({ id: 'roi-staging', key: 'stagingEnvironments', label: 'Staging environments removed' }),
        h('div', { class: 'field' },
          h('span', { class: 'field-label' }, 'Cost per environment'),
          segmented('stagingCostPeriod', 'Environment cost per', [['monthly', 'Monthly'], ['annual', 'Annual']], (period) => set('stagingCostPeriod', period))),
        numberField({ id: 'roi-staging-cost', key: 'stagingCost', label: 'Cost per environment', prefix: '$', step: '100' }),
      ),
      numberField({ id: 'roi-license', key: 'annualLicenseCost', label: 'Annual mirrord license cost', prefix: '$', step: '100', hint: 'From your contract; net ROI subtracts it.' }),
      h('button', { type: 'button', class: 'button button-ghost', onclick: () => { edits = {}; saveEdits(edits); inputs = { ...defaults }; renderForm(); recompute(); } }, icon('sync'), 'Reset to measured values'),
    );
  };

  const output = (id: string, label: string, value: string, raw: number | null, note?: Child, big = false) =>
    h('div', { class: `result ${big ? 'result-big' : ''}`.trim(), 'data-output': id },
      h('span', { class: 'result-label' }, label),
      h('span', { class: 'result-value', 'data-raw': raw === null ? '' : String(raw) }, value),
      note ? h('span', { class: 'result-note' }, note) : null);

  const recompute = () => {
    const r = computeRoi(inputs);
    replaceChildren(results,
      output('net-roi', 'Net annual ROI', formatMoney(r.netAnnualRoi), r.netAnnualRoi,
        r.returnMultiple === null ? 'Enter the license cost to subtract it.' : `${formatDecimal(r.returnMultiple)}× the license cost`, true),
      h('div', { class: 'result-grid' },
        output('hours-per-week', 'Hours saved per developer per week', formatHours(r.hoursSavedPerDeveloperPerWeek), r.hoursSavedPerDeveloperPerWeek,
          r.capped ? 'Capped at a full working week.' : undefined),
        output('faster-delivery', 'Faster delivery', formatPercent(r.fasterDeliveryPercent), r.fasterDeliveryPercent, 'of the working week back'),
        output('productivity', 'Annual productivity savings', formatMoney(r.annualProductivitySavings), r.annualProductivitySavings,
          h('span', { 'data-output': 'team-hours', 'data-raw': String(r.annualTeamHoursSaved) }, `${formatInt(r.annualTeamHoursSaved)} team hours`)),
        output('infrastructure', 'Annual infrastructure savings', formatMoney(r.annualInfrastructureSavings), r.annualInfrastructureSavings),
      ),
    );
    replaceChildren(explain, mathLines(inputs, r));
  };

  renderForm();
  recompute();

  return h('div', { class: 'roi-layout', 'data-section': 'roi' },
    panel({ id: 'roi-inputs', title: 'Your team', subtitle: 'Pre-filled from measured usage; every field can be changed and is remembered in this browser.' }, form),
    h('div', { class: 'roi-side' },
      panel({ id: 'roi-results', title: 'Estimated savings', className: 'panel-accent' }, results),
      panel({ id: 'roi-math', title: 'How this is calculated', subtitle: `Assumes ${WORK_DAYS_PER_WEEK}-day, ${HOURS_PER_WEEK}-hour weeks and ${WORK_WEEKS_PER_YEAR} working weeks a year.` }, explain),
    ),
  );
}

function mathLines(i: RoiInputs, r: RoiResult): Child {
  const line = (label: string, formula: string, result: string) =>
    h('li', null, h('span', { class: 'math-label' }, label), h('code', null, formula), h('span', { class: 'math-result' }, `= ${result}`));
  const staging = i.stagingCostPeriod === 'monthly' ? `${formatMoney(i.stagingCost)} × 12` : formatMoney(i.stagingCost);
  return [
    line('Hourly rate', i.costMode === 'salary' ? `${formatMoney(i.annualSalary)} ÷ (${HOURS_PER_WEEK} h × ${WORK_WEEKS_PER_YEAR} weeks)` : 'as entered', formatMoney(r.hourlyRate, 2)),
    line('Hours saved / developer / week', `${formatDecimal(i.cyclesPerDay)} cycles × ${formatDecimal(i.minutesSavedPerCycle)} min × ${WORK_DAYS_PER_WEEK} days ÷ 60${r.capped ? `, capped at ${HOURS_PER_WEEK}` : ''}`, formatHours(r.hoursSavedPerDeveloperPerWeek)),
    line('Faster delivery', `${formatDecimal(r.hoursSavedPerDeveloperPerWeek)} h ÷ ${HOURS_PER_WEEK} h`, formatPercent(r.fasterDeliveryPercent)),
    line('Team hours per year', `${formatDecimal(r.hoursSavedPerDeveloperPerWeek)} h × ${WORK_WEEKS_PER_YEAR} weeks × ${formatInt(i.developers)} developers`, `${formatInt(r.annualTeamHoursSaved)} h`),
    line('Productivity savings', `${formatInt(r.annualTeamHoursSaved)} h × ${formatMoney(r.hourlyRate, 2)}`, formatMoney(r.annualProductivitySavings)),
    line('Infrastructure savings', `${formatInt(i.stagingEnvironments)} environments × ${staging}`, formatMoney(r.annualInfrastructureSavings)),
    line('Net annual ROI', `${formatMoney(r.totalAnnualSavings)} − ${formatMoney(i.annualLicenseCost)} license`, formatMoney(r.netAnnualRoi)),
  ];
}
