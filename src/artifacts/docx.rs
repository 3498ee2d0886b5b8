//! Markdown → Word. Headings become Word heading styles, list items real bulleted
//! paragraphs (a numbering definition), `**bold**` and `*italic*` runs keep their emphasis.

use docx_rs::{
    AbstractNumbering, Docx, IndentLevel, Level, LevelJc, LevelText, NumberFormat, Numbering, NumberingId, Paragraph,
    Run, SpecialIndentType, Start, Style, StyleType,
};
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// Our bullet list's numbering id; docx-rs already defines a decimal list with id 1.
const BULLETS: usize = 7;

fn styles(doc: Docx) -> Docx {
    doc.add_style(
        Style::new("Heading1", StyleType::Paragraph)
            .name("Heading 1")
            .size(36)
            .bold(),
    )
    .add_style(
        Style::new("Heading2", StyleType::Paragraph)
            .name("Heading 2")
            .size(28)
            .bold(),
    )
    .add_style(
        Style::new("Heading3", StyleType::Paragraph)
            .name("Heading 3")
            .size(24)
            .bold(),
    )
    .add_abstract_numbering(
        AbstractNumbering::new(BULLETS).add_level(
            Level::new(
                0,
                Start::new(1),
                NumberFormat::new("bullet"),
                LevelText::new("•"),
                LevelJc::new("left"),
            )
            .indent(Some(720), Some(SpecialIndentType::Hanging(360)), None, None),
        ),
    )
    .add_numbering(Numbering::new(BULLETS, BULLETS))
}

/// Converts markdown to a `.docx` file's bytes.
pub fn markdown_to_docx(markdown: &str) -> Result<Vec<u8>, String> {
    let mut doc = styles(Docx::new());
    let mut paragraph: Option<Paragraph> = None;
    let (mut bold, mut italic) = (false, false);
    let mut in_item = false;
    let open = |style: Option<&str>, item: bool| {
        let mut p = Paragraph::new();
        if let Some(s) = style {
            p = p.style(s);
        }
        if item {
            p = p.numbering(NumberingId::new(BULLETS), IndentLevel::new(0));
        }
        p
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                let style = match level {
                    HeadingLevel::H1 => "Heading1",
                    HeadingLevel::H2 => "Heading2",
                    _ => "Heading3",
                };
                paragraph = Some(open(Some(style), false));
            }
            Event::Start(Tag::Item) => {
                in_item = true;
                paragraph = Some(open(None, true));
            }
            Event::Start(Tag::Paragraph) if !in_item => paragraph = Some(open(None, false)),
            Event::Start(Tag::Strong) => bold = true,
            Event::End(TagEnd::Strong) => bold = false,
            Event::Start(Tag::Emphasis) => italic = true,
            Event::End(TagEnd::Emphasis) => italic = false,
            Event::Text(t) | Event::Code(t) => {
                let mut run = Run::new().add_text(t.as_ref());
                if bold {
                    run = run.bold();
                }
                if italic {
                    run = run.italic();
                }
                let p = paragraph.take().unwrap_or_else(|| open(None, in_item));
                paragraph = Some(p.add_run(run));
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(p) = paragraph.take() {
                    paragraph = Some(p.add_run(Run::new().add_break(docx_rs::BreakType::TextWrapping)));
                }
            }
            Event::End(TagEnd::Heading(_)) | Event::End(TagEnd::Item) => {
                in_item = false;
                if let Some(p) = paragraph.take() {
                    doc = doc.add_paragraph(p);
                }
            }
            Event::End(TagEnd::Paragraph) if !in_item => {
                if let Some(p) = paragraph.take() {
                    doc = doc.add_paragraph(p);
                }
            }
            _ => {}
        }
    }
    if let Some(p) = paragraph.take() {
        doc = doc.add_paragraph(p);
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut buf)
        .map_err(|e| format!("could not build CV.docx: {e}"))?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut xml).unwrap();
        xml
    }

    #[test]
    fn headings_bullets_and_bold_survive() {
        let bytes =
            markdown_to_docx("# Maria\n\n## Experience\n\n- Cut latency **45%**\n- Led *5* engineers\n\nPlain text.\n")
                .unwrap();
        let xml = part(&bytes, "word/document.xml");
        assert!(
            xml.contains("Heading1") && xml.contains("Heading2"),
            "heading styles missing"
        );
        assert_eq!(xml.matches(r#"<w:numId w:val="7" />"#).count(), 2, "{xml}");
        let numbering = part(&bytes, "word/numbering.xml");
        let ours = &numbering[numbering.find(r#"w:abstractNumId="7""#).expect("bullet definition")..];
        let first_level = &ours[..ours.find("</w:lvl>").unwrap()];
        assert!(first_level.contains(r#"<w:numFmt w:val="bullet" />"#), "{numbering}");
        assert!(xml.contains("<w:b />") || xml.contains("<w:b/>"), "bold missing");
        assert!(xml.contains("Cut latency") && xml.contains("Plain text."));
    }
}
