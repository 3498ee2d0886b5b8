//! The price table: USD per million input and output tokens, per model. A model missing
//! from the table has an unknown cost (recorded as unknown, never as zero).

use std::collections::BTreeMap;

/// Prices of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Model → price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable(BTreeMap<String, Price>);

impl PriceTable {
    /// A table from `(model, input, output)` rows.
    pub fn new(rows: &[(&str, f64, f64)]) -> Self {
        Self::from_rows(rows.iter().copied())
    }

    /// A table from any iterator of `(model, input, output)` rows.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, f64, f64)>) -> Self {
        Self(
            rows.into_iter()
                .map(|(m, i, o)| {
                    (
                        m.to_owned(),
                        Price {
                            input_per_million: i,
                            output_per_million: o,
                        },
                    )
                })
                .collect(),
        )
    }

    /// Number of models with a price.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no model has a price.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The price of a model, if known.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.0.get(model).copied()
    }

    /// Cost of a call in USD, or `None` when the model's price is unknown.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        let p = self.0.get(model)?;
        Some(input_tokens as f64 * p.input_per_million / 1e6 + output_tokens as f64 * p.output_per_million / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_matches_hand_computed_values_and_unknown_stays_unknown() {
        let t = PriceTable::new(&[("gpt-4o-mini", 0.15, 0.60), ("claude-3-5-haiku", 0.80, 4.00)]);
        // 1,200 in × $0.15/M + 300 out × $0.60/M = 0.00018 + 0.00018 = 0.00036
        assert!((t.cost("gpt-4o-mini", 1_200, 300).unwrap() - 0.00036).abs() < 1e-12);
        // 10,000 × $0.80/M + 2,000 × $4/M = 0.008 + 0.008 = 0.016
        assert!((t.cost("claude-3-5-haiku", 10_000, 2_000).unwrap() - 0.016).abs() < 1e-12);
        assert_eq!(t.cost("some-local-model", 10, 10), None);
    }
}
