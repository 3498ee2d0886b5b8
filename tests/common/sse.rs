//! SSE helpers shared by the API and process tests.

/// One parsed SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub event: Option<String>,
    pub data: String,
}

/// Parses an SSE body into events (comments skipped).
pub fn parse_sse(body: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut ev = SseEvent {
            id: None,
            event: None,
            data: String::new(),
        };
        let mut has_data = false;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                ev.id = v.parse().ok();
            } else if let Some(v) = line.strip_prefix("event: ") {
                ev.event = Some(v.to_owned());
            } else if let Some(v) = line.strip_prefix("data: ") {
                ev.data = v.to_owned();
                has_data = true;
            }
        }
        if has_data {
            out.push(ev);
        }
    }
    out
}

/// Reads a live SSE response until a data line contains `needle`, then drops the stream.
/// Panics if the run ends (or the stream closes) first.
pub async fn read_until(res: reqwest::Response, needle: &str) -> Vec<SseEvent> {
    use futures_util::StreamExt;
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        let events = parse_sse(&text);
        if events.iter().any(|e| e.data.contains(needle)) {
            return events;
        }
        assert!(
            !events.iter().any(|e| e.event.is_some()),
            "run ended before {needle:?}: {text}"
        );
    }
    panic!("stream closed before {needle:?}: {text}");
}
