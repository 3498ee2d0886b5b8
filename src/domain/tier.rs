//! Processing tiers, as the dashboard sends them (`tier`, `processing_tier`): `fast`,
//! `balanced`, `quality`, the legacy letters `A` (quality), `B` (balanced), `C`, `D` (fast)
//! and `auto` (chosen by the fit score: ≥ 85 A, ≥ 70 B, ≥ 50 C, else D). The tier is
//! validated and kept with the run; what it changes belongs to the operations work.

use std::fmt;

/// A requested tier, case-insensitive on input, stored in its canonical spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Fast,
    Balanced,
    Quality,
    A,
    B,
    C,
    D,
    Auto,
}

impl Tier {
    /// Every tier, in the order error messages list them.
    pub const ALL: [Tier; 8] = [
        Tier::Fast,
        Tier::Balanced,
        Tier::Quality,
        Tier::A,
        Tier::B,
        Tier::C,
        Tier::D,
        Tier::Auto,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Fast => "fast",
            Tier::Balanced => "balanced",
            Tier::Quality => "quality",
            Tier::A => "A",
            Tier::B => "B",
            Tier::C => "C",
            Tier::D => "D",
            Tier::Auto => "auto",
        }
    }

    /// Parses a tier (case-insensitive); the error names every allowed value.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                format!(
                    "tier must be one of {}, got {:?}",
                    Tier::ALL.map(Tier::as_str).join(", "),
                    super::untrusted::clip(raw, 40)
                )
            })
    }

    /// The class whose models a tier uses: `fast`, `balanced` or `quality` (A = quality,
    /// B = balanced, C and D = fast); `None` for `auto`, which is decided by the fit score.
    pub fn class_name(self) -> Option<&'static str> {
        match self {
            Tier::Fast | Tier::C | Tier::D => Some("fast"),
            Tier::Balanced | Tier::B => Some("balanced"),
            Tier::Quality | Tier::A => Some("quality"),
            Tier::Auto => None,
        }
    }

    /// The contacts a legacy letter keeps (A 5, B 3, C 2, D 1: the package always has
    /// someone to address); `None` for the named tiers, whose table says.
    pub fn letter_contacts(self) -> Option<usize> {
        match self {
            Tier::A => Some(5),
            Tier::B => Some(3),
            Tier::C => Some(2),
            Tier::D => Some(1),
            _ => None,
        }
    }

    /// The legacy letter of `auto` for a fit score.
    pub fn for_fit_score(score: u32) -> Tier {
        match score {
            85.. => Tier::A,
            70..=84 => Tier::B,
            50..=69 => Tier::C,
            _ => Tier::D,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_in_any_case_and_bad_ones_are_named() {
        assert_eq!(Tier::parse("Quality").unwrap(), Tier::Quality);
        assert_eq!(Tier::parse(" b ").unwrap(), Tier::B);
        assert_eq!(Tier::parse("AUTO").unwrap(), Tier::Auto);
        let err = Tier::parse("premium").unwrap_err();
        assert!(
            err.contains("fast, balanced, quality, A, B, C, D, auto") && err.contains("premium"),
            "{err}"
        );
        assert_eq!(Tier::for_fit_score(90), Tier::A);
        assert_eq!(Tier::for_fit_score(70), Tier::B);
        assert_eq!(Tier::for_fit_score(50), Tier::C);
        assert_eq!(Tier::for_fit_score(49), Tier::D);
    }
}
