//! JSON Schemas of the stages' answers, built from small helpers. Servers that constrain
//! sampling to a schema (llama.cpp, vLLM, OpenAI structured outputs) then cannot return
//! the wrong shape, which small local models otherwise often do (`LLM_SCHEMA_MODE`).

use serde_json::{json, Map, Value};

/// The JSON shape of an answer type.
pub trait AnswerShape {
    /// Its JSON Schema.
    fn schema() -> Value;
}

/// `{"type": "string"}`.
pub fn string() -> Value {
    json!({"type": "string"})
}

/// An array of strings.
pub fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// An integer.
pub fn integer() -> Value {
    json!({"type": "integer"})
}

/// A number.
pub fn number() -> Value {
    json!({"type": "number"})
}

/// A boolean.
pub fn boolean() -> Value {
    json!({"type": "boolean"})
}

/// An integer or `null`.
pub fn optional_integer() -> Value {
    json!({"type": ["integer", "null"]})
}

/// A string or `null`.
pub fn optional_string() -> Value {
    json!({"type": ["string", "null"]})
}

/// An array of `items`.
pub fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// An object whose every listed property is required.
pub fn object(props: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = props.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// An object with free keys, each holding `values`.
pub fn map_of(values: Value) -> Value {
    json!({"type": "object", "additionalProperties": values})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_require_every_property() {
        let s = object(&[("a", string()), ("b", strings())]);
        assert_eq!(s["required"], json!(["a", "b"]));
        assert_eq!(s["properties"]["b"]["items"]["type"], "string");
    }
}
