//! Prompts live in versioned files (`config/prompts/<stage>.md`), loaded once at start-up,
//! not as string literals in code. A file is a system part and a user part separated by a
//! line `---user---`; `{{name}}` placeholders are filled at render time, and a placeholder
//! without a value is an error rather than a silent gap.

use std::collections::BTreeMap;
use std::path::Path;

use crate::domain::StageName;

/// One stage's prompt template.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// Every stage's prompt.
#[derive(Debug, Clone, Default)]
pub struct Prompts(BTreeMap<StageName, Prompt>);

const SEPARATOR: &str = "\n---user---\n";

/// The stages that ask a model (the publisher does not).
pub const LLM_STAGES: [StageName; 5] = [
    StageName::PainPoints,
    StageName::Research,
    StageName::FitScore,
    StageName::Cv,
    StageName::CoverLetter,
];

impl Prompts {
    /// Loads `<dir>/<stage>.md` for every LLM stage; names every missing or malformed file.
    pub fn load(dir: &Path) -> Result<Prompts, String> {
        let mut map = BTreeMap::new();
        let mut problems = Vec::new();
        for stage in LLM_STAGES {
            let path = dir.join(format!("{}.md", stage.as_str()));
            match std::fs::read_to_string(&path) {
                Ok(text) => match text.split_once(SEPARATOR) {
                    Some((system, user)) => {
                        map.insert(
                            stage,
                            Prompt {
                                system: system.trim().to_owned(),
                                user: user.trim().to_owned(),
                            },
                        );
                    }
                    None => problems.push(format!("{} has no '---user---' line", path.display())),
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

    /// The stage's prompt with every `{{name}}` replaced.
    pub fn render(&self, stage: StageName, values: &[(&str, &str)]) -> Result<Prompt, String> {
        let p = self
            .0
            .get(&stage)
            .ok_or_else(|| format!("no prompt for stage {stage}"))?;
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
        let p = prompts
            .render(
                StageName::PainPoints,
                &[("company", "Acme"), ("title", "Engineer"), ("posting", "Build things.")],
            )
            .unwrap();
        assert!(p.user.contains("Acme") && p.user.contains("Build things."));
        assert!(!p.system.contains("{{") && !p.user.contains("{{"));
    }

    #[test]
    fn missing_values_and_files_are_named() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prompts");
        let prompts = Prompts::load(&dir).unwrap();
        let err = prompts
            .render(StageName::PainPoints, &[("company", "Acme")])
            .unwrap_err();
        assert!(err.contains("{{title}}") || err.contains("{{posting}}"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = Prompts::load(empty.path()).unwrap_err();
        assert!(
            err.contains("pain_points.md") && err.contains("cover_letter.md"),
            "{err}"
        );
    }
}
