//! File tailing end to end with the real `mirrord-usage serve`: globs, CRI and docker
//! wrappers, files that appear later, rotation by rename and by copytruncate, start at the
//! end, a restart during a rotation, and a `kill -9` in the middle of a file being written.
//!
//! Exactly-once is checked through rejects as well as events: events are deduplicated by
//! content, but reject rows are not, so a line read twice would show up as a second reject.

#[path = "clients/harness.rs"]
mod harness;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// A `[tail]` section following `glob`, polling quickly.
fn tail_config(glob: &Path, extra: &str) -> String {
    format!(
        "[tail]\npaths = [{:?}]\npoll_interval_ms = 100\nrotate_wait_ms = 300\n{extra}",
        glob.display().to_string()
    )
}

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open a log file");
    for l in lines {
        writeln!(f, "{l}").expect("append a line");
    }
    f.sync_data().expect("sync");
}

fn cri(events: &[OpEvent]) -> Vec<String> {
    events.iter().map(OpEvent::cri_line).collect()
}

fn docker(events: &[OpEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| json!({"log": format!("{}\n", e.json_line()), "stream": "stdout", "time": e.timestamp()}).to_string())
        .collect()
}

fn wait_rows(server: &Server, expected: &[OpEvent]) {
    let n = expected.len() as i64;
    let got = server.wait_count("SELECT count(*) FROM events", n, WAIT);
    assert_eq!(got, n, "{}", server.log());
    assert_eq!(server.sql(ROWS_QUERY), rows(expected));
}

#[test]
fn tail_follows_globs_cri_and_docker_files_and_files_that_appear_later() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("containers");
    std::fs::create_dir(&logs).unwrap();
    let cri_file = logs.join("mirrord-operator-0_mirrord_op-abc.log");
    let first = events(0, 30);
    append(&cri_file, &cri(&first));
    // A CRI line split by the runtime into P pieces, joined back.
    let split = OpEvent { n: 30 };
    let json = split.json_line();
    let (head, tail) = json.split_at(50);
    append(
        &cri_file,
        &[
            format!("{} stdout P {head}", split.timestamp()),
            format!("{} stdout F {tail}", split.timestamp()),
        ],
    );
    append(&logs.join("other-app_default_x.log"), &cri(&events(500, 5)));
    let server = Server::start(
        dir.path(),
        &tail_config(&logs.join("*mirrord-operator*.log"), ""),
    );
    let mut expected: Vec<OpEvent> = first.into_iter().chain([split]).collect();
    wait_rows(&server, &expected);

    let later = logs.join("mirrord-operator-1_mirrord_op-def.log");
    let docker_events = events(100, 20);
    append(&later, &docker(&docker_events));
    expected.extend(docker_events);
    wait_rows(&server, &expected);
    assert_eq!(server.count("SELECT count(DISTINCT format) FROM events"), 2);
    let checkpoints = server.sql("SELECT source, position FROM checkpoints ORDER BY source");
    let size = |p: &PathBuf| json!(std::fs::metadata(p).unwrap().len());
    // One checkpoint per file: its path and its device and inode.
    let key = |p: &PathBuf| {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(p).unwrap();
        json!(format!(
            "tail:{}#{}:{}",
            p.display(),
            meta.dev(),
            meta.ino()
        ))
    };
    assert_eq!(
        checkpoints,
        vec![
            vec![key(&cri_file), size(&cri_file)],
            vec![key(&later), size(&later)],
        ]
    );
}

#[test]
fn tail_survives_rotation_by_rename_with_late_writes_to_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    let before = events(0, 40);
    append(&log, &cri(&before));
    let server = Server::start(dir.path(), &tail_config(&dir.path().join("*.log"), ""));
    wait_rows(&server, &before);

    // kubelet: rename, the runtime writes a few more lines to the old file, then reopens.
    let rotated = dir.path().join("0.log.20260201-035525");
    std::fs::rename(&log, &rotated).unwrap();
    let late = events(40, 5);
    append(&rotated, &cri(&late));
    let after = events(45, 40);
    append(&log, &cri(&after));
    let all: Vec<OpEvent> = before.into_iter().chain(late).chain(after).collect();
    wait_rows(&server, &all);
}

/// logrotate's copytruncate: copy the file, then truncate it in place.
fn copytruncate(log: &Path, copy: &Path) {
    std::fs::copy(log, copy).unwrap();
    OpenOptions::new()
        .write(true)
        .open(log)
        .unwrap()
        .set_len(0)
        .unwrap();
}

#[test]
fn tail_survives_copytruncate_rotation_while_running_and_while_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("operator.log");
    let before = events(0, 50);
    append(&log, &cri(&before));
    let mut server = Server::start(dir.path(), &tail_config(&log, ""));
    wait_rows(&server, &before);

    // While running: lines written just before the copy must not be lost.
    let just_before = events(50, 10);
    append(&log, &cri(&just_before));
    copytruncate(&log, &dir.path().join("operator.log.1"));
    let after = events(60, 30);
    append(&log, &cri(&after));
    let mut all: Vec<OpEvent> = before.into_iter().chain(just_before).chain(after).collect();
    wait_rows(&server, &all);

    // While stopped: the unread end of the file is only in the copy.
    server.terminate();
    let unread = events(90, 15);
    append(&log, &cri(&unread));
    copytruncate(&log, &dir.path().join("operator.log.2"));
    let fresh = events(105, 5);
    append(&log, &cri(&fresh));
    server.restart();
    all.extend(unread.into_iter().chain(fresh));
    wait_rows(&server, &all);
    assert_eq!(server.count("SELECT count(*) FROM rejects"), 0);
    assert!(server.log().contains("from its copy"), "{}", server.log());
}

#[test]
fn tail_start_at_end_skips_what_was_there_but_not_what_comes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    append(&log, &cri(&events(0, 20)));
    let server = Server::start(dir.path(), &tail_config(&log, "start_at = \"end\"\n"));
    std::thread::sleep(Duration::from_millis(500));
    let new = events(20, 10);
    append(&log, &cri(&new));
    wait_rows(&server, &new);
}

#[test]
fn tail_follows_kubernetes_symlinks_through_rotations_while_running_and_stopped() {
    // /var/log/containers/<pod>_<ns>_<container>-<id>.log -> /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log
    let dir = tempfile::tempdir().unwrap();
    let pod_dir = dir
        .path()
        .join("pods/mirrord_mirrord-operator-0_1234/mirrord-operator");
    let containers = dir.path().join("containers");
    std::fs::create_dir_all(&pod_dir).unwrap();
    std::fs::create_dir_all(&containers).unwrap();
    let log = pod_dir.join("0.log");
    std::os::unix::fs::symlink(
        &log,
        containers.join("mirrord-operator-0_mirrord_mirrord-operator-abc.log"),
    )
    .unwrap();
    let first = events(0, 20);
    append(&log, &cri(&first));
    let mut server = Server::start(
        dir.path(),
        &tail_config(&containers.join("*mirrord-operator*.log"), ""),
    );
    wait_rows(&server, &first);

    // kubelet rotates while running.
    std::fs::rename(&log, pod_dir.join("0.log.20260201-035525")).unwrap();
    let second = events(20, 10);
    append(&log, &cri(&second));
    let mut all: Vec<OpEvent> = first.into_iter().chain(second).collect();
    wait_rows(&server, &all);

    // While stopped: more lines, then a rotation and a new file.
    server.terminate();
    let unread = events(30, 15);
    append(&log, &cri(&unread));
    std::fs::rename(&log, pod_dir.join("0.log.20260201-040000")).unwrap();
    let fresh = events(45, 10);
    append(&log, &cri(&fresh));
    server.restart();
    all.extend(unread.into_iter().chain(fresh));
    wait_rows(&server, &all);
    assert!(
        server.log().contains("rotated while stopped"),
        "{}",
        server.log()
    );
}

/// Lines for the crash test: every tenth is not JSON, so a line read twice would leave a
/// second reject row.
fn crash_line(n: usize) -> String {
    if n % 10 == 9 {
        format!("2026-02-01T03:55:25.000000Z stdout F {{broken line {n}")
    } else {
        OpEvent { n }.cri_line()
    }
}

#[test]
fn tail_kill_9_mid_file_then_restart_stores_every_line_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    let total = 20_000;
    let mut server = Server::start(
        dir.path(),
        &tail_config(
            &log,
            "[pipeline]\nbatch_size = 500\nflush_interval_ms = 20\n",
        ),
    );
    // A writer appends steadily while the server reads.
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        for chunk in (0..total).collect::<Vec<_>>().chunks(200) {
            append(
                &writer_log,
                &chunk.iter().map(|&n| crash_line(n)).collect::<Vec<_>>(),
            );
            std::thread::sleep(Duration::from_millis(15));
        }
    });
    // Kill it once it is part-way through.
    let deadline = std::time::Instant::now() + WAIT;
    while server.count("SELECT count(*) FROM events") < 3_000
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stored_before = server.count("SELECT count(*) FROM events");
    server.kill9();
    assert!(
        stored_before > 0 && stored_before < 18_000,
        "killed at {stored_before}"
    );
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    writer.join().unwrap();

    let good = (0..total).filter(|n| n % 10 != 9).count() as i64;
    let bad = (total as i64) - good;
    assert_eq!(
        server.wait_count("SELECT count(*) FROM events", good, Duration::from_secs(60)),
        good,
        "{}",
        server.log()
    );
    assert_eq!(
        server.wait_count("SELECT count(*) FROM rejects", bad, WAIT),
        bad,
        "a line was read twice or lost"
    );
    assert_eq!(
        server.count("SELECT count(DISTINCT session_id) FROM events"),
        good
    );
    assert_eq!(
        server.count("SELECT count(DISTINCT location) FROM rejects"),
        bad
    );
    let size = std::fs::metadata(&log).unwrap().len() as i64;
    assert_eq!(server.count("SELECT position FROM checkpoints"), size);
}

/// How the crash test's writer rotates the log.
#[derive(Debug, Clone, Copy)]
enum Rotation {
    Rename,
    CopyTruncate,
}

/// One crash run: a writer appends `chunks` chunks of lines to `0.log`, rotating every
/// `rotate_every` chunks in the given modes, while the server is killed with SIGKILL `kills`
/// times at random moments (from `seed`) and restarted. Returns what was written, in order.
fn crash_run(dir: &Path, seed: u64, modes: &[Rotation], kills: usize) -> (Vec<String>, Server) {
    use rand::{Rng, SeedableRng};
    let log = dir.join("0.log");
    let mut server = Server::start(
        dir,
        &tail_config(
            &log,
            "[pipeline]\nbatch_size = 200\nflush_interval_ms = 20\n",
        ),
    );
    let (chunks, per_chunk, rotate_every) = (160, 40, 40);
    let writer_log = log.clone();
    let writer_modes = modes.to_vec();
    let writer = std::thread::spawn(move || {
        let mut written = Vec::new();
        for c in 0..chunks {
            if c > 0 && c % rotate_every == 0 {
                let k = c / rotate_every;
                let rotated = writer_log.with_file_name(format!("0.log.{k}"));
                match writer_modes[(k - 1) % writer_modes.len()] {
                    Rotation::Rename => std::fs::rename(&writer_log, &rotated).unwrap(),
                    Rotation::CopyTruncate => copytruncate(&writer_log, &rotated),
                }
            }
            let lines: Vec<String> = (c * per_chunk..(c + 1) * per_chunk)
                .map(crash_line)
                .collect();
            append(&writer_log, &lines);
            written.extend(lines);
            std::thread::sleep(Duration::from_millis(40));
        }
        written
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..700)));
        server.kill9();
        server.restart();
    }
    (writer.join().unwrap(), server)
}

/// The ids a plain `ingest` of `lines` stores, as one digest, and its event and reject counts.
fn ingested_digest(dir: &Path, lines: &[String]) -> (i64, i64, String) {
    let file = dir.join("all.log");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let db = dir.join("plain.duckdb");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mirrord-usage"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["ingest", file.to_str().unwrap()]);
    let csv = run(&["sql", "--format", "csv", DIGEST_QUERY]);
    let row = csv.lines().nth(1).expect("a result row").to_string();
    let mut parts = row.split(',');
    let events = parts.next().unwrap().parse().unwrap();
    let rejects = parts.next().unwrap().parse().unwrap();
    (events, rejects, parts.next().unwrap().to_string())
}

/// Events, rejects and a digest of every stored event id.
const DIGEST_QUERY: &str = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejects), \
     (SELECT md5(string_agg(id, ',' ORDER BY id)) FROM events)";

#[test]
fn tail_repeated_kill_9_through_rename_and_copytruncate_rotations_loses_and_doubles_nothing() {
    let runs: [(u64, &[Rotation]); 3] = [
        (11, &[Rotation::Rename]),
        (23, &[Rotation::CopyTruncate]),
        (37, &[Rotation::Rename, Rotation::CopyTruncate]),
    ];
    let mut kills = 0;
    for (seed, modes) in runs {
        let dir = tempfile::tempdir().unwrap();
        let (written, server) = crash_run(dir.path(), seed, modes, 7);
        kills += 7;
        let (events, rejects, digest) = ingested_digest(dir.path(), &written);
        let bad = written.len() as i64 / 10;
        assert_eq!(
            (events, rejects),
            (written.len() as i64 - bad, bad),
            "plain ingest"
        );
        let got = server.wait_count(
            "SELECT count(*) FROM events",
            events,
            Duration::from_secs(60),
        );
        assert_eq!(
            got,
            events,
            "seed {seed} {modes:?}: events\n{}",
            server.log()
        );
        server.wait_count("SELECT count(*) FROM rejects", rejects, WAIT);
        let row = &server.sql(DIGEST_QUERY)[0];
        assert_eq!(
            (row[0].as_i64(), row[1].as_i64(), row[2].as_str()),
            (Some(events), Some(rejects), Some(digest.as_str())),
            "seed {seed} {modes:?}: stored ids differ from a plain ingest of the same lines\n{}",
            server.log()
        );
    }
    assert!(kills >= 20);
}
