//! Who uses mirrord in the generated organization, and what they target.
//!
//! A [`Population`] is built once from the seed: developers with a power-law appetite for
//! sessions, staggered start dates (an adoption curve), machines, time zones and CLI upgrade
//! habits; two CI service accounts; the cluster's namespaces and targets; and the release
//! history of the CLI and the operator. The scenario planner (`scenario.rs`) only draws from it.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Namespaces with their Jira project key (branches carry `KEY-123`).
pub(crate) const NAMESPACES: [(&str, &str); 4] = [
    ("shop", "SHOP"),
    ("payments", "PAY"),
    ("search", "SRCH"),
    ("staging", "OPS"),
];

/// The cluster's targets: namespace, type, name, container.
const TARGETS: &[(&str, &str, &str, Option<&str>)] = &[
    ("shop", "deployment", "order-service", Some("main")),
    ("shop", "deployment", "cart-service", None),
    ("shop", "rollout", "checkout", Some("app")),
    ("shop", "deployment", "frontend", Some("web")),
    ("shop", "statefulset", "session-cache", None),
    ("payments", "deployment", "payment-gateway", Some("main")),
    ("payments", "rollout", "ledger", Some("ledger")),
    ("payments", "statefulset", "payments-db-proxy", None),
    ("payments", "job", "settlement-batch", Some("worker")),
    ("search", "deployment", "search-api", Some("api")),
    ("search", "statefulset", "indexer", Some("indexer")),
    ("search", "pod", "search-api-6d5f7b9c8-kx2lp", Some("api")),
    ("search", "cronjob", "reindex-nightly", None),
    ("staging", "deployment", "order-service", Some("main")),
    ("staging", "deployment", "payment-gateway", None),
    ("staging", "rollout", "web", Some("nginx")),
    ("staging", "job", "e2e-seed", Some("seed")),
];

/// CLI releases, oldest first. The last one is released a few days before the period ends.
pub(crate) const CLI_VERSIONS: [&str; 8] = [
    "3.170.0", "3.172.1", "3.175.0", "3.177.2", "3.180.0", "3.182.0", "3.184.0", "3.186.1",
];

/// Operator releases in use during the period, oldest first.
pub(crate) const OPERATOR_VERSIONS: [OperatorRelease; 4] = [
    OperatorRelease {
        version: "3.112.0",
        legacy_names: true,
        fractional_durations: false,
    },
    OperatorRelease {
        version: "3.116.2",
        legacy_names: false,
        fractional_durations: false,
    },
    OperatorRelease {
        version: "3.118.0",
        legacy_names: false,
        fractional_durations: true,
    },
    OperatorRelease {
        version: "3.120.0",
        legacy_names: false,
        fractional_durations: true,
    },
];

/// How one operator release logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OperatorRelease {
    /// The release (`3.120.0`), logged nowhere but OTLP's `service.version`.
    pub version: &'static str,
    /// Logs `Session Started`, `Port Stolen`, ... (releases before late 2025).
    pub legacy_names: bool,
    /// `session_duration` with millisecond precision rather than whole seconds.
    pub fractional_durations: bool,
}

/// Port Steal HTTP filter descriptions; `{handle}` and `{run}` are filled in per session.
pub(crate) const HTTP_FILTERS: [&str; 7] = [
    "header=x-user: {handle}",
    "path=^/api/orders",
    "path=^/v1/payments/.*",
    "header=baggage: .*mirrord-session={handle}.*",
    r"path=^/search\?q=.*&debug=1",
    "all_of=[header=x-tenant: acme, path=^/api/]",
    "header=x-mirrord-ci: {run}",
];
/// The filter CI pipelines use (index into [`HTTP_FILTERS`]).
pub(crate) const CI_FILTER: u8 = 6;

const FIRST_NAMES: [(&str, &str); 40] = [
    ("Aris", "aris"),
    ("Maya", "maya"),
    ("Noah", "noah"),
    ("Priya", "priya"),
    ("Liam", "liam"),
    ("Sofia", "sofia"),
    ("Kenji", "kenji"),
    ("Amara", "amara"),
    ("Lucas", "lucas"),
    ("Elena", "elena"),
    ("Omar", "omar"),
    ("Hannah", "hannah"),
    ("Mateo", "mateo"),
    ("Ingrid", "ingrid"),
    ("Ravi", "ravi"),
    ("Chloe", "chloe"),
    ("Tomasz", "tomasz"),
    ("Yuki", "yuki"),
    ("Daniel", "daniel"),
    ("Fatima", "fatima"),
    ("Jonas", "jonas"),
    ("Aisha", "aisha"),
    ("Felix", "felix"),
    ("Leila", "leila"),
    ("Gabriel", "gabriel"),
    ("Nora", "nora"),
    ("Samuel", "samuel"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Łukasz", "lukasz"),
    ("Siobhán", "siobhan"),
    ("Björn", "bjorn"),
    ("Mei", "mei"),
    ("Arjun", "arjun"),
    ("Olga", "olga"),
    ("Pedro", "pedro"),
    ("Inês", "ines"),
    ("Kwame", "kwame"),
    ("Lena", "lena"),
    ("Ahmed", "ahmed"),
];

const LAST_NAMES: [(&str, &str); 26] = [
    ("Doe", "doe"),
    ("Cohen", "cohen"),
    ("Levi", "levi"),
    ("Sharma", "sharma"),
    ("Müller", "muller"),
    ("García", "garcia"),
    ("Tanaka", "tanaka"),
    ("Okafor", "okafor"),
    ("Silva", "silva"),
    ("Rossi", "rossi"),
    ("Haddad", "haddad"),
    ("Schmidt", "schmidt"),
    ("Novak", "novak"),
    ("Kowalski", "kowalski"),
    ("Johansson", "johansson"),
    ("O'Brien", "obrien"),
    ("Nguyen", "nguyen"),
    ("Kim", "kim"),
    ("Petrova", "petrova"),
    ("Dubois", "dubois"),
    ("Mendes", "mendes"),
    ("Andersen", "andersen"),
    ("Patel", "patel"),
    ("Yilmaz", "yilmaz"),
    ("Costa", "costa"),
    ("Fischer", "fischer"),
];

/// One cluster target as the operator reports it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Kubernetes namespace (`target_namespace`).
    pub namespace: &'static str,
    /// The raw mirrord target (`deployment/order-service/container/main`, `targetless`).
    pub path: String,
    /// `target_type`: deployment, rollout, pod, statefulset, job, cronjob or targetless.
    pub kind: &'static str,
    /// `target_name`; none for targetless.
    pub name: Option<&'static str>,
    /// The container in the target path, if the path names one.
    pub container: Option<&'static str>,
}

/// One machine a person runs mirrord from: the client certificate is per machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// `client_id`: from the machine's client certificate.
    pub client_id: String,
    /// `client_hostname`; empty for CI, whose runners are named per job.
    pub hostname: String,
}

/// Developer or CI service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A person with a seat.
    Developer,
    /// A CI API key (`mirrord ci start`): no seat, short sessions in parallel shards.
    Ci,
}

/// Someone (or something) that starts mirrord sessions.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    /// Developer or CI.
    pub role: Role,
    /// whoami real name (`Aris Doe`), or `mirrord-ci@acme` for a CI key.
    pub name: String,
    /// The lowercase login (`aris`), used in hostnames, filters and branches.
    pub handle: String,
    /// Kubernetes user (`aris@corp.example`, `system:serviceaccount:ci:mirrord-ci`).
    pub user: String,
    /// One machine for most people, two for a few; one client id per CI key.
    pub machines: Vec<Machine>,
    /// Expected sessions (developers) or pipelines (CI) per working day.
    pub rate: f64,
    /// First active day (an index into the period).
    pub join_day: u32,
    /// Last active day; the period length for people who never stop.
    pub leave_day: u32,
    /// Offset of local time from UTC, in minutes.
    pub utc_offset_min: i32,
    /// Days this actor lags behind the latest CLI release.
    pub cli_lag_days: u32,
    /// Index into [`NAMESPACES`] of the team's namespace.
    pub home: usize,
    /// Targets this actor usually picks (indices into [`Population::targets`]), favourite first.
    pub favourites: Vec<u16>,
    /// Uses `jj` (detached HEAD): the CLI never sends a branch.
    pub no_branch: bool,
    /// Passes `traceparent` in mirrord.json, so log records carry a trace id.
    pub traces: bool,
    /// CI only: also runs a nightly pipeline at 02:00 UTC, weekends included.
    pub nightly: bool,
}

/// Everyone and everything the scenario draws from.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    /// Developers first, then the CI accounts.
    pub actors: Vec<Actor>,
    /// The catalogue, then one targetless entry per namespace.
    pub targets: Vec<Target>,
}

impl Population {
    /// `developers` people plus two CI service accounts, over a period of `days` days.
    pub fn new(rng: &mut ChaCha8Rng, developers: usize, days: u32) -> Self {
        let targets = catalogue();
        let mut actors = developers_of(rng, developers, days, &targets);
        actors.extend(ci_accounts(rng, days, &targets));
        Population { actors, targets }
    }

    /// The targetless pseudo-target of namespace `ns` (an index into [`NAMESPACES`]).
    pub fn targetless(&self, ns: usize) -> u16 {
        (TARGETS.len() + ns) as u16
    }

    /// Targets in namespace `ns`.
    pub fn in_namespace(&self, ns: &str) -> Vec<u16> {
        (0..TARGETS.len())
            .filter(|&i| self.targets[i].namespace == ns)
            .map(|i| i as u16)
            .collect()
    }
}

fn catalogue() -> Vec<Target> {
    let mut targets: Vec<Target> = TARGETS
        .iter()
        .map(|&(namespace, kind, name, container)| Target {
            namespace,
            path: match container {
                Some(c) => format!("{kind}/{name}/container/{c}"),
                None => format!("{kind}/{name}"),
            },
            kind,
            name: Some(name),
            container,
        })
        .collect();
    targets.extend(NAMESPACES.iter().map(|&(namespace, _)| Target {
        namespace,
        path: "targetless".into(),
        kind: "targetless",
        name: None,
        container: None,
    }));
    targets
}

fn developers_of(rng: &mut ChaCha8Rng, count: usize, days: u32, targets: &[Target]) -> Vec<Actor> {
    let mut firsts = FIRST_NAMES;
    let mut lasts = LAST_NAMES;
    firsts.shuffle(rng);
    lasts.shuffle(rng);
    // Activity rank: a random permutation, so the power users are not always the first names.
    let mut ranks: Vec<usize> = (1..=count).collect();
    ranks.shuffle(rng);
    let mut handles = HashSet::new();
    (0..count)
        .map(|i| {
            let first = firsts[i % firsts.len()];
            let last = lasts[(i + i / firsts.len()) % lasts.len()];
            let handle = unique_handle(&mut handles, first.1, last.1);
            developer(rng, i, first.0, last.0, handle, ranks[i], days, targets)
        })
        .collect()
}

fn unique_handle(taken: &mut HashSet<String>, first: &str, last: &str) -> String {
    let mut handle = first.to_string();
    if taken.contains(&handle) {
        handle = format!("{first}.{last}");
    }
    let mut n = 2;
    while taken.contains(&handle) {
        handle = format!("{first}.{last}{n}");
        n += 1;
    }
    taken.insert(handle.clone());
    handle
}

#[allow(clippy::too_many_arguments)]
fn developer(
    rng: &mut ChaCha8Rng,
    index: usize,
    first: &str,
    last: &str,
    handle: String,
    rank: usize,
    days: u32,
    targets: &[Target],
) -> Actor {
    let name = match index {
        // whoami falls back to the login when the account has no real name.
        _ if rng.gen_bool(0.05) => handle.clone(),
        11 => format!("{first} \"Nino\" {last}"),
        _ => format!("{first} {last}"),
    };
    let mut machines = vec![Machine {
        client_id: client_id(rng),
        hostname: hostname(rng, &handle),
    }];
    if rng.gen_bool(0.12) {
        let hostname = format!(
            "{handle}-{}",
            ["devbox", "linux", "old-mbp"][rng.gen_range(0..3)]
        );
        machines.push(Machine {
            client_id: client_id(rng),
            hostname,
        });
    }
    let join_day = if rank <= 3 || rng.gen_bool(0.3) {
        0
    } else {
        (rng.gen_range(0.0..0.9) * f64::from(days)) as u32
    };
    let leave_day = if rng.gen_bool(0.07) {
        rng.gen_range(join_day..days.max(join_day + 1))
    } else {
        days
    };
    let home = pick_weighted(rng, &[4.0, 3.0, 3.0]);
    let mut local: Vec<u16> = (0..TARGETS.len())
        .filter(|&t| targets[t].namespace == NAMESPACES[home].0)
        .map(|t| t as u16)
        .collect();
    local.shuffle(rng);
    local.truncate(rng.gen_range(1..=3));
    Actor {
        role: Role::Developer,
        name,
        user: format!("{handle}@corp.example"),
        handle,
        machines,
        rate: 10.0 / (rank as f64).powf(0.9) + 0.15,
        join_day,
        leave_day,
        utc_offset_min: [-480, -300, 0, 60, 120, 330]
            [pick_weighted(rng, &[2.0, 2.5, 1.5, 2.0, 1.0, 1.0])],
        cli_lag_days: (-12.0 * (1.0 - rng.gen_range(0.0..1.0f64)).ln()).min(60.0) as u32,
        home,
        favourites: local,
        no_branch: rng.gen_bool(0.06),
        traces: rng.gen_bool(0.1),
        nightly: false,
    }
}

fn ci_accounts(rng: &mut ChaCha8Rng, days: u32, targets: &[Target]) -> Vec<Actor> {
    let in_ns = |ns: &str| -> Vec<u16> {
        (0..TARGETS.len())
            .filter(|&t| targets[t].namespace == ns)
            .map(|t| t as u16)
            .collect()
    };
    let mut payments = in_ns("payments");
    payments.truncate(2);
    payments.extend(
        in_ns("staging")
            .into_iter()
            .filter(|&t| targets[usize::from(t)].path.contains("payment")),
    );
    [
        ("ci", 4.0, in_ns("staging"), 3, true),
        ("payments-ci", 2.0, payments, 1, false),
    ]
    .into_iter()
    .map(|(namespace, rate, favourites, home, nightly)| Actor {
        role: Role::Ci,
        name: "mirrord-ci@acme".into(),
        handle: format!("{namespace}-bot"),
        user: format!("system:serviceaccount:{namespace}:mirrord-ci"),
        machines: vec![Machine {
            client_id: client_id(rng),
            hostname: String::new(),
        }],
        rate,
        join_day: 0,
        leave_day: days,
        utc_offset_min: 0,
        cli_lag_days: 30,
        home,
        favourites,
        no_branch: false,
        traces: false,
        nightly,
    })
    .collect()
}

/// A client-certificate id: 32 base62 characters.
fn client_id(rng: &mut ChaCha8Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn hostname(rng: &mut ChaCha8Rng, handle: &str) -> String {
    let plain: String = handle.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut capital = plain.clone();
    if let Some(first) = capital.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    match pick_weighted(rng, &[3.5, 2.0, 1.5, 1.0, 1.0, 1.0]) {
        0 => format!("{plain}-mbp.local"),
        1 => format!("{capital}s-MacBook-Pro.local"),
        2 => format!("{plain}-thinkpad"),
        3 => {
            const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
            let code: String = (0..7)
                .map(|_| char::from(UPPER[rng.gen_range(0..UPPER.len())]))
                .collect();
            format!("DESKTOP-{code}")
        }
        4 => format!("{plain}-dev.corp.example"),
        _ => format!("{plain}-xps"),
    }
}

/// An index into `weights`, drawn in proportion to them.
pub(crate) fn pick_weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.gen_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}
