//! Folder and file names: the old runner's folder rule, and the closed set of artifact
//! files a run can serve.

/// The old runner's folder rule: `/`, `\` and spaces become `_`, `,` and `.` are dropped,
/// cut to 80 characters, `unknown` if nothing is left. Control characters are dropped too,
/// and since `.` is dropped no name can be `..`.
pub fn folder_name(raw: &str) -> String {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '.') && !c.is_control())
        .map(|c| if matches!(c, '/' | '\\' | ' ') { '_' } else { c })
        .take(80)
        .collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// The seven files of an application package. Parsing a requested file name into this type
/// is the only way to reach the artifact store, so no path can escape it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactName {
    CvMarkdown,
    CvDocx,
    Dossier,
    CoverLetter,
    CvReview,
    CvPdf,
    CoverLetterPdf,
}

impl ArtifactName {
    /// All seven, in the order they are listed.
    pub const ALL: [ArtifactName; 7] = [
        ArtifactName::CvMarkdown,
        ArtifactName::CvDocx,
        ArtifactName::Dossier,
        ArtifactName::CoverLetter,
        ArtifactName::CvReview,
        ArtifactName::CvPdf,
        ArtifactName::CoverLetterPdf,
    ];

    /// The file name on disk.
    pub fn file_name(self) -> &'static str {
        match self {
            ArtifactName::CvMarkdown => "CV.md",
            ArtifactName::CvDocx => "CV.docx",
            ArtifactName::Dossier => "dossier.txt",
            ArtifactName::CoverLetter => "cover_letter.txt",
            ArtifactName::CvReview => "cv_review.md",
            ArtifactName::CvPdf => "CV.pdf",
            ArtifactName::CoverLetterPdf => "cover_letter.pdf",
        }
    }

    /// The key in the status response's `artifacts` object.
    pub fn url_key(self) -> &'static str {
        match self {
            ArtifactName::CvMarkdown => "cv_md_url",
            ArtifactName::CvDocx => "cv_docx_url",
            ArtifactName::Dossier => "dossier_txt_url",
            ArtifactName::CoverLetter => "cover_letter_txt_url",
            ArtifactName::CvReview => "cv_review_md_url",
            ArtifactName::CvPdf => "cv_pdf_url",
            ArtifactName::CoverLetterPdf => "cover_letter_pdf_url",
        }
    }

    /// The MIME type served.
    pub fn content_type(self) -> &'static str {
        match self {
            ArtifactName::CvMarkdown | ArtifactName::CvReview => "text/markdown; charset=utf-8",
            ArtifactName::CvDocx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ArtifactName::Dossier | ArtifactName::CoverLetter => "text/plain; charset=utf-8",
            ArtifactName::CvPdf | ArtifactName::CoverLetterPdf => "application/pdf",
        }
    }

    /// Parses an exact file name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.file_name() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_follow_the_old_rule() {
        assert_eq!(folder_name("Acme, Inc."), "Acme_Inc");
        assert_eq!(folder_name("R&D / Ops\\Team"), "R&D___Ops_Team");
        assert_eq!(folder_name(""), "unknown");
        assert_eq!(folder_name(".."), "unknown");
        assert_eq!(folder_name(&"x".repeat(100)).len(), 80);
    }

    #[test]
    fn only_known_artifact_names_parse() {
        assert_eq!(ArtifactName::parse("CV.docx"), Some(ArtifactName::CvDocx));
        for bad in ["../CV.md", "cv.md", "/etc/passwd", "CV.md/", "%2e%2e"] {
            assert_eq!(ArtifactName::parse(bad), None, "{bad}");
        }
    }
}
