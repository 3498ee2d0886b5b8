//! Deserialisers that accept what old `.env` files and TOML both produce: `"5"` and `5`,
//! `true`, `"1"`, `"yes"`; a secret made only of digits stays a string.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Loose {
    fn into_text(self) -> String {
        match self {
            Loose::Bool(b) => b.to_string(),
            Loose::Int(i) => i.to_string(),
            Loose::Float(f) => f.to_string(),
            Loose::Text(s) => s,
        }
    }
}

pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Loose::deserialize(d)?.into_text())
}

pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Loose>::deserialize(d)?
        .map(Loose::into_text)
        .filter(|s| !s.trim().is_empty()))
}

pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Loose::deserialize(d)? {
        Loose::Int(i) => Ok(i),
        Loose::Text(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| serde::de::Error::custom(format!("expected a whole number, got {s:?}"))),
        Loose::Float(f) if f.fract() == 0.0 => Ok(f as i64),
        other => Err(serde::de::Error::custom(format!(
            "expected a whole number, got {:?}",
            other.into_text()
        ))),
    }
}

pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Loose::deserialize(d)? {
        Loose::Bool(b) => Ok(b),
        Loose::Int(i) => Ok(i != 0),
        Loose::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" | "y" => Ok(true),
            "0" | "false" | "no" | "off" | "n" | "" => Ok(false),
            _ => Err(serde::de::Error::custom(format!("expected true or false, got {s:?}"))),
        },
        Loose::Float(f) => Ok(f != 0.0),
    }
}

pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match Loose::deserialize(d)? {
        Loose::Int(i) => Ok(i as f64),
        Loose::Float(f) => Ok(f),
        Loose::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
        Loose::Bool(b) => Err(serde::de::Error::custom(format!("expected a number, got {b}"))),
    }
}

/// A price row in the table: input and output USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, Deserialize)]
pub struct PriceRow {
    pub input: f64,
    pub output: f64,
}

/// A table setting: a TOML table, or a JSON object in one variable, as an `.env` can only
/// hold strings; `shape` describes the JSON expected, for the error.
fn table_or_json<'de, D, T>(d: D, shape: &str) -> Result<std::collections::BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Table<T> {
        Map(std::collections::BTreeMap<String, T>),
        Json(String),
    }
    match Table::<T>::deserialize(d)? {
        Table::Map(m) => Ok(m),
        Table::Json(s) => serde_json::from_str(&s).map_err(|e| serde::de::Error::custom(format!("{shape}: {e}"))),
    }
}

/// The price table (`LLM_PRICES='{"m": {"input": 0.15, "output": 0.6}}'` in an `.env`).
pub fn prices<'de, D: Deserializer<'de>>(d: D) -> Result<std::collections::BTreeMap<String, PriceRow>, D::Error> {
    table_or_json(
        d,
        "LLM_PRICES must be a JSON object of {\"model\": {\"input\": n, \"output\": n}}",
    )
}

/// The tier table (`TIERS='{"quality": {"cv_model": "gpt-4o", "contacts": 5}}'` in an
/// `.env`, replacing the shipped one).
pub fn tiers<'de, D: Deserializer<'de>>(d: D) -> Result<std::collections::BTreeMap<String, TierRow>, D::Error> {
    table_or_json(
        d,
        "TIERS must be a JSON object of {\"fast|balanced|quality\": {\"model\": ..., \"cv_model\": ..., \"contacts\": n}}",
    )
}

/// One tier of the table: a model for every stage, per-stage models, contacts to keep.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRow {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub extract_model: Option<String>,
    #[serde(default)]
    pub pain_points_model: Option<String>,
    #[serde(default)]
    pub research_model: Option<String>,
    #[serde(default)]
    pub fit_score_model: Option<String>,
    #[serde(default)]
    pub cv_model: Option<String>,
    #[serde(default)]
    pub cv_review_model: Option<String>,
    #[serde(default)]
    pub cover_letter_model: Option<String>,
    #[serde(default)]
    pub contacts: Option<i64>,
}
