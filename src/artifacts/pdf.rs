//! Markdown and plain text → PDF, in-process: employers and applicant-tracking systems
//! mostly want a PDF, and rendering one must need no browser, service, network or system
//! font. Liberation Sans (SIL OFL 1.1, `assets/fonts/`) is compiled into the binary and
//! embedded (subset) in every file. Text is real text written in reading order, one line at
//! a time, so `pdftotext` and an ATS read headings, roles and bullets as written; e-mail
//! addresses and profile URLs become link annotations.

use printpdf::{
    Actions, BorderArray, IndirectFontRef, LinkAnnotation, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference,
    Rect,
};
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

pub use crate::domain::PageSize;

const REGULAR: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
const BOLD: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf");

/// What a block of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Title,
    Section,
    Role,
    Paragraph,
    Bullet,
}

impl Kind {
    /// Font size (pt), space before (mm), bold.
    fn style(self) -> (f32, f32, bool) {
        match self {
            Kind::Title => (18.0, 0.0, true),
            Kind::Section => (12.5, 4.5, true),
            Kind::Role => (10.5, 3.0, true),
            Kind::Paragraph => (10.0, 1.8, false),
            Kind::Bullet => (10.0, 0.9, false),
        }
    }
}

/// A run of text with one weight.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    text: String,
    bold: bool,
}

/// A block and its lines (a hard line break starts a new line).
#[derive(Debug, Clone, PartialEq)]
struct Block {
    kind: Kind,
    lines: Vec<Vec<Span>>,
}

/// The blocks of a markdown CV.
fn markdown_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut current: Option<Block> = None;
    let (mut bold, mut in_item) = (false, false);
    let start = |kind| Block {
        kind,
        lines: vec![Vec::new()],
    };
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(start(match level {
                    HeadingLevel::H1 => Kind::Title,
                    HeadingLevel::H2 => Kind::Section,
                    _ => Kind::Role,
                }))
            }
            Event::Start(Tag::Item) => {
                in_item = true;
                current = Some(start(Kind::Bullet));
            }
            Event::Start(Tag::Paragraph) if !in_item => current = Some(start(Kind::Paragraph)),
            Event::Start(Tag::Strong) => bold = true,
            Event::End(TagEnd::Strong) => bold = false,
            Event::Text(t) | Event::Code(t) => {
                let block = current.get_or_insert_with(|| start(if in_item { Kind::Bullet } else { Kind::Paragraph }));
                if let Some(line) = block.lines.last_mut() {
                    line.push(Span {
                        text: t.to_string(),
                        bold,
                    });
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(b) = current.as_mut() {
                    b.lines.push(Vec::new());
                }
            }
            Event::End(TagEnd::Heading(_) | TagEnd::Item) => {
                in_item = false;
                blocks.extend(current.take());
            }
            Event::End(TagEnd::Paragraph) if !in_item => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks.extend(current);
    blocks
}

/// The blocks of a plain-text letter: paragraphs at blank lines, each line kept (greeting
/// and sign-off lines stay lines).
fn text_blocks(text: &str) -> Vec<Block> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Block {
            kind: Kind::Paragraph,
            lines: p
                .lines()
                .map(|l| {
                    vec![Span {
                        text: l.trim().to_owned(),
                        bold: false,
                    }]
                })
                .collect(),
        })
        .collect()
}

/// Glyph advances of one face, for measuring text.
struct Metrics {
    face: ttf_parser::Face<'static>,
}

impl Metrics {
    fn new(bytes: &'static [u8]) -> Result<Self, String> {
        ttf_parser::Face::parse(bytes, 0)
            .map(|face| Self { face })
            .map_err(|e| format!("the embedded font cannot be read: {e}"))
    }

    /// Width of `text` at `size` pt, in mm.
    fn width(&self, text: &str, size: f32) -> f32 {
        let units = f32::from(self.face.units_per_em());
        let advance: f32 = text
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .map_or(units / 2.0, f32::from)
            })
            .sum();
        advance / units * size * 0.352_778
    }
}

/// A word with its weight, for wrapping.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    bold: bool,
}

/// The page being filled.
struct Writer {
    doc: PdfDocumentReference,
    layer: PdfLayerReference,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    metrics: (Metrics, Metrics),
    size: (f32, f32),
    margin: f32,
    y: f32,
    pages: usize,
}

/// Left margin of bullet text, and of the bullet itself, from the margin (mm).
const BULLET_TEXT: f32 = 5.0;
const BULLET_MARK: f32 = 1.2;

impl Writer {
    fn new(title: &str, page: PageSize) -> Result<Self, String> {
        let (w, h) = page.millimetres();
        let (doc, page1, layer1) = PdfDocument::new(title, Mm(w), Mm(h), "text");
        let doc = doc.with_creator("job-runner").with_producer("job-runner");
        let regular = doc
            .add_external_font(REGULAR)
            .map_err(|e| format!("cannot embed the regular font: {e}"))?;
        let bold = doc
            .add_external_font(BOLD)
            .map_err(|e| format!("cannot embed the bold font: {e}"))?;
        let layer = doc.get_page(page1).get_layer(layer1);
        let margin = 18.0;
        Ok(Self {
            doc,
            layer,
            regular,
            bold,
            metrics: (Metrics::new(REGULAR)?, Metrics::new(BOLD)?),
            size: (w, h),
            margin,
            y: h - margin,
            pages: 1,
        })
    }

    fn measure(&self, text: &str, bold: bool, size: f32) -> f32 {
        if bold { &self.metrics.1 } else { &self.metrics.0 }.width(text, size)
    }

    fn new_page(&mut self) {
        let (page, layer) = self.doc.add_page(Mm(self.size.0), Mm(self.size.1), "text");
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.y = self.size.1 - self.margin;
        self.pages += 1;
    }

    /// Moves down by `height` mm, starting a page when the line would not fit.
    fn advance(&mut self, height: f32) {
        if self.y - height < self.margin {
            self.new_page();
        }
        self.y -= height;
    }

    /// Writes one block: wrapped lines, a bullet mark, links.
    fn block(&mut self, block: &Block, first: bool) {
        let (size, before, heading_bold) = block.kind.style();
        let line_height = size * 0.352_778 * 1.32;
        let left = self.margin + if block.kind == Kind::Bullet { BULLET_TEXT } else { 0.0 };
        let width = self.size.0 - self.margin - left;
        if !first {
            // Keep a heading with the line after it.
            let keep = if matches!(block.kind, Kind::Section | Kind::Role) {
                3.0 * line_height
            } else {
                0.0
            };
            if self.y - before - keep < self.margin {
                self.new_page();
            } else {
                self.y -= before;
            }
        }
        let mut first_line = true;
        for line in &block.lines {
            let words: Vec<Word> = line
                .iter()
                .flat_map(|span| {
                    span.text.split_whitespace().map(move |w| Word {
                        text: w.to_owned(),
                        bold: span.bold || heading_bold,
                    })
                })
                .collect();
            if words.is_empty() {
                continue;
            }
            for row in self.wrap(&words, size, width) {
                self.advance(line_height);
                if first_line && block.kind == Kind::Bullet {
                    self.layer
                        .use_text("•", size, Mm(self.margin + BULLET_MARK), Mm(self.y), &self.regular);
                }
                first_line = false;
                self.row(&row, size, left);
            }
        }
        if block.kind == Kind::Section {
            // A thin rule under a section heading.
            let y = self.y - 1.2;
            let line = printpdf::Line {
                points: vec![
                    (printpdf::Point::new(Mm(self.margin), Mm(y)), false),
                    (printpdf::Point::new(Mm(self.size.0 - self.margin), Mm(y)), false),
                ],
                is_closed: false,
            };
            self.layer.set_outline_thickness(0.4);
            self.layer.add_line(line);
            self.y -= 1.6;
        }
    }

    /// Splits words into rows no wider than `width`.
    fn wrap(&self, words: &[Word], size: f32, width: f32) -> Vec<Vec<Word>> {
        let space = self.measure(" ", false, size);
        let mut rows: Vec<Vec<Word>> = Vec::new();
        let mut row: Vec<Word> = Vec::new();
        let mut used = 0.0;
        for w in words {
            let wide = self.measure(&w.text, w.bold, size);
            let needed = if row.is_empty() { wide } else { used + space + wide };
            if needed > width && !row.is_empty() {
                rows.push(std::mem::take(&mut row));
                used = wide;
            } else {
                used = needed;
            }
            row.push(w.clone());
        }
        if !row.is_empty() {
            rows.push(row);
        }
        rows
    }

    /// Writes one row: runs of one weight, each at its measured position; links on e-mail
    /// addresses and URLs.
    fn row(&mut self, row: &[Word], size: f32, left: f32) {
        let space = self.measure(" ", false, size);
        let mut x = left;
        let mut i = 0;
        while i < row.len() {
            let bold = row[i].bold;
            let mut j = i;
            while j < row.len() && row[j].bold == bold {
                j += 1;
            }
            let text = row[i..j].iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let font = if bold { &self.bold } else { &self.regular };
            self.layer.use_text(text.as_str(), size, Mm(x), Mm(self.y), font);
            let mut wx = x;
            for w in &row[i..j] {
                let ww = self.measure(&w.text, bold, size);
                if let Some(target) = link_target(&w.text) {
                    self.layer.add_link_annotation(LinkAnnotation::new(
                        Rect::new(Mm(wx), Mm(self.y - 1.0), Mm(wx + ww), Mm(self.y + size * 0.3)),
                        Some(BorderArray::Solid([0.0, 0.0, 0.0])),
                        None,
                        Actions::uri(target),
                        None,
                    ));
                }
                wx += ww + space;
            }
            x += self.measure(&text, bold, size) + space;
            i = j;
        }
    }

    fn finish(self) -> Result<(Vec<u8>, usize), String> {
        let pages = self.pages;
        self.doc
            .save_to_bytes()
            .map(|b| (b, pages))
            .map_err(|e| format!("cannot write the PDF: {e}"))
    }
}

/// Where a word links to: `mailto:` for an e-mail address, `https://` for a URL or a
/// profile address (`linkedin.com/in/…`, `github.com/…`); `None` for other words.
pub fn link_target(word: &str) -> Option<String> {
    let w = word.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '<' | '>' | '"' | '\''));
    let w = w.strip_suffix('.').unwrap_or(w);
    if w.is_empty() || w.chars().any(char::is_whitespace) {
        return None;
    }
    if let Some((user, domain)) = w.split_once('@') {
        let ok = !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || "@._+-".contains(c));
        return ok.then(|| format!("mailto:{w}"));
    }
    if w.starts_with("https://") || w.starts_with("http://") {
        return Some(w.to_owned());
    }
    let host = w.split('/').next().unwrap_or("");
    let profile = ["linkedin.com", "www.linkedin.com", "github.com", "gitlab.com"];
    (profile.contains(&host) && w.len() > host.len() + 1).then(|| format!("https://{w}"))
}

/// A rendered PDF.
#[derive(Debug)]
pub struct Pdf {
    /// The file.
    pub bytes: Vec<u8>,
    /// Pages written.
    pub pages: usize,
}

fn render(title: &str, blocks: &[Block], page: PageSize) -> Result<Pdf, String> {
    let mut w = Writer::new(title, page)?;
    for (i, b) in blocks.iter().enumerate() {
        w.block(b, i == 0);
    }
    let (bytes, pages) = w.finish()?;
    Ok(Pdf { bytes, pages })
}

/// Renders a markdown CV: `#` the name, `##` sections with a rule, `###` roles, lists as
/// bullets, `**bold**` in bold.
pub fn markdown_to_pdf(title: &str, markdown: &str, page: PageSize) -> Result<Pdf, String> {
    render(title, &markdown_blocks(markdown), page)
}

/// The sender's lines at the top of a letter: the name and the contact line of the CV the
/// letter goes with (its `#` heading and the first line after it), and the date.
#[derive(Debug, Clone, PartialEq)]
pub struct Letterhead {
    pub name: String,
    pub contact: Option<String>,
    pub date: String,
}

impl Letterhead {
    /// The letterhead a markdown CV gives: `None` when it has no `#` name.
    pub fn from_cv(markdown: &str, date: String) -> Option<Self> {
        let blocks = markdown_blocks(markdown);
        let text = |line: &[Span]| {
            line.iter()
                .map(|s| s.text.as_str())
                .collect::<String>()
                .trim()
                .to_owned()
        };
        let name_at = blocks.iter().position(|b| b.kind == Kind::Title)?;
        let name = text(blocks[name_at].lines.first()?);
        let contact = blocks
            .get(name_at + 1)
            .filter(|b| b.kind == Kind::Paragraph)
            .and_then(|b| b.lines.first())
            .map(|l| text(l))
            .filter(|c| !c.is_empty() && c.chars().count() <= 160);
        (!name.is_empty()).then_some(Self { name, contact, date })
    }
}

/// Renders a plain-text letter, its paragraphs and lines as written, under the sender's
/// letterhead (name in bold, contact line, date) when there is one.
pub fn letter_to_pdf(title: &str, head: Option<&Letterhead>, text: &str, page: PageSize) -> Result<Pdf, String> {
    let mut blocks = Vec::new();
    if let Some(h) = head {
        let line = |t: &str, bold| {
            vec![Span {
                text: t.to_owned(),
                bold,
            }]
        };
        let mut lines = vec![line(&h.name, true)];
        lines.extend(h.contact.as_deref().map(|c| line(c, false)));
        blocks.push(Block {
            kind: Kind::Paragraph,
            lines,
        });
        blocks.push(Block {
            kind: Kind::Paragraph,
            lines: vec![line(&h.date, false)],
        });
    }
    blocks.extend(text_blocks(text));
    render(title, &blocks, page)
}

/// Renders a small CV and checks the result is a PDF: the start-up self-test behind
/// `/health`'s `pdf_service_status`.
pub fn self_test(page: PageSize) -> Result<(), String> {
    let pdf = markdown_to_pdf(
        "self-test",
        "# Name\n\n## Experience\n\n### Role — Company (2020–Present)\n\n- A bullet with a link: name@example.com\n",
        page,
    )?;
    if pdf.bytes.starts_with(b"%PDF-") && pdf.pages == 1 {
        Ok(())
    } else {
        Err("the self-test render did not produce a one-page PDF".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_headings_roles_bullets_and_lines() {
        let blocks = markdown_blocks(
            "# Maria\n\nBerlin · maria@example.com\nBackend engineer\n\n## Experience\n\n### Staff Engineer — X (2021–Present)\n\n- Cut latency **45%**\n- Led 5 engineers\n",
        );
        let kinds: Vec<Kind> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Title,
                Kind::Paragraph,
                Kind::Section,
                Kind::Role,
                Kind::Bullet,
                Kind::Bullet
            ]
        );
        assert_eq!(blocks[1].lines.len(), 2, "the soft break keeps the header's two lines");
        assert!(blocks[4].lines[0].iter().any(|s| s.bold && s.text == "45%"));
    }

    #[test]
    fn the_letterhead_comes_from_the_cvs_name_and_contact_line() {
        let cv = "# Maria Keller\n\nBerlin · maria@example.com\nBackend engineer\n\n## Experience\n";
        let h = Letterhead::from_cv(cv, "2 December 2026".into()).unwrap();
        assert_eq!(h.name, "Maria Keller");
        assert_eq!(h.contact.as_deref(), Some("Berlin · maria@example.com"));
        assert!(Letterhead::from_cv("## Experience\n", String::new()).is_none());
        let pdf = letter_to_pdf("Cover letter", Some(&h), "Dear team,\n\nText.\n", PageSize::A4).unwrap();
        assert_eq!(pdf.pages, 1);
    }

    #[test]
    fn letters_keep_paragraphs_and_lines() {
        let blocks = text_blocks("Dear Hiring Team,\n\nFirst paragraph\ncontinues.\n\nKind regards,\nMaria Keller\n");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[2].lines.len(), 2);
    }

    #[test]
    fn e_mail_addresses_and_profiles_link_and_other_words_do_not() {
        assert_eq!(
            link_target("maria@example.com,").as_deref(),
            Some("mailto:maria@example.com")
        );
        assert_eq!(
            link_target("linkedin.com/in/maria").as_deref(),
            Some("https://linkedin.com/in/maria")
        );
        assert_eq!(link_target("https://x.org/a.").as_deref(), Some("https://x.org/a"));
        for plain in ["45%", "Rust", "linkedin.com", "a@b", "@handle", "C#/.NET"] {
            assert_eq!(link_target(plain), None, "{plain}");
        }
    }

    #[test]
    fn long_text_wraps_and_breaks_pages() {
        let long = (0..400)
            .map(|i| format!("- Bullet number {i} with some words to wrap across the line\n"))
            .collect::<String>();
        let pdf = markdown_to_pdf("t", &format!("# T\n\n## S\n\n{long}"), PageSize::Letter).unwrap();
        assert!(pdf.pages >= 5, "{} pages", pdf.pages);
        assert!(pdf.bytes.starts_with(b"%PDF-"));
        assert!(self_test(PageSize::A4).is_ok());
        assert!(PageSize::parse("A4").is_ok() && PageSize::parse("legal").is_err());
    }
}
