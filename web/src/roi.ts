// The ROI calculator's arithmetic, kept pure so it can be unit-tested and explained on screen.
//
// Every saving comes from one idea: each deploy/test cycle a developer runs against the cluster
// through mirrord instead of building, pushing and deploying saves some minutes. The formulas:
//
//   hourly rate          = annual salary ÷ (HOURS_PER_WEEK × WORK_WEEKS_PER_YEAR)   (or typed in)
//   hours saved / dev / week = cycles per day × minutes saved per cycle × WORK_DAYS_PER_WEEK ÷ 60
//                              (capped at HOURS_PER_WEEK)
//   faster delivery %    = hours saved per week ÷ HOURS_PER_WEEK × 100
//   team hours per year  = hours saved / dev / week × WORK_WEEKS_PER_YEAR × developers
//   productivity savings = team hours per year × hourly rate
//   infrastructure       = staging environments removed × cost per environment per year
//                          (a monthly cost × 12)
//   net annual ROI       = productivity savings + infrastructure − annual license cost
//   return multiple      = (productivity savings + infrastructure) ÷ annual license cost

export const WORK_DAYS_PER_WEEK = 5;
export const HOURS_PER_WEEK = 40;
export const WORK_WEEKS_PER_YEAR = 48;

export type CostMode = 'salary' | 'hourly';
export type CostPeriod = 'monthly' | 'annual';

export interface RoiInputs {
  developers: number;
  costMode: CostMode;
  annualSalary: number;
  hourlyRate: number;
  cyclesPerDay: number;
  minutesSavedPerCycle: number;
  stagingEnvironments: number;
  stagingCost: number;
  stagingCostPeriod: CostPeriod;
  annualLicenseCost: number;
}

export interface RoiResult {
  hourlyRate: number;
  hoursSavedPerDeveloperPerWeek: number;
  /** True when the inputs asked for more saved time than a working week holds. */
  capped: boolean;
  fasterDeliveryPercent: number;
  annualTeamHoursSaved: number;
  annualProductivitySavings: number;
  annualInfrastructureSavings: number;
  totalAnnualSavings: number;
  netAnnualRoi: number;
  /** Savings per license dollar; null without a license cost. */
  returnMultiple: number | null;
}

/** A number the user typed, made safe: negative and non-numbers count as zero. */
function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export function hourlyFromSalary(annualSalary: number): number {
  return nonNegative(annualSalary) / (HOURS_PER_WEEK * WORK_WEEKS_PER_YEAR);
}

export function salaryFromHourly(hourlyRate: number): number {
  return nonNegative(hourlyRate) * HOURS_PER_WEEK * WORK_WEEKS_PER_YEAR;
}

export function computeRoi(input: RoiInputs): RoiResult {
  const developers = nonNegative(input.developers);
  const hourlyRate = input.costMode === 'hourly' ? nonNegative(input.hourlyRate) : hourlyFromSalary(input.annualSalary);
  const asked = (nonNegative(input.cyclesPerDay) * nonNegative(input.minutesSavedPerCycle) * WORK_DAYS_PER_WEEK) / 60;
  const hoursSavedPerDeveloperPerWeek = Math.min(asked, HOURS_PER_WEEK);
  const fasterDeliveryPercent = (hoursSavedPerDeveloperPerWeek / HOURS_PER_WEEK) * 100;
  const annualTeamHoursSaved = hoursSavedPerDeveloperPerWeek * WORK_WEEKS_PER_YEAR * developers;
  const annualProductivitySavings = annualTeamHoursSaved * hourlyRate;
  const perEnvironmentYear = nonNegative(input.stagingCost) * (input.stagingCostPeriod === 'monthly' ? 12 : 1);
  const annualInfrastructureSavings = nonNegative(input.stagingEnvironments) * perEnvironmentYear;
  const totalAnnualSavings = annualProductivitySavings + annualInfrastructureSavings;
  const license = nonNegative(input.annualLicenseCost);
  return {
    hourlyRate,
    hoursSavedPerDeveloperPerWeek,
    capped: asked > HOURS_PER_WEEK,
    fasterDeliveryPercent,
    annualTeamHoursSaved,
    annualProductivitySavings,
    annualInfrastructureSavings,
    totalAnnualSavings,
    netAnnualRoi: totalAnnualSavings - license,
    returnMultiple: license > 0 ? totalAnnualSavings / license : null,
  };
}

export const DEFAULT_INPUTS: RoiInputs = {
  developers: 10,
  costMode: 'salary',
  annualSalary: 150_000,
  hourlyRate: 78,
  cyclesPerDay: 4,
  minutesSavedPerCycle: 15,
  stagingEnvironments: 0,
  stagingCost: 1_500,
  stagingCostPeriod: 'monthly',
  annualLicenseCost: 0,
};

/**
 * Inputs measured from usage: active developers in the range, and a typical developer's
 * sessions per active day (each mirrord session stands for one deploy/test cycle it replaced).
 */
export interface MeasuredInputs {
  developers: number | null;
  cyclesPerDay: number | null;
}

export function measuredInputs(activeUsers: number, averageDailySessions: number[]): MeasuredInputs {
  const daily = averageDailySessions.filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b);
  const mid = Math.floor(daily.length / 2);
  const median = daily.length === 0 ? null : daily.length % 2 ? daily[mid]! : (daily[mid - 1]! + daily[mid]!) / 2;
  return {
    developers: activeUsers > 0 ? activeUsers : null,
    cyclesPerDay: median === null ? null : Math.max(1, Math.round(median * 2) / 2),
  };
}
