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
  /** The group the report is scoped to and the directory snapshot it used (absent from older servers). */
  scope?: { group: GroupRef | null; snapshot: number | null };
}

/**
 * Who an identity is in the directory: all null when it matches no one (or no directory is
 * imported). Optional: older servers do not send them.
 */
export interface Person {
  personId?: string | null;
  personName?: string | null;
  team?: string | null;
}

export interface UserMetric extends Person {
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

export interface UserTargetMetric extends Person {
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

/** How the trends and the adoption report group days. */
export type Interval = 'day' | 'week' | '2week' | 'month';

export interface Trends {
  from: string;
  to: string;
  /** Present when the request asked for an interval; each `date` is then the first day of one. */
  interval?: Interval;
  timeZone?: string;
  dailySessions: Array<DailyCount & { totalSeconds: number }>;
  dailyActiveUsers: DailyCount[];
  dailyCiSessions: DailyCount[];
  userAdoption: Array<{ date: string; newUsers: number; cumulativeUsers: number }>;
}

export interface JiraReport {
  issues: JiraMetric[];
}

export interface SessionRecord extends Person {
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

/** `GET /api/v1/directory`: the snapshot in force (null before the first import) and its tree. */
export interface DirectoryOverview {
  snapshot: {
    snapshot: number;
    importedAt: Timestamp;
    source: string | null;
    people: number;
    groups: number;
    identities: number;
  } | null;
  groups: DirectoryGroup[];
  neverMatched: Array<{ id: string; name: string }>;
}

export interface DirectoryGroup {
  id: string;
  type: string;
  name: string;
  parent: string | null;
  /** People who are members of this group itself. */
  directMembers: number;
  /** People in it or any group below it. */
  people: number;
}

export interface GroupRef {
  id: string;
  name: string;
  type: string;
}

export type FunnelStage = 'inDirectory' | 'everStarted' | 'active' | 'regular' | 'champion';

/** `GET /api/v1/reports/adoption` (docs/adoption.md). */
export interface AdoptionReport {
  scope: { group: GroupRef | null; path: GroupRef[] };
  snapshot: { snapshot: number; importedAt: Timestamp; source: string | null } | null;
  range: { from: Timestamp; to: Timestamp };
  interval: Interval;
  timeZone: string;
  thresholds: { regularActiveDays: number; championActiveDays: number; goingColdDays: number };
  counts: { engineers: number; services: number; teams: number };
  funnel: Array<{ stage: FunnelStage; count: number }>;
  activeOverTime: Array<{ start: string; active: number; engineers: number; percent: number }>;
  heatmap: { weeks: string[]; groups: Array<GroupRef & { engineers: number; active: number[] }> };
  neverStarted: Array<{ personId: string; name: string; email: string | null; team: string | null }>;
  goingCold: Array<{ personId: string; name: string; email: string | null; team: string | null; lastSession: Timestamp; daysSince: number }>;
  champions: Array<{ personId: string; name: string; team: string | null; activeDays: number; sessions: number }>;
  servicesPerTeam: Array<{
    id: string;
    name: string;
    engineers: number;
    services: Array<{ namespace: string | null; targetType: string | null; target: string; sessions: number; engineers: number }>;
  }>;
  suggestedActions: Array<{ id: string; kind: string; groupId: string | null; message: string }>;
}
