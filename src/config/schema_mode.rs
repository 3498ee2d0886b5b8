//! `LLM_SCHEMA_MODE`: whether and how each answer's JSON Schema is sent to the provider.

/// How a JSON answer's shape is requested from an OpenAI-compatible server
/// (`LLM_SCHEMA_MODE`): not every server accepts a schema, so it is opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// `{"type": "json_object"}` only (any server).
    #[default]
    Off,
    /// `{"type": "json_object", "schema": ...}`: llama.cpp servers constrain sampling to it.
    JsonObjectSchema,
    /// `{"type": "json_schema", "json_schema": {...}}`: OpenAI structured outputs, vLLM, Ollama.
    JsonSchema,
}

impl SchemaMode {
    /// Parses `off`, `llama` (`json_object_schema`) or `openai` (`json_schema`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "none" => Ok(SchemaMode::Off),
            "llama" | "llama.cpp" | "json_object_schema" => Ok(SchemaMode::JsonObjectSchema),
            "openai" | "json_schema" => Ok(SchemaMode::JsonSchema),
            other => Err(format!("LLM_SCHEMA_MODE must be off, llama or openai, got {other:?}")),
        }
    }

    /// The `response_format` for a JSON request.
    pub fn response_format(self, schema: Option<&serde_json::Value>) -> serde_json::Value {
        match (self, schema) {
            (SchemaMode::JsonObjectSchema, Some(s)) => serde_json::json!({"type": "json_object", "schema": s}),
            (SchemaMode::JsonSchema, Some(s)) => serde_json::json!({
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": s, "strict": false},
            }),
            _ => serde_json::json!({"type": "json_object"}),
        }
    }
}
