//! Golden test: each file in `samples/` parses to the events recorded in
//! `tests/golden/sample-events.json` — every typed field, checked by hand once. Rewrite the
//! golden file only on purpose: `UPDATE_GOLDEN=1 cargo test --release --test golden`.

use std::path::Path;

use mirrord_usage::event::OperatorEvent;
use mirrord_usage::parse::{FormatName, InputFormat, LineParser, Sink};
use serde_json::Value;

#[derive(Default)]
struct Collect {
    events: Vec<OperatorEvent>,
    rejects: Vec<String>,
}

impl Sink for Collect {
    fn event(&mut self, event: OperatorEvent, _format: FormatName) {
        self.events.push(event);
    }
    fn skip(&mut self) {}
    fn reject(&mut self, reason: String, _raw: &[u8]) {
        self.rejects.push(reason);
    }
}

/// The typed fields of an event; `message` (legacy or current spelling), `level` and
/// `attributes` (shipper metadata, tracing's module path) legitimately differ by format.
fn typed(e: &OperatorEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap();
    let obj = v.as_object_mut().unwrap();
    for k in [
        "message",
        "attributes",
        "level",
        "operator_version",
        "trace_id",
        "span_id",
    ] {
        obj.remove(k);
    }
    v
}

fn parse(path: &Path) -> Collect {
    let mut parser = LineParser::new(InputFormat::Auto);
    let mut c = Collect::default();
    for line in std::fs::read(path).unwrap().split(|b| *b == b'\n') {
        parser.feed(line, &mut c);
    }
    parser.finish(&mut c);
    c
}

#[test]
fn every_sample_parses_to_the_golden_events() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden_path = root.join("tests/golden/sample-events.json");
    let reference = parse(&root.join("samples/tracing-json.log"));
    let actual = Value::Array(reference.events.iter().map(typed).collect());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(
            &golden_path,
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
    }
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&golden_path).expect("golden file")).unwrap();
    assert_eq!(golden.as_array().unwrap().len(), 6);
    let mut files: Vec<_> = std::fs::read_dir(root.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e != "md"));
    files.sort();
    for file in files {
        let c = parse(&file);
        assert!(c.rejects.is_empty(), "{}: {:?}", file.display(), c.rejects);
        let got = Value::Array(c.events.iter().map(typed).collect());
        assert_eq!(
            got,
            golden,
            "{} differs from tests/golden/sample-events.json",
            file.display()
        );
    }
}
