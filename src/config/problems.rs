//! Collecting every configuration problem of a load, one line each, instead of stopping at
//! the first: an operator fixes the whole file in one go.

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    /// `value` when it is within `min..=max`; else records `NAME must be min–max, got v`
    /// and returns `min` so validation can go on.
    pub fn ranged(&mut self, name: &str, value: i64, min: i64, max: i64) -> i64 {
        if value < min || value > max {
            self.push(format!("{name} must be {min}–{max}, got {value}"));
            min
        } else {
            value
        }
    }

    /// `value` when it is a finite number ≥ 0; else records the problem and returns 0.
    pub fn non_negative(&mut self, name: &str, value: f64, unit: &str) -> f64 {
        if value.is_finite() && value >= 0.0 {
            value
        } else {
            self.push(format!("{name} must be a number ≥ 0{unit}, got {value}"));
            0.0
        }
    }

    /// Records a problem when a required text setting is blank.
    pub fn not_empty(&mut self, name: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(format!("{name} must not be empty"));
        }
    }

    /// `value` trimmed and without a trailing `/` when it is an http(s) URL; else records
    /// the problem.
    pub fn http_url(&mut self, name: &str, value: &str) -> String {
        let v = value.trim();
        if !(v.starts_with("http://") || v.starts_with("https://")) || v.len() < 10 {
            self.push(format!(
                "{name} must be an http(s) URL, got {:?}",
                super::mask_url_credentials(v)
            ));
        }
        v.trim_end_matches('/').to_owned()
    }
}

/// A setting that is unset when blank.
pub fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}

/// A secret setting, unset when blank.
pub fn secret(value: Option<String>) -> Option<super::Secret> {
    non_blank(value).map(super::Secret::new)
}

/// How a setting that may be unset is shown.
pub fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(unset)".into())
}

/// How a secret setting is shown: a mask, or `(unset)`.
pub fn masked(value: &Option<super::Secret>) -> String {
    value
        .as_ref()
        .map(super::Secret::masked)
        .unwrap_or_else(|| "(unset)".into())
}
