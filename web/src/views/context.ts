// What every view receives: the loaded reports, the range, and ways to change them.

import type { Api } from '../api';
import type { Range } from '../range';
import type { JiraMetric, Trends, UiConfig, UsageReport } from '../types';

export type ViewId = 'usage' | 'users' | 'targets' | 'trends' | 'jira' | 'roi';

export interface ViewContext {
  config: UiConfig;
  api: Api;
  usage: UsageReport;
  trends: Trends;
  range: Range;
  now: Date;
  /** Query parameters of the current range for the usage report (for exports). */
  usageParams: Record<string, string>;
  setRange(range: Range): void;
  /** Jira issues for the range: loaded on first use. */
  jira(): Promise<JiraMetric[]>;
}
