//! Getting a JSON object out of a model's answer: plain JSON, JSON in a code fence, or an
//! object surrounded by prose (small local models do all three).

use serde_json::Value;

/// The first JSON object in `text`, wherever it is.
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    // A fenced block: ```json ... ``` or ``` ... ```.
    if let Some(start) = t.find("```") {
        let after = &t[start + 3..];
        let body = after
            .strip_prefix("json")
            .or_else(|| after.strip_prefix("JSON"))
            .unwrap_or(after);
        if let Some(end) = body.find("```") {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(body[..end].trim()) {
                return Some(v);
            }
        }
    }
    // The first balanced {...} (string-aware).
    let bytes: Vec<char> = t.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if *c != '{' {
            continue;
        }
        let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
        for (j, ch) in bytes.iter().enumerate().skip(i) {
            if in_string {
                match (escaped, ch) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match ch {
                '"' => in_string = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        let candidate: String = bytes[i..=j].iter().collect();
                        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&candidate) {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_fenced_and_prose_wrapped_objects_are_found() {
        assert_eq!(extract_json(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(
            extract_json("Here you go:\n```json\n{\"a\": [1, 2]}\n```\nDone."),
            Some(json!({"a": [1, 2]}))
        );
        assert_eq!(
            extract_json("Sure! {\"a\": \"x } y\", \"b\": {\"c\": 2}} Hope it helps"),
            Some(json!({"a": "x } y", "b": {"c": 2}}))
        );
        assert_eq!(extract_json("no json here"), None);
        assert_eq!(extract_json("[1, 2]"), None, "only objects");
    }
}
