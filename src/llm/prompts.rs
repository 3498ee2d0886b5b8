//! Prompts live in versioned files (`config/prompts/<name>.md`), loaded once at start-up,
//! not as string literals in code. A file is a system part and a user part separated by a
//! line `---user---`; `{{name}}` placeholders are filled at render time, and a placeholder
//! without a value is an error rather than a silent gap.

use std::collections::BTreeMap;
use std::path::Path;

/// One prompt template.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// Every prompt, by name (the file name without `.md`).
#[derive(Debug, Clone, Default)]
pub struct Prompts(BTreeMap<&'static str, Prompt>);

const SEPARATOR: &str = "\n---user---\n";

/// The prompts the stages use, with the shipped text of each (`config/prompts/<name>.md`,
/// compiled in so that the binary works from any directory; `PROMPTS_DIR` replaces them).
pub const SHIPPED: [(&str, &str); 9] = [
    ("extract", include_str!("../../config/prompts/extract.md")),
    ("pain_points", include_str!("../../config/prompts/pain_points.md")),
    ("research", include_str!("../../config/prompts/research.md")),
    ("outreach", include_str!("../../config/prompts/outreach.md")),
    ("fit_score", include_str!("../../config/prompts/fit_score.md")),
    ("star_selection", include_str!("../../config/prompts/star_selection.md")),
    ("cv", include_str!("../../config/prompts/cv.md")),
    ("cv_review", include_str!("../../config/prompts/cv_review.md")),
    ("cover_letter", include_str!("../../config/prompts/cover_letter.md")),
];

fn parse(name: &str, text: &str) -> Result<Prompt, String> {
    let text = text.replace("\r\n", "\n");
    let (system, user) = text
        .split_once(SEPARATOR)
        .ok_or_else(|| format!("{name}.md has no '---user---' line"))?;
    Ok(Prompt {
        system: system.trim().to_owned(),
        user: user.trim().to_owned(),
    })
}

impl Prompts {
    /// The prompts shipped with this version.
    pub fn shipped() -> Prompts {
        Prompts(
            SHIPPED
                .iter()
                .map(|(name, text)| (*name, parse(name, text).expect("shipped prompts are well-formed")))
                .collect(),
        )
    }

    /// Loads `<dir>/<name>.md` for every prompt; names every missing or malformed file.
    pub fn load(dir: &Path) -> Result<Prompts, String> {
        let mut map = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, _) in SHIPPED {
            let path = dir.join(format!("{name}.md"));
            match std::fs::read_to_string(&path) {
                Ok(text) => match parse(name, &text) {
                    Ok(p) => {
                        map.insert(name, p);
                    }
                    Err(e) => problems.push(format!("{}: {e}", dir.display())),
                },
                Err(e) => problems.push(format!("cannot read {}: {e}", path.display())),
            }
        }
        if problems.is_empty() {
            Ok(Prompts(map))
        } else {
            Err(problems.join("; "))
        }
    }

    /// The named prompt with every `{{name}}` replaced.
    pub fn render(&self, name: &str, values: &[(&str, &str)]) -> Result<Prompt, String> {
        let p = self.0.get(name).ok_or_else(|| format!("no prompt named {name:?}"))?;
        Ok(Prompt {
            system: fill(&p.system, values)?,
            user: fill(&p.user, values)?,
        })
    }
}

fn fill(template: &str, values: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "unclosed '{{' in a prompt".to_owned())?;
        let name = after[..end].trim();
        let value = values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("prompt placeholder {{{{{name}}}}} has no value"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_prompts_load_and_render() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts");
        let prompts = Prompts::load(&dir).unwrap();
        assert_eq!(prompts.0, Prompts::shipped().0, "the compiled-in copies are the files");
        let p = prompts
            .render(
                "pain_points",
                &[
                    ("company", "Acme"),
                    ("title", "Engineer"),
                    ("posting", "Build things."),
                    ("structure", "- Build things"),
                ],
            )
            .unwrap();
        assert!(p.user.contains("Acme") && p.user.contains("Build things."));
        assert!(!p.system.contains("{{") && !p.user.contains("{{"));
    }

    #[test]
    fn missing_values_and_files_are_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts");
        let prompts = Prompts::load(&dir).unwrap();
        let err = prompts.render("pain_points", &[("company", "Acme")]).unwrap_err();
        assert!(err.contains("{{title}}") || err.contains("{{posting}}"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Prompts::load(empty.path()).unwrap_err();
        assert!(
            err.contains("pain_points.md") && err.contains("cover_letter.md"),
            "{err}"
        );
    }
}
