// The shapes of the public reports API, as the dashboard reads them. The server's OpenAPI
// spec is the authority; these mirror it. Times are RFC 3339 UTC strings, durations seconds.

export type Timestamp = string;

export interface UiConfig {
  /** The key the dashboard sends as `x-license-key`; null when the server wants a login. */
  licenseKey: string | null;
  version: string;
  docsUrl: string;
  seats: number | null;
}

export interface UsageReport {
  generalMetrics: {
    totalLicenses: number | null;
    tier: string;
    activeUsers: number;
    reportPeriod: { from: Timestamp | null; to: Timestamp | null };
    operatorVersion: string | null;
    lastOperatorEvent: Timestamp | null;
  };
  allTimeMetrics: { totalSessionCount: number; totalSessionTimeSeconds: number; totalCiSessionCount: number };
  periodMetrics: {
    sessionCount: number;
    sessionTimeSeconds: number;
    ciSessionCount: number;
    activeUsers: number;
    uniqueMachines: number;
  };
  ciMetrics: {
    currentRunningSessions: number;
    maxConcurrentCiSessions: number;
    totalCiSessions: number;
    /** null when the period has no CI sessions. */
    avgCiSessionDurationSeconds: number | null;
  };
  userMetrics: UserMetric[];
  targetMetrics: TargetMetric[];
  userTargetMetrics: UserTargetMetric[];
  namespaceMetrics: NamespaceMetric[];
  jiraMetrics: JiraMetric[];
  uniqueMachines: number;
}

export interface UserMetric {
  identifier: string;
  displayName: string | null;
  clientUser: string | null;
  hostname: string | null;
  firstActive: Timestamp | null;
  lastSeen: Timestamp | null;
  totalSessionCount: number;
  totalSessionTimeSeconds: number;
  averageSessionDurationSeconds: number;
  /** Sessions divided by the days in the report window. */
  averageDailySessions: number;
  /** Sessions per day on which the user had at least one. */
  averageSessionsPerActiveDay: number;
  /** How many of the user's sessions were CI sessions (a CI identity has only those). */
  ciSessionCount?: number;
}

export interface TargetMetric {
  namespace: string | null;
  targetType: string | null;
  target: string;
  sessions: number;
  totalSessionTimeSeconds: number;
  uniqueUsers: number;
}

export interface UserTargetMetric {
  identifier: string;
  displayName: string | null;
  namespace: string | null;
  targetType: string | null;
  target: string;
  sessions: number;
  totalSessionTimeSeconds: number;
}

export interface NamespaceMetric {
  namespace: string;
  sessions: number;
  totalSessionTimeSeconds: number;
  uniqueUsers: number;
}

export interface JiraMetric {
  key: string;
  sessions: number;
  totalSessionTimeSeconds: number;
  uniqueUsers: number;
  firstUsed: Timestamp | null;
  lastUsed: Timestamp | null;
  ciSessions: number;
  execSessions: number;
}

export interface DailyCount {
  date: string;
  count: number;
}

export interface Trends {
  from: string;
  to: string;
  dailySessions: Array<DailyCount & { totalSeconds: number }>;
  dailyActiveUsers: DailyCount[];
  dailyCiSessions: DailyCount[];
  userAdoption: Array<{ date: string; newUsers: number; cumulativeUsers: number }>;
}

export interface JiraReport {
  issues: JiraMetric[];
}

export interface SessionRecord {
  sessionId: string;
  startedAt: Timestamp | null;
  endedAt: Timestamp | null;
  durationSeconds: number | null;
  status: 'open' | 'closed' | 'abandoned' | string;
  kind: 'exec' | 'ci' | string;
  user: string;
  clientId: string | null;
  clientName: string | null;
  clientHostname: string | null;
  targetType: string | null;
  targetName: string | null;
  namespace: string | null;
  branch: string | null;
  jiraKey: string | null;
  ports: number[];
}

export interface SessionPage {
  sessions: SessionRecord[];
  nextCursor: string | null;
}
