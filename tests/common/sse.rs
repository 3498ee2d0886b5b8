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

/// One event as the WHATWG EventSource parser dispatches it, with the last event id it
/// leaves behind (what a reconnecting browser sends as `Last-Event-ID`).
#[derive(Debug, Clone, PartialEq)]
pub struct WhatwgEvent {
    pub last_event_id: String,
    pub event: String,
    pub data: String,
}

/// Parses an SSE body by the WHATWG rules: lines end at `\r\n`, `\r` or `\n`; a blank line
/// dispatches; `field: value` (one space after the colon dropped), `data` lines joined
/// with `\n`, an event without data not dispatched, lines starting with `:` ignored.
pub fn parse_sse_whatwg(body: &str) -> Vec<WhatwgEvent> {
    let mut lines = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    let (mut last_id, mut event, mut data) = (String::new(), String::new(), String::new());
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                out.push(WhatwgEvent {
                    last_event_id: last_id.clone(),
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event.clone()
                    },
                    data: std::mem::take(&mut data),
                });
            }
            data.clear();
            event.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => last_id = value.to_owned(),
            _ => {}
        }
    }
    out
}
