// What every view receives: the loaded reports, the range and scope, and ways to change them.

import type { Api } from '../api';
import type { Range } from '../range';
import type { AdoptionReport, DirectoryOverview, Interval, JiraMetric, Trends, UiConfig, UsageReport } from '../types';

export type ViewId = 'usage' | 'users' | 'targets' | 'trends' | 'adoption' | 'jira' | 'roi';

export interface ViewContext {
  config: UiConfig;
  api: Api;
  usage: UsageReport;
  trends: Trends;
  /** The directory in force; its snapshot is null before the first import. */
  directory: DirectoryOverview | null;
  range: Range;
  /** The directory group the reports are scoped to; null is everyone. */
  group: string | null;
  /** The interval the URL names; null leaves the view its default. */
  interval: Interval | null;
  now: Date;
  /** Query parameters of the current range and scope for the usage report (exports, session lists). */
  usageParams: Record<string, string>;
  setRange(range: Range): void;
  chooseInterval(interval: Interval): void;
  /** Scopes every report to a directory group (null: everyone). */
  chooseGroup(group: string | null): void;
  /** Jira issues for the range: loaded on first use. */
  jira(): Promise<JiraMetric[]>;
  /** The adoption report for the range, scope and interval: loaded on first use; null while the reports reload. */
  adoption(): Promise<AdoptionReport> | null;
}
