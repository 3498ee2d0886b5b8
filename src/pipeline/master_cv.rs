//! The master CV, parsed from markdown into sections, entries (roles, degrees) and
//! bullets. Tailoring only re-orders and trims what is here; the fact check compares any
//! tailored CV against [`MasterCv::text`].

use crate::pipeline::text;

/// One entry of a section: a `###` heading (role, degree) with its lines and bullets.
#[derive(Debug, Clone, PartialEq)]
pub struct CvEntry {
    /// The `###` heading, verbatim (without the hashes); `None` for loose content.
    pub heading: Option<String>,
    /// Non-bullet lines under the heading, verbatim.
    pub lines: Vec<String>,
    /// Bullet texts, verbatim without the marker.
    pub bullets: Vec<String>,
}

/// A `##` section.
#[derive(Debug, Clone, PartialEq)]
pub struct CvSection {
    pub title: String,
    pub entries: Vec<CvEntry>,
}

/// A parsed master CV.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterCv {
    /// The whole markdown, as read.
    pub text: String,
    /// The `#` heading (candidate name), if any.
    pub name: Option<String>,
    /// Lines between the name and the first section (contact details, headline).
    pub header: Vec<String>,
    pub sections: Vec<CvSection>,
    /// `knowledge-base.md` next to the master CV, when there is one: more achievement
    /// records (same markdown shape) for STAR selection, and more evidence for the fact
    /// checks. Never copied into the CV by the offline tailoring.
    pub knowledge_base: Option<String>,
}

/// An achievement bullet with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Achievement {
    pub role: String,
    pub text: String,
    pub has_metric: bool,
}

impl MasterCv {
    /// Parses markdown; fails when the CV has no content to work with.
    pub fn parse(markdown: &str) -> Result<Self, String> {
        let mut cv = MasterCv {
            text: markdown.to_owned(),
            name: None,
            header: Vec::new(),
            sections: Vec::new(),
            knowledge_base: None,
        };
        for raw in markdown.lines() {
            let line = raw.trim_end();
            let trimmed = line.trim();
            if let Some(h) = trimmed.strip_prefix("### ") {
                let section = cv.current_section();
                section.entries.push(CvEntry {
                    heading: Some(h.trim().to_owned()),
                    lines: Vec::new(),
                    bullets: Vec::new(),
                });
            } else if let Some(h) = trimmed.strip_prefix("## ") {
                cv.sections.push(CvSection {
                    title: h.trim().to_owned(),
                    entries: Vec::new(),
                });
            } else if let Some(h) = trimmed.strip_prefix("# ") {
                if cv.name.is_none() && cv.sections.is_empty() {
                    cv.name = Some(h.trim().to_owned());
                } else {
                    cv.sections.push(CvSection {
                        title: h.trim().to_owned(),
                        entries: Vec::new(),
                    });
                }
            } else if trimmed.is_empty() {
                continue;
            } else if cv.sections.is_empty() {
                cv.header.push(trimmed.to_owned());
            } else {
                let is_bullet = text::strip_marker(trimmed).len() != trimmed.len()
                    && (trimmed.starts_with(['-', '*', '•'])
                        || trimmed.chars().next().is_some_and(|c| c.is_ascii_digit()));
                let section = cv.current_section();
                if section.entries.is_empty() {
                    section.entries.push(CvEntry {
                        heading: None,
                        lines: Vec::new(),
                        bullets: Vec::new(),
                    });
                }
                let entry = section.entries.last_mut().expect("entry exists");
                if is_bullet {
                    entry.bullets.push(text::strip_marker(trimmed).to_owned());
                } else {
                    entry.lines.push(trimmed.to_owned());
                }
            }
        }
        let bullets: usize = cv
            .sections
            .iter()
            .flat_map(|s| &s.entries)
            .map(|e| e.bullets.len() + e.lines.len())
            .sum();
        if bullets == 0 {
            return Err(
                "the master CV has no sections with content (expected markdown with '## Experience' and bullets)"
                    .into(),
            );
        }
        Ok(cv)
    }

    fn current_section(&mut self) -> &mut CvSection {
        if self.sections.is_empty() {
            self.sections.push(CvSection {
                title: String::new(),
                entries: Vec::new(),
            });
        }
        self.sections.last_mut().expect("section exists")
    }

    /// The candidate's name, or a neutral stand-in.
    pub fn candidate_name(&self) -> &str {
        self.name.as_deref().unwrap_or("The candidate")
    }

    /// True for sections holding roles (experience, employment, work history).
    pub fn is_experience(section: &CvSection) -> bool {
        let t = section.title.to_lowercase();
        ["experience", "employment", "work history", "career", "positions"]
            .iter()
            .any(|w| t.contains(w))
    }

    /// The CV with a knowledge base attached.
    pub fn with_knowledge_base(mut self, text: String) -> Self {
        self.knowledge_base = Some(text).filter(|t| !t.trim().is_empty());
        self
    }

    /// What the candidate's facts may be checked against: the master CV plus the knowledge
    /// base.
    pub fn evidence(&self) -> std::borrow::Cow<'_, str> {
        match &self.knowledge_base {
            Some(kb) => std::borrow::Cow::Owned(format!("{}\n\n{kb}", self.text)),
            None => std::borrow::Cow::Borrowed(&self.text),
        }
    }

    /// Achievement records for STAR selection: the experience bullets, then every bullet
    /// under a `###` heading of the knowledge base.
    pub fn star_records(&self) -> Vec<Achievement> {
        let mut records = self.achievements();
        if let Some(kb) = self.knowledge_base.as_deref().and_then(|t| MasterCv::parse(t).ok()) {
            records.extend(kb.sections.iter().flat_map(|s| &s.entries).flat_map(|e| {
                let role = e.heading.clone().unwrap_or_default();
                e.bullets.iter().map(move |b| Achievement {
                    role: role.clone(),
                    text: b.clone(),
                    has_metric: !text::metric_numbers(b).is_empty(),
                })
            }));
        }
        records
    }

    /// Every bullet of the experience sections, with its role heading.
    pub fn achievements(&self) -> Vec<Achievement> {
        self.sections
            .iter()
            .filter(|s| Self::is_experience(s))
            .flat_map(|s| &s.entries)
            .flat_map(|e| {
                let role = e.heading.clone().unwrap_or_default();
                e.bullets.iter().map(move |b| Achievement {
                    role: role.clone(),
                    text: b.clone(),
                    has_metric: !text::metric_numbers(b).is_empty(),
                })
            })
            .collect()
    }

    /// Role headings of the experience sections, most recent (first) first.
    pub fn roles(&self) -> Vec<String> {
        self.sections
            .iter()
            .filter(|s| Self::is_experience(s))
            .flat_map(|s| &s.entries)
            .filter_map(|e| e.heading.clone())
            .collect()
    }

    /// Years of experience spanned by the roles (earliest year to latest year or today).
    pub fn years_of_experience(&self, current_year: u32) -> u32 {
        let mut all = Vec::new();
        for role in self.roles() {
            let mut ys = text::years(&role);
            let lower = role.to_lowercase();
            if lower.contains("present") || lower.contains("current") || lower.contains("now") {
                ys.push(current_year);
            }
            all.extend(ys);
        }
        match (all.iter().min(), all.iter().max()) {
            (Some(a), Some(b)) => b.saturating_sub(*a),
            _ => 0,
        }
    }
}

/// Splits a role heading such as `Senior Engineer — Acme Corp (2020–2024)` into its title
/// and employer, best effort.
pub fn split_role(heading: &str) -> (String, String) {
    let without_dates = match heading.find('(') {
        Some(i) => &heading[..i],
        None => heading,
    };
    for sep in [" — ", " – ", " - ", " at ", " | ", ", "] {
        if let Some((a, b)) = without_dates.split_once(sep) {
            return (a.trim().to_owned(), b.trim().trim_end_matches(',').to_owned());
        }
    }
    (without_dates.trim().to_owned(), String::new())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_knowledge_base_adds_star_records_and_evidence() {
        let cv =
            MasterCv::parse("# Ana\n\n## Experience\n\n### Engineer, Acme (2020–2024)\n- Cut costs by 30%\n").unwrap();
        assert_eq!(cv.star_records().len(), 1);
        let cv = cv.with_knowledge_base("## Projects\n\n### Side project, Open source\n- Grew users to 5,000\n".into());
        let records = cv.star_records();
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[1].role, "Side project, Open source");
        assert!(records[1].has_metric);
        assert!(cv.evidence().contains("5,000") && cv.evidence().contains("30%"));
        assert!(!cv.text.contains("5,000"), "the CV itself is unchanged");
    }

    use super::*;

    const CV: &str = "# Ada Lovelace\nada@example.com\n\n## Summary\nEngineer.\n\n## Experience\n### Lead Engineer — Analytical Engines Ltd (2019–Present)\n- Cut costs 30%\n- Led 5 engineers\n\n### Engineer — Babbage & Co (2015–2019)\n- Built the mill\n\n## Education\n- BSc Mathematics, University of London (2011–2015)\n";

    #[test]
    fn parses_roles_bullets_and_name() {
        let cv = MasterCv::parse(CV).unwrap();
        assert_eq!(cv.candidate_name(), "Ada Lovelace");
        assert_eq!(cv.roles().len(), 2);
        let a = cv.achievements();
        assert_eq!(a.len(), 3);
        assert!(a[0].has_metric);
        assert!(!a[2].has_metric);
        assert_eq!(cv.years_of_experience(2026), 11);
    }

    #[test]
    fn splits_role_headings() {
        assert_eq!(
            split_role("Lead Engineer — Analytical Engines Ltd (2019–Present)"),
            ("Lead Engineer".to_owned(), "Analytical Engines Ltd".to_owned())
        );
    }

    #[test]
    fn empty_cv_is_rejected() {
        assert!(MasterCv::parse("# Name only\n").is_err());
    }
}
