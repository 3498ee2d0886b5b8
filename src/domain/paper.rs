//! Paper sizes for the PDFs of a package (`PDF_PAGE_SIZE`): a setting and a rendering
//! parameter, so it lives below both.

/// Paper size (`PDF_PAGE_SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    /// 210 × 297 mm.
    A4,
    /// 8.5 × 11 in.
    Letter,
}

impl PageSize {
    /// Parses `a4` or `letter` (any case).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "a4" => Ok(PageSize::A4),
            "letter" => Ok(PageSize::Letter),
            other => Err(format!("PDF_PAGE_SIZE must be a4 or letter, got {other:?}")),
        }
    }

    /// The setting's value.
    pub fn as_str(self) -> &'static str {
        match self {
            PageSize::A4 => "a4",
            PageSize::Letter => "letter",
        }
    }

    /// Width and height in millimetres.
    pub fn millimetres(self) -> (f32, f32) {
        match self {
            PageSize::A4 => (210.0, 297.0),
            PageSize::Letter => (215.9, 279.4),
        }
    }
}
