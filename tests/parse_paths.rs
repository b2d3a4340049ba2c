//! The typed fast path for nested tracing JSON and the general path agree: for every generated
//! format (with noise lines) and for hand-made lines at the edges of what the fast path takes,
//! a parser with the fast path and one without it report the same events (same ids, fields
//! and attributes), skips and rejects, in the same order.

use mirrord_usage::event::OperatorEvent;
use mirrord_usage::generate::{GenerateOptions, OutputFormat, Renderer, Scenario};
use mirrord_usage::parse::{FormatName, InputFormat, LineParser, Sink, fast};

#[derive(Debug, PartialEq)]
enum Outcome {
    Event(Box<OperatorEvent>, FormatName),
    Skip,
    Reject(String, Vec<u8>),
}

#[derive(Default)]
struct Collect(Vec<Outcome>);

impl Sink for Collect {
    fn event(&mut self, event: OperatorEvent, format: FormatName) {
        self.0.push(Outcome::Event(Box::new(event), format));
    }
    fn skip(&mut self) {
        self.0.push(Outcome::Skip);
    }
    fn reject(&mut self, reason: String, raw: &[u8]) {
        self.0.push(Outcome::Reject(reason, raw.to_vec()));
    }
}

fn both(lines: &[&[u8]], format: InputFormat) -> (Vec<Outcome>, Vec<Outcome>) {
    let (mut fast, mut general) = (Collect::default(), Collect::default());
    let mut with = LineParser::new(format);
    let mut without = LineParser::new(format).general_only();
    for line in lines {
        with.feed(line, &mut fast);
        without.feed(line, &mut general);
    }
    with.finish(&mut fast);
    without.finish(&mut general);
    (fast.0, general.0)
}

#[test]
fn every_generated_format_parses_the_same_either_way() {
    let opts = GenerateOptions {
        users: 12,
        days: 20,
        seed: 11,
        max_events: Some(3000),
        ..GenerateOptions::default()
    };
    let scenario = Scenario::build(&opts);
    let mut formats = OutputFormat::CONCRETE.to_vec();
    formats.push(OutputFormat::Mixed);
    for format in formats {
        let mut out = Vec::new();
        let mut renderer = Renderer::new(format);
        scenario.write_to(&mut out, &mut renderer, 0.05).unwrap();
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        let (fast, general) = both(&lines, InputFormat::Auto);
        let events = fast
            .iter()
            .filter(|o| matches!(o, Outcome::Event(..)))
            .count();
        assert!(events > 1000, "{format:?}: {events} events");
        assert_eq!(fast.len(), general.len(), "{format:?}");
        for (i, (a, b)) in fast.iter().zip(&general).enumerate() {
            assert_eq!(a, b, "{format:?}, outcome {i}");
        }
    }
}

#[test]
fn the_fast_path_takes_the_common_shape_and_leaves_the_rest() {
    let common = r#"{"timestamp":"2026-02-01T03:55:28.118342Z","level":"INFO","fields":{"message":"Port Steal","session_id":"487F4F2B6D2376AD","client_name":"Aris \"A\" Doe","target":"deployment/order-service/container/main","target_namespace":"shop","port":8080,"http_filter":"header=x-user: aris","scale_down":false},"target":"operator::session"}"#;
    assert!(
        fast::nested_tracing_json(common, &[]).is_some(),
        "the operator's own line shape takes the fast path"
    );
    let edges = [
        common.to_string(),
        // Another module path is kept as an attribute.
        common.replace("operator::session", "operator::other"),
        // Aliases and fields without a column go the general way.
        common.replace("\"target_namespace\"", "\"namespace\""),
        common.replace(
            "\"scale_down\":false",
            "\"scale_down\":false,\"jira_key\":\"SHOP-1\"",
        ),
        // Types the general path converts or rejects.
        common.replace("\"port\":8080", "\"port\":\"8080\""),
        common.replace("\"port\":8080", "\"port\":70000"),
        common.replace("\"port\":8080", "\"port\":80.5"),
        common.replace("\"scale_down\":false", "\"scale_down\":\"true\""),
        common.replace(
            "\"session_id\":\"487F4F2B6D2376AD\"",
            "\"session_id\":12345",
        ),
        common.replace("\"session_id\":\"487F4F2B6D2376AD\"", "\"session_id\":null"),
        common.replace("\"port\":8080", "\"port\":8080,\"session_duration\":-3"),
        common.replace("\"port\":8080", "\"port\":8080,\"session_duration\":12"),
        // Duplicate keys: the general path's rules decide.
        common.replace("\"port\":8080", "\"port\":8080,\"port\":9090"),
        common.replace(
            "\"level\":\"INFO\"",
            "\"level\":\"INFO\",\"level\":\"WARN\"",
        ),
        // Timestamps.
        common.replace("2026-02-01T03:55:28.118342Z", "yesterday"),
        common.replace("\"timestamp\":\"2026-02-01T03:55:28.118342Z\",", ""),
        common.replace("\"2026-02-01T03:55:28.118342Z\"", "1769918128"),
        // Not functional, or not this shape.
        common.replace("Port Steal", "Loaded license!"),
        common.replace("\"message\":\"Port Steal\",", ""),
        common.replace(
            "\"target\":\"operator::session\"",
            "\"span\":{\"name\":\"s\"}",
        ),
        common.replace("}}", "}} trailing"),
    ];
    let lines: Vec<&[u8]> = edges.iter().map(|l| l.as_bytes()).collect();
    let (fast, general) = both(&lines, InputFormat::Auto);
    assert_eq!(fast, general);
    // The edges cover events, skips and rejects.
    assert!(fast.iter().any(|o| matches!(o, Outcome::Skip)));
    assert!(fast.iter().any(|o| matches!(o, Outcome::Reject(..))));
    let Outcome::Event(other, _) = &fast[1] else {
        panic!("{:?}", fast[1])
    };
    assert_eq!(other.attributes["tracing_target"], "operator::other");
    // And the same lines inside a CRI wrapper, where the wrapper's `stream` is an attribute.
    let cri: Vec<String> = edges
        .iter()
        .map(|l| format!("2026-02-01T03:55:28.118342000Z stdout F {l}"))
        .collect();
    let lines: Vec<&[u8]> = cri.iter().map(|l| l.as_bytes()).collect();
    let (fast, general) = both(&lines, InputFormat::Auto);
    assert_eq!(fast, general);
}
