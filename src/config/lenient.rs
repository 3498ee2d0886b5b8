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
